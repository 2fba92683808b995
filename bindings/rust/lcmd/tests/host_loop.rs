//! A short host loop on the demo models: teacher and shards written to a temporary
//! folder, pipeline, dataset, trainer steps, then 4-step LCM sampling with the student.
use lcmd::*;
use std::path::{Path, PathBuf};

/// A folder under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!("lcmd-rs-{}-{}-{}", tag, std::process::id(), nanos));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn context() -> Context {
    Context::with_options(&ContextOptions::new().num_threads(2).seed(7).log_level(LogLevel::Warn))
        .expect("context")
}

#[test]
fn version_and_context() {
    assert_eq!(version(), HEADER_VERSION);
    assert!(!version_string().is_empty());
    let ctx = context();
    assert_eq!(ctx.device(), "cpu");
    assert_eq!(ctx.num_threads(), 2);
    assert_eq!(ctx.seed(), 7);
}

#[test]
fn distill_steps_then_lcm_sampling() -> Result<()> {
    let tmp = TempDir::new("loop");
    let teacher_dir = tmp.path().join("teacher");
    let shards_dir = tmp.path().join("shards");
    let ctx = context();

    write_teacher(&ctx, &teacher_dir, None)?;
    write_shards(&shards_dir, Some(&DemoDataOptions::new().num_shards(1).samples_per_shard(8).resolution(32)))?;

    let pipe = Pipeline::open(&ctx, &teacher_dir, None)?;
    assert!(!pipe.is_sdxl());
    let sched_cfg = pipe.scheduler_config()?;
    let tokenizer = pipe.tokenizer(0).expect("tokenizer");
    let text_encoder = pipe.text_encoder(0).expect("text encoder");
    let vae = pipe.vae().expect("vae");
    let teacher = pipe.unet().expect("unet");

    let mut dataset = Dataset::new(
        &ctx,
        &DatasetOptions::new(shards_dir.to_str().unwrap()).resolution(32).batch_size(2).shuffle_buffer(0).seed(1),
    )?;

    let options = TrainerOptions::new().learning_rate(1e-4).seed(3).loss_type(LossType::Huber);
    let mut trainer = Trainer::new(&ctx, teacher, &sched_cfg, Some(&options))?;
    trainer.set_encoders(tokenizer, text_encoder, vae)?;

    for i in 0..3 {
        let batch = dataset.next_batch()?.expect("a batch");
        assert_eq!(batch.size(), 2);
        assert_eq!(batch.resolution(), 32);
        assert_eq!(batch.images().len(), 2 * 3 * 32 * 32);
        assert!(batch.images().iter().all(|v| (-1.0..=1.0).contains(v)));
        assert!(!batch.caption(0).unwrap().is_empty());
        let report = trainer.step_dataset(&batch)?;
        assert!(report.loss.is_finite(), "step {}: loss {}", i, report.loss);
        assert_eq!(report.micro_steps, i + 1);
        assert_eq!(report.step, i + 1);
    }
    let progress = trainer.progress()?;
    assert_eq!(progress, Progress { step: 3, micro_steps: 3, samples_seen: 6 });
    assert!(dataset.stats()?.batches >= 3);

    // 4-step LCM sampling with the student.
    let mut sched = LcmScheduler::new(Some(&ctx), &sched_cfg)?;
    sched.set_timesteps(4, 0, 1.0)?;
    let timesteps = sched.timesteps()?;
    assert_eq!(timesteps.len(), 4);
    assert!(timesteps.windows(2).all(|w| w[0] > w[1]), "{:?}", timesteps);

    let student = trainer.student();
    let info = student.info()?;
    assert!(info.time_cond_proj_dim > 0);
    let vae_info = vae.info()?;
    let side = 32 / vae_info.downsample_factor as usize;
    let channels = info.in_channels as usize;

    let ids = tokenizer.encode_padded(&["a small red circle on a blue background"])?;
    assert_eq!(ids.len(), tokenizer.model_max_length());
    let embeds = text_encoder.last_hidden_state(&ids, 1)?;
    let w_embed = guidance_scale_embedding(&[8.0 - 1.0], info.time_cond_proj_dim as usize)?;

    let mut latents = vec![0.0f32; channels * side * side];
    rng_normal(11, 0, 0, &mut latents)?;
    let mut denoised = Vec::new();
    for &t in &timesteps {
        let out = student.forward(&UnetInputs {
            batch: 1,
            height: side,
            width: side,
            sample: &latents,
            timesteps: &[t as f32],
            encoder_hidden_states: &embeds,
            seq_len: ids.len(),
            timestep_cond: Some(&w_embed),
            ..Default::default()
        })?;
        let step = sched.step(&out, t, &latents, 1, None)?;
        latents = step.prev_sample;
        denoised = step.denoised;
    }
    assert_eq!(sched.step_index(), 4);
    assert!(denoised.iter().all(|v| v.is_finite()));
    vae.unscale_latents(&mut denoised)?;
    let image = vae.decode(1, side, side, &denoised)?;
    assert_eq!(image.len(), 3 * 32 * 32);
    assert!(image.iter().all(|v| v.is_finite()));

    // the student as a diffusers folder, loadable again
    let saved = tmp.path().join("student");
    student.save(&saved, WeightDtype::F32, None)?;
    let reloaded = Unet::load(&ctx, &saved, None)?;
    assert_eq!(reloaded.info()?.num_parameters, info.num_parameters);
    Ok(())
}

