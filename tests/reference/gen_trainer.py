"""Training-step fixtures for lcmd_trainer (spec §6, §7): the step of
train_lcm_distill_sd_wds.py composed from the script's own helpers (training_script.py,
needs LCMD_DIFFUSERS_SRC), DDPMScheduler.add_noise, UNet2DConditionModel and
torch.optim.AdamW, in float32 on the CPU (the script's teacher autocast is left out:
liblcmd computes in float32), for 3 optimizer steps with injected draws (noise, solver
indices, guidance weights) on the tiny SD1.5 teacher (fixtures/unet/sd15; L2 and
pseudo-Huber with c = 0.05, epsilon prediction) and the tiny SD2 teacher with the
v_prediction schedule (fixtures/unet/sd2, scheduler/config_sd2_v.json; L2).
Run: cd tests/reference && LCMD_DIFFUSERS_SRC=/path/to/diffusers .venv/bin/python gen_trainer.py

The student is the teacher with time_cond_proj_dim = 256 and a seeded cond_proj
("init.cond_proj", which the C test installs into the trainer); the target is a copy.
Writes fixtures/train/trainer_<case>.safetensors with the inputs of every step
("step<k>.noise|index|w"), z0, the embeddings, per-step losses and grad norms, and the
final student ("student.<key>") and target ("target.<key>") weights (PyTorch layout)."""
import copy
import os

import torch
import torch.nn.functional as F
from diffusers import DDPMScheduler, UNet2DConditionModel

from common import FIXTURES, fixture_dir, save
from training_script import load

OUT = fixture_dir("train")
B, C, H, W, L = 2, 4, 8, 8, 5
STEPS = 3
CASES = {  # name: (teacher fixture, scheduler config, loss, huber_c)
    "l2_eps": ("sd15", "config_sd15.json", "l2", 0.001),
    "huber_eps": ("sd15", "config_sd15.json", "huber", 0.05),
    "l2_v": ("sd2", "config_sd2_v.json", "l2", 0.001),
}
LR, WD, EMA, LAMBDA, N_DDIM, W_MIN, W_MAX, MAX_NORM, PROJ = 1e-4, 1e-2, 0.95, 10.0, 50, 5.0, 15.0, 1.0, 256


