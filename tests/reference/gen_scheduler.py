"""Fixtures for the schedulers: noise schedules, LCMScheduler timesteps and steps
(diffusers package) and the distillation script's solver, scalings and embedding
(pinned diffusers checkout, LCMD_DIFFUSERS_SRC). Writes tests/fixtures/scheduler/."""
import os

import torch
from diffusers import DDPMScheduler, LCMScheduler
import diffusers.schedulers.scheduling_lcm as scheduling_lcm

from common import fixture_dir, save, save_json
import training_script

OUT = fixture_dir("scheduler")

SD15 = {"_class_name": "PNDMScheduler", "beta_start": 0.00085, "beta_end": 0.012,
        "beta_schedule": "scaled_linear", "num_train_timesteps": 1000, "set_alpha_to_one": False,
        "skip_prk_steps": True, "steps_offset": 1, "clip_sample": False, "trained_betas": None}
CONFIGS = {
    "sd15": SD15,
    "sd2_v": {**SD15, "prediction_type": "v_prediction", "timestep_spacing": "leading"},
    "linear": {"_class_name": "DDPMScheduler", "beta_schedule": "linear", "beta_start": 0.0001,
               "beta_end": 0.02, "num_train_timesteps": 1000},
    "cosine": {"_class_name": "DDPMScheduler", "beta_schedule": "squaredcos_cap_v2",
               "num_train_timesteps": 1000},
    "zero_snr_v": {**SD15, "rescale_betas_zero_snr": True, "prediction_type": "v_prediction"},
    "t500": {**SD15, "num_train_timesteps": 500},
    "lcm_sample": {**SD15, "prediction_type": "sample", "set_alpha_to_one": True},
    "lcm_clip": {**SD15, "clip_sample": True, "clip_sample_range": 1.5},
    "lcm_threshold": {**SD15, "thresholding": True, "dynamic_thresholding_ratio": 0.9,
                      "sample_max_value": 2.5},
}


def gen(seed, *shape, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=dtype)


def schedules():
    for name, cfg in CONFIGS.items():
        save_json(os.path.join(OUT, f"config_{name}.json"), cfg)
        ddpm = DDPMScheduler.from_config(cfg)
        ac = ddpm.alphas_cumprod
        save(os.path.join(OUT, f"schedule_{name}.safetensors"),
             {"betas": ddpm.betas, "alphas_cumprod": ac,
              "alpha_schedule": torch.sqrt(ac), "sigma_schedule": torch.sqrt(1 - ac)})


def lcm_timesteps():
    cases = []
    for name in ("sd15", "t500"):
        cfg = CONFIGS[name]
        for n in (1, 2, 3, 4, 5, 6, 7, 8, 10, 25, 50, 51, 1001):
            for original in (None, 100, 25, 20, 1000, 2000):
                for strength in (1.0, 0.75, 0.5, 0.3, 0.05):
                    s = LCMScheduler.from_config(cfg)
                    case = {"config": name, "n": n, "original": original or 0, "strength": strength}
                    try:
                        s.set_timesteps(n, original_inference_steps=original, strength=strength)
                        case["timesteps"] = s.timesteps.tolist()
                    except ValueError as e:
                        case["error"] = str(e)[:120]
                    cases.append(case)
        customs = [[999, 759, 499, 259], [999, 500, 250, 10], [800, 600], [999], [259, 499],
                   [999, 999], [1000, 500], [499, 379, 259, 139, 19, 0]]
        for ts in customs:
            for strength in (1.0, 0.5, 0.25):
                s = LCMScheduler.from_config(cfg)
                case = {"config": name, "custom": ts, "strength": strength, "original": 0}
                try:
                    s.set_timesteps(timesteps=ts, strength=strength)
                    case["timesteps"] = s.timesteps.tolist()
                except ValueError as e:
                    case["error"] = str(e)[:120]
                cases.append(case)
    save_json(os.path.join(OUT, "lcm_timesteps.json"), cases)


