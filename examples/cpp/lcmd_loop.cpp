// lcmd-cpp-loop: a C++17 host loop over liblcmd with small RAII wrappers.
//
// Writes the demo teacher and a few demo shards into a temporary folder, opens the
// pipeline, streams batches, takes a few distillation steps, then samples 4 LCM steps
// with the student and decodes the latents. Exits 0 when every loss and output is finite.
//
//   lcmd-cpp-loop [--steps N] [--threads N] [--keep DIR]
//
// --keep DIR writes into DIR (kept) instead of a temporary folder that is removed.
#include <lcmd/lcmd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

namespace fs = std::filesystem;

namespace lcmd {

// An lcmd_status other than LCMD_OK, with the library's message.
class error : public std::runtime_error {
public:
    error(lcmd_status status, const std::string &what)
        : std::runtime_error(what + ": " + lcmd_status_string(status) + ": " + lcmd_last_error()),
          status_(status) {}
    lcmd_status status() const noexcept { return status_; }

private:
    lcmd_status status_;
};

inline void check(lcmd_status st, const char *what) {
    if (st != LCMD_OK) throw error(st, what);
}

// unique_ptr with the library's destroy function as the deleter.
template <typename T, void (*Destroy)(T *)>
struct deleter {
    void operator()(T *p) const noexcept { Destroy(p); }
};
template <typename T, void (*Destroy)(T *)>
using handle = std::unique_ptr<T, deleter<T, Destroy>>;

using context = handle<lcmd_context, lcmd_context_destroy>;
using pipeline = handle<lcmd_pipeline, lcmd_pipeline_destroy>;
using dataset = handle<lcmd_dataset, lcmd_dataset_destroy>;
using batch = handle<lcmd_batch, lcmd_batch_destroy>;
using trainer = handle<lcmd_trainer, lcmd_trainer_destroy>;
using lcm_scheduler = handle<lcmd_lcm_scheduler, lcmd_lcm_scheduler_destroy>;

// Calls a create function `f(args..., T **out)` and wraps its result.
template <typename H, typename F, typename... Args>
H create(const char *what, F f, Args &&...args) {
    typename H::pointer out = nullptr;
    check(f(std::forward<Args>(args)..., &out), what);
    return H(out);
}

// A folder removed (recursively) when it goes out of scope, unless kept.
class work_dir {
public:
    explicit work_dir(const std::string &keep) {
        if (!keep.empty()) {
            path_ = keep;
            keep_ = true;
            fs::create_directories(path_);
            return;
        }
        std::string tmpl = (fs::temp_directory_path() / "lcmd-cpp-loop-XXXXXX").string();
        std::vector<char> buf(tmpl.begin(), tmpl.end());
        buf.push_back('\0');
        if (!mkdtemp(buf.data())) throw std::runtime_error("mkdtemp " + tmpl + ": " + std::strerror(errno));
        path_ = buf.data();
    }
    ~work_dir() {
        std::error_code ec;
        if (!keep_) fs::remove_all(path_, ec);
    }
    work_dir(const work_dir &) = delete;
    work_dir &operator=(const work_dir &) = delete;
    const fs::path &path() const { return path_; }

private:
    fs::path path_;
    bool keep_ = false;
};

template <typename T>
void init(T &opts, lcmd_status (*f)(T *)) {
    check(f(&opts), "options init");
}

} // namespace lcmd

static bool all_finite(const std::vector<float> &v) {
    return std::all_of(v.begin(), v.end(), [](float x) { return std::isfinite(x); });
}