def run_case(name, teacher_kind, sched_cfg, loss_type, huber_c, ns, commit):
    torch.manual_seed(0)
    teacher = UNet2DConditionModel.from_pretrained(os.path.join(FIXTURES, "unet", teacher_kind)).float()
    teacher.requires_grad_(False)
    sched = DDPMScheduler.from_config(DDPMScheduler.load_config(os.path.join(FIXTURES, "scheduler", sched_cfg)))
    pred_type = sched.config.prediction_type
    alpha_schedule = torch.sqrt(sched.alphas_cumprod)
    sigma_schedule = torch.sqrt(1 - sched.alphas_cumprod)
    solver = ns["DDIMSolver"](sched.alphas_cumprod.numpy(), timesteps=sched.config.num_train_timesteps,
                              ddim_timesteps=N_DDIM)
    topk = sched.config.num_train_timesteps // N_DDIM

    cfg = dict(teacher.config)
    cfg["time_cond_proj_dim"] = PROJ
    student = UNet2DConditionModel(**cfg)
    student.load_state_dict(teacher.state_dict(), strict=False)
    g = torch.Generator().manual_seed(1234)
    cond_proj = (torch.rand(student.time_embedding.cond_proj.weight.shape, generator=g) * 2 - 1) / PROJ ** 0.5
    with torch.no_grad():
        student.time_embedding.cond_proj.weight.copy_(cond_proj)
    student.train()
    target = UNet2DConditionModel(**student.config)
    target.load_state_dict(student.state_dict())
    target.train()
    target.requires_grad_(False)

    opt = torch.optim.AdamW(student.parameters(), lr=LR, betas=(0.9, 0.999), weight_decay=WD, eps=1e-8)
    z0 = torch.randn(B, C, H, W, generator=g)
    cond = torch.randn(B, L, teacher.config.cross_attention_dim, generator=g)
    uncond = torch.randn(B, L, teacher.config.cross_attention_dim, generator=g) * 0.1
    out = {"init.cond_proj": cond_proj, "z0": z0, "cond": cond, "uncond": uncond}
    losses, norms = [], []
    for s in range(STEPS):
        noise = torch.randn(B, C, H, W, generator=g)
        index = torch.randint(0, N_DDIM, (B,), generator=g, dtype=torch.int64)
        if s == 0:
            index[0] = 0  # exercise the clamped t_end = 0 boundary
        w = (W_MAX - W_MIN) * torch.rand(B, generator=g) + W_MIN
        out.update({f"step{s}.noise": noise, f"step{s}.index": index, f"step{s}.w": w})

        start = solver.ddim_timesteps[index]
        end = torch.where(start - topk < 0, torch.zeros_like(start), start - topk)
        c_skip_s, c_out_s = ns["scalings_for_boundary_conditions"](start, timestep_scaling=LAMBDA)
        c_skip_s, c_out_s = [ns["append_dims"](x, z0.ndim) for x in (c_skip_s, c_out_s)]
        c_skip, c_out = ns["scalings_for_boundary_conditions"](end, timestep_scaling=LAMBDA)
        c_skip, c_out = [ns["append_dims"](x, z0.ndim) for x in (c_skip, c_out)]
        zt = sched.add_noise(z0, noise, start)
        w_emb = ns["guidance_scale_embedding"](w, embedding_dim=PROJ)
        w4 = w.reshape(B, 1, 1, 1)

        o_s = student(zt, start, timestep_cond=w_emb, encoder_hidden_states=cond).sample
        x0_s = ns["get_predicted_original_sample"](o_s, start, zt, pred_type, alpha_schedule, sigma_schedule)
        model_pred = c_skip_s * zt + c_out_s * x0_s
        with torch.no_grad():
            o_c = teacher(zt, start, encoder_hidden_states=cond).sample
            x0_c = ns["get_predicted_original_sample"](o_c, start, zt, pred_type, alpha_schedule, sigma_schedule)
            e_c = ns["get_predicted_noise"](o_c, start, zt, pred_type, alpha_schedule, sigma_schedule)
            o_u = teacher(zt, start, encoder_hidden_states=uncond).sample
            x0_u = ns["get_predicted_original_sample"](o_u, start, zt, pred_type, alpha_schedule, sigma_schedule)
            e_u = ns["get_predicted_noise"](o_u, start, zt, pred_type, alpha_schedule, sigma_schedule)
            pred_x0 = x0_c + w4 * (x0_c - x0_u)
            pred_noise = e_c + w4 * (e_c - e_u)
            x_prev = solver.ddim_step(pred_x0, pred_noise, index)
            o_t = target(x_prev.float(), end, timestep_cond=w_emb, encoder_hidden_states=cond).sample
            x0_t = ns["get_predicted_original_sample"](o_t, end, x_prev, pred_type, alpha_schedule, sigma_schedule)
            y = c_skip * x_prev + c_out * x0_t
        if loss_type == "l2":
            loss = F.mse_loss(model_pred.float(), y.float(), reduction="mean")
        else:
            loss = torch.mean(torch.sqrt((model_pred.float() - y.float()) ** 2 + huber_c ** 2) - huber_c)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(student.parameters(), MAX_NORM)
        opt.step()
        opt.zero_grad(set_to_none=True)
        with torch.no_grad():  # diffusers.training_utils.update_ema
            for tp, sp in zip(target.parameters(), student.parameters()):
                tp.mul_(EMA).add_(sp, alpha=1 - EMA)
        losses.append(loss.item())
        norms.append(norm.item())
        print(name, s, loss.item(), norm.item())
    out["loss"] = torch.tensor(losses, dtype=torch.float64)
    out["grad_norm"] = torch.tensor(norms, dtype=torch.float64)
    for k, v in student.state_dict().items():
        out[f"student.{k}"] = v
    for k, v in target.state_dict().items():
        out[f"target.{k}"] = v
    save(os.path.join(OUT, f"trainer_{name}.safetensors"), out, diffusers_commit=commit, teacher=teacher_kind,
         loss_type=loss_type, huber_c=huber_c, prediction_type=pred_type, steps=STEPS)


def main():
    torch.set_num_threads(1)
    ns, commit = load()
    for name, (kind, cfgname, loss_type, c) in CASES.items():
        run_case(name, kind, cfgname, loss_type, c, ns, commit)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