def lcm_steps():
    """A whole sampling run per config and step count, the injected noise included."""
    runs = [("sd15", 4), ("sd15", 1), ("sd15", 8), ("sd2_v", 4), ("lcm_sample", 4),
            ("lcm_clip", 4), ("lcm_threshold", 3), ("zero_snr_v", 4), ("t500", 4)]
    original_randn = scheduling_lcm.randn_tensor
    for r, (name, steps) in enumerate(runs):
        s = LCMScheduler.from_config(CONFIGS[name])
        s.set_timesteps(steps)
        shape = (2, 4, 8, 8)
        x = gen(1000 + r, *shape) * 3.0
        tensors = {"timesteps": s.timesteps.clone(), "x_T": x.clone()}
        for i, t in enumerate(s.timesteps):
            out = gen(2000 + 10 * r + i, *shape)
            noise = gen(3000 + 10 * r + i, *shape)
            scheduling_lcm.randn_tensor = lambda *a, _n=noise, **k: _n.clone()
            prev, denoised = s.step(out, t, x, return_dict=False)
            tensors[f"model_output_{i}"] = out
            tensors[f"noise_{i}"] = noise
            tensors[f"prev_{i}"] = prev
            tensors[f"denoised_{i}"] = denoised
            x = prev
        scheduling_lcm.randn_tensor = original_randn
        save(os.path.join(OUT, f"lcm_run_{name}_{steps}.safetensors"), tensors, config=name, steps=steps)


def training_functions():
    ns, commit = training_script.load()
    ac = DDPMScheduler.from_config(SD15).alphas_cumprod
    t = {}
    w = torch.tensor([0.0, 1.0, 3.0, 5.5, 6.5, 7.5, 10.0, 14.999])
    t["gse_w"] = w
    for dim in (256, 512, 255, 64):
        t[f"gse_{dim}"] = ns["guidance_scale_embedding"](w, embedding_dim=dim)
    steps = torch.arange(1000, dtype=torch.int64)
    t["scaling_t"] = steps
    for lam in (10.0, 1.0):
        c_skip, c_out = ns["scalings_for_boundary_conditions"](steps, timestep_scaling=lam)
        t[f"c_skip_{int(lam)}"], t[f"c_out_{int(lam)}"] = c_skip, c_out
    x0, eps = gen(1, 4, 4, 8, 8), gen(2, 4, 4, 8, 8)
    t["ddim_x0"], t["ddim_eps"] = x0, eps
    for n in (50, 30, 20, 1000):
        solver = ns["DDIMSolver"](ac.numpy(), timesteps=1000, ddim_timesteps=n)
        t[f"ddim{n}_timesteps"] = solver.ddim_timesteps
        t[f"ddim{n}_ac"] = solver.ddim_alpha_cumprods
        t[f"ddim{n}_ac_prev"] = solver.ddim_alpha_cumprods_prev
        idx = torch.tensor([0, 1, n // 2, n - 1], dtype=torch.int64)
        t[f"ddim{n}_index"] = idx
        t[f"ddim{n}_x_prev"] = solver.ddim_step(x0, eps, idx)
    ts = torch.tensor([0, 19, 259, 999], dtype=torch.int64)
    t["noise_t"] = ts
    t["noise_x0"], t["noise_eps"] = gen(3, 4, 4, 8, 8), gen(4, 4, 4, 8, 8)
    t["noisy"] = DDPMScheduler.from_config(SD15).add_noise(t["noise_x0"], t["noise_eps"], ts)
    t["pred_out"], t["pred_sample"] = gen(5, 4, 4, 8, 8), gen(6, 4, 4, 8, 8)
    for name in ("sd15", "sd2_v"):
        acn = DDPMScheduler.from_config(CONFIGS[name]).alphas_cumprod
        alphas, sigmas = torch.sqrt(acn), torch.sqrt(1 - acn)
        for ptype in ("epsilon", "v_prediction", "sample"):
            t[f"x0_{name}_{ptype}"] = ns["get_predicted_original_sample"](
                t["pred_out"], ts, t["pred_sample"], ptype, alphas, sigmas)
            t[f"eps_{name}_{ptype}"] = ns["get_predicted_noise"](
                t["pred_out"], ts, t["pred_sample"], ptype, alphas, sigmas)
    save(os.path.join(OUT, "training_functions.safetensors"), t, diffusers_commit=commit,
         script=training_script.SCRIPT)


if __name__ == "__main__":
    torch.set_num_threads(1)
    schedules()
    lcm_timesteps()
    lcm_steps()
    training_functions()
    print("wrote", OUT)