#[test]
fn missing_folder_is_an_error_naming_the_path() {
    let ctx = context();
    let missing = std::env::temp_dir().join(format!("lcmd-rs-no-such-pipeline-{}", std::process::id()));
    let err = Pipeline::open(&ctx, &missing, None).expect_err("a missing folder must fail");
    assert_eq!(err.status(), Status::Io);
    assert_eq!(err.code(), sys::lcmd_status_LCMD_ERR_IO);
    assert!(err.message().contains(missing.to_str().unwrap()), "message: {}", err.message());
    assert!(err.to_string().contains(missing.to_str().unwrap()));

    let err = Context::with_options(&ContextOptions::new().device("tpu:0")).expect_err("unknown device");
    assert_eq!(err.status(), Status::InvalidArgument);
    assert!(err.message().contains("tpu:0"), "message: {}", err.message());

    let err = Dataset::new(&ctx, &DatasetOptions::new(missing.join("{0..1}.tar").to_str().unwrap()))
        .expect_err("no shards");
    assert!(!err.message().is_empty());
}

#[test]
fn schedules_and_solver() -> Result<()> {
    let cfg = SchedulerConfig::parse(r#"{"num_train_timesteps": 1000, "prediction_type": "epsilon"}"#, Some("inline"))?;
    assert_eq!(cfg.num_train_timesteps, 1000);
    let schedule = NoiseSchedule::new(&cfg)?;
    assert_eq!(schedule.num_timesteps(), 1000);
    let acp = schedule.alphas_cumprod()?;
    assert!(acp.windows(2).all(|w| w[0] > w[1]));

    let x0 = vec![0.5f32; 2 * 8];
    let noise = vec![1.0f32; 2 * 8];
    let noisy = schedule.add_noise(&x0, &noise, &[0, 999])?;
    assert_eq!(noisy.len(), 16);
    let back = schedule.predicted_origin(PredictionType::Epsilon, &noise, &[0, 999], &noisy)?;
    assert!(back.iter().all(|v| (v - 0.5).abs() < 1e-3), "{:?}", back);
    // a length that does not fit is refused before the call
    let err = schedule.add_noise(&x0, &noise[..15], &[0, 999]).unwrap_err();
    assert_eq!(err.status(), Status::InvalidArgument);

    let solver = DdimSolver::new(&schedule, 50)?;
    let ts = solver.timesteps()?;
    assert_eq!(ts.len(), 50);
    assert_eq!(ts[0], 19);
    let (c_skip, c_out) = boundary_scalings(&[0, 999], 10.0)?;
    assert!((c_skip[0] - 1.0).abs() < 1e-6 && c_out[0].abs() < 1e-6);
    assert!(c_out[1] > 0.99);
    let err = lcmd::SchedulerConfig::load("/nonexistent/scheduler_config.json").unwrap_err();
    assert_eq!(err.status(), Status::Io);
    Ok(())
}