static int run(int steps, int threads, const std::string &keep) {
    lcmd::work_dir dir(keep);
    const std::string teacher_dir = (dir.path() / "teacher").string();
    const std::string shards_dir = (dir.path() / "shards").string();
    std::printf("work folder %s\n", dir.path().c_str());

    lcmd_context_options copts;
    lcmd::init(copts, lcmd_context_options_init);
    copts.num_threads = threads;
    copts.log_level = LCMD_LOG_WARN;
    auto ctx = lcmd::create<lcmd::context>("lcmd_context_create", lcmd_context_create, &copts);

    // the demo teacher and shards
    lcmd::check(lcmd_demo_write_teacher(ctx.get(), teacher_dir.c_str(), nullptr), "lcmd_demo_write_teacher");
    lcmd_demo_data_options dopts;
    lcmd::init(dopts, lcmd_demo_data_options_init);
    dopts.num_shards = 1;
    dopts.samples_per_shard = 2 * (steps + 1);
    dopts.resolution = 32;
    lcmd::check(lcmd_demo_write_shards(shards_dir.c_str(), &dopts), "lcmd_demo_write_shards");

    auto pipe = lcmd::create<lcmd::pipeline>("lcmd_pipeline_open", lcmd_pipeline_open, ctx.get(),
                                             teacher_dir.c_str(), nullptr);
    std::printf("pipeline %s\n", lcmd_pipeline_class_name(pipe.get()));
    lcmd_scheduler_config sched_cfg;
    lcmd::init(sched_cfg, lcmd_scheduler_config_init);
    lcmd::check(lcmd_pipeline_scheduler_config(pipe.get(), &sched_cfg), "lcmd_pipeline_scheduler_config");
    lcmd_tokenizer *tok = lcmd_pipeline_tokenizer(pipe.get(), 0);   // owned by the pipeline
    lcmd_text_encoder *te = lcmd_pipeline_text_encoder(pipe.get(), 0);
    lcmd_vae *vae = lcmd_pipeline_vae(pipe.get());

    // dataset -> trainer steps
    lcmd_dataset_options ds_opts;
    lcmd::init(ds_opts, lcmd_dataset_options_init);
    ds_opts.shards = shards_dir.c_str();
    ds_opts.resolution = 32;
    ds_opts.batch_size = 2;
    ds_opts.shuffle_buffer = 0;
    auto ds = lcmd::create<lcmd::dataset>("lcmd_dataset_create", lcmd_dataset_create, ctx.get(), &ds_opts);

    lcmd_trainer_options topts;
    lcmd::init(topts, lcmd_trainer_options_init);
    topts.learning_rate = 1e-4;
    auto tr = lcmd::create<lcmd::trainer>("lcmd_trainer_create", lcmd_trainer_create, ctx.get(),
                                          lcmd_pipeline_unet(pipe.get()), &sched_cfg, &topts);
    lcmd::check(lcmd_trainer_set_encoders(tr.get(), tok, te, vae), "lcmd_trainer_set_encoders");

    for (int i = 0; i < steps; i++) {
        auto b = lcmd::create<lcmd::batch>("lcmd_dataset_next", lcmd_dataset_next, ds.get());
        lcmd_step_report rep;
        lcmd::init(rep, lcmd_step_report_init);
        lcmd::check(lcmd_trainer_step_dataset(tr.get(), b.get(), &rep), "lcmd_trainer_step_dataset");
        std::printf("step %lld: loss %.6f grad_norm %.4f lr %g  (\"%s\", ...)\n", (long long)rep.step, rep.loss,
                    rep.grad_norm, rep.lr, lcmd_batch_caption(b.get(), 0));
        if (!std::isfinite(rep.loss)) {
            std::fprintf(stderr, "non-finite loss at step %d\n", i);
            return 1;
        }
    }

    // 4-step LCM sampling with the student
    lcmd_unet *student = lcmd_trainer_student(tr.get());
    lcmd_unet_info uinfo;
    lcmd::init(uinfo, lcmd_unet_info_init);
    lcmd::check(lcmd_unet_get_info(student, &uinfo), "lcmd_unet_get_info");
    lcmd_vae_info vinfo;
    lcmd::init(vinfo, lcmd_vae_info_init);
    lcmd::check(lcmd_vae_get_info(vae, &vinfo), "lcmd_vae_get_info");
    const int64_t side = 32 / vinfo.downsample_factor;
    const size_t per_sample = (size_t)uinfo.in_channels * side * side;

    const char *caption = "a small red circle on a blue background";
    std::vector<int32_t> ids(lcmd_tokenizer_model_max_length(tok));
    lcmd::check(lcmd_tokenizer_encode_padded(tok, &caption, 1, ids.data()), "lcmd_tokenizer_encode_padded");
    lcmd_text_encoder_info tinfo;
    lcmd::init(tinfo, lcmd_text_encoder_info_init);
    lcmd::check(lcmd_text_encoder_get_info(te, &tinfo), "lcmd_text_encoder_get_info");
    std::vector<float> embeds(ids.size() * tinfo.hidden_size);
    lcmd_text_encoder_outputs touts;
    lcmd::init(touts, lcmd_text_encoder_outputs_init);
    touts.last_hidden_state = embeds.data();
    lcmd::check(lcmd_text_encoder_forward(te, ids.data(), 1, (int64_t)ids.size(), &touts), "lcmd_text_encoder_forward");
    const float w = 8.0f - 1.0f;
    std::vector<float> w_embed(uinfo.time_cond_proj_dim);
    lcmd::check(lcmd_guidance_scale_embedding(&w, 1, uinfo.time_cond_proj_dim, w_embed.data()),
                "lcmd_guidance_scale_embedding");

    auto sched = lcmd::create<lcmd::lcm_scheduler>("lcmd_lcm_scheduler_create", lcmd_lcm_scheduler_create, ctx.get(),
                                                   &sched_cfg);
    lcmd::check(lcmd_lcm_scheduler_set_timesteps(sched.get(), 4, 0, 1.0), "lcmd_lcm_scheduler_set_timesteps");
    std::vector<int64_t> timesteps(lcmd_lcm_scheduler_num_timesteps(sched.get()));
    lcmd::check(lcmd_lcm_scheduler_timesteps(sched.get(), timesteps.data(), timesteps.size()),
                "lcmd_lcm_scheduler_timesteps");

    std::vector<float> latents(per_sample), model_out(per_sample), prev(per_sample), denoised(per_sample);
    lcmd::check(lcmd_rng_normal(11, 0, 0, latents.data(), latents.size()), "lcmd_rng_normal");
    for (int64_t t : timesteps) {
        const float tf = (float)t;
        lcmd_unet_inputs in;
        lcmd::init(in, lcmd_unet_inputs_init);
        in.batch = 1;
        in.height = in.width = side;
        in.sample = latents.data();
        in.timesteps = &tf;
        in.encoder_hidden_states = embeds.data();
        in.seq_len = (int64_t)ids.size();
        in.timestep_cond = w_embed.data();
        lcmd::check(lcmd_unet_forward(student, &in, model_out.data()), "lcmd_unet_forward");
        lcmd::check(lcmd_lcm_scheduler_step(sched.get(), model_out.data(), t, latents.data(), 1, (int64_t)per_sample,
                                            nullptr, prev.data(), denoised.data()),
                    "lcmd_lcm_scheduler_step");
        latents.swap(prev);
        std::printf("lcm timestep %lld\n", (long long)t);
    }
    lcmd::check(lcmd_vae_unscale_latents(vae, denoised.size(), denoised.data()), "lcmd_vae_unscale_latents");
    std::vector<float> image((size_t)vinfo.out_channels * 32 * 32);
    lcmd::check(lcmd_vae_decode(vae, 1, side, side, denoised.data(), image.data()), "lcmd_vae_decode");
    if (!all_finite(denoised) || !all_finite(image)) {
        std::fprintf(stderr, "non-finite sample\n");
        return 1;
    }
    std::printf("sampled a %dx32x32 image in %zu LCM steps\n", vinfo.out_channels, timesteps.size());

    // an error names what was wrong
    const std::string missing = (dir.path() / "no-such-pipeline").string();
    try {
        auto p = lcmd::create<lcmd::pipeline>("lcmd_pipeline_open", lcmd_pipeline_open, ctx.get(), missing.c_str(),
                                              nullptr);
        std::fprintf(stderr, "opening %s should have failed\n", missing.c_str());
        return 1;
    } catch (const lcmd::error &e) {
        if (e.status() != LCMD_ERR_IO || std::string(e.what()).find(missing) == std::string::npos) {
            std::fprintf(stderr, "unexpected error: %s\n", e.what());
            return 1;
        }
        std::printf("expected error: %s\n", e.what());
    }
    return 0;
}

int main(int argc, char **argv) {
    int steps = 3, threads = 2;
    std::string keep;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        if (a == "--steps" && i + 1 < argc) steps = std::atoi(argv[++i]);
        else if (a == "--threads" && i + 1 < argc) threads = std::atoi(argv[++i]);
        else if (a == "--keep" && i + 1 < argc) keep = argv[++i];
        else {
            std::fprintf(stderr, "usage: %s [--steps N] [--threads N] [--keep DIR]\n", argv[0]);
            return 2;
        }
    }
    if (steps < 1) steps = 1;
    try {
        return run(steps, threads, keep);
    } catch (const std::exception &e) {
        std::fprintf(stderr, "lcmd-cpp-loop: %s\n", e.what());
        return 1;
    }
}
