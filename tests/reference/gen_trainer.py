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
final student ("student.<key>") and target ("target.<key>") weights (PyTorch layout).

The case "encode_accum2" starts from pixels and captions instead (spec §6 steps 2-3,
§8.1) on the tiny StableDiffusionPipeline folder (fixtures/pipeline/tiny-sd): captions
tokenized (padded to 77) and encoded by its CLIPTextModel, the unconditional embedding
from the empty caption, images encoded by its AutoencoderKL with an injected posterior
noise ("step<k>.vae_noise") and scaled; with gradient_accumulation_steps = 2 (the loss
divided by 2 before backward, clipping and AdamW on every second micro-step, as
accelerate does): 6 micro-steps, 3 optimizer steps. It also stores the pixels
("step<k>.images"), the captions (metadata "captions", JSON) and their ids."""
import copy
import json
import os

import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
from transformers import CLIPTextModel, CLIPTokenizer

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


class Distiller:
    """The script's models and step (spec §6 steps 4-13) around one teacher."""

    def __init__(self, teacher, sched, ns, loss_type, huber_c, accum=1):
        self.ns, self.teacher, self.sched = ns, teacher, sched
        self.loss_type, self.huber_c, self.accum = loss_type, huber_c, accum
        self.pred_type = sched.config.prediction_type
        self.alpha_schedule = torch.sqrt(sched.alphas_cumprod)
        self.sigma_schedule = torch.sqrt(1 - sched.alphas_cumprod)
        self.solver = ns["DDIMSolver"](sched.alphas_cumprod.numpy(), timesteps=sched.config.num_train_timesteps,
                                       ddim_timesteps=N_DDIM)
        self.topk = sched.config.num_train_timesteps // N_DDIM
        cfg = dict(teacher.config)
        cfg["time_cond_proj_dim"] = PROJ
        student = UNet2DConditionModel(**cfg)
        student.load_state_dict(teacher.state_dict(), strict=False)
        self.g = torch.Generator().manual_seed(1234)
        self.cond_proj = (torch.rand(student.time_embedding.cond_proj.weight.shape, generator=self.g) * 2 - 1) / PROJ ** 0.5
        with torch.no_grad():
            student.time_embedding.cond_proj.weight.copy_(self.cond_proj)
        student.train()
        target = UNet2DConditionModel(**student.config)
        target.load_state_dict(student.state_dict())
        target.train()
        target.requires_grad_(False)
        self.student, self.target = student, target
        self.opt = torch.optim.AdamW(student.parameters(), lr=LR, betas=(0.9, 0.999), weight_decay=WD, eps=1e-8)
        self.micro = 0

    def draws(self, z0, s):
        """noise, solver indices and guidance weights of micro-step s, as the script draws them"""
        b = z0.shape[0]
        noise = torch.randn(z0.shape, generator=self.g)
        index = torch.randint(0, N_DDIM, (b,), generator=self.g, dtype=torch.int64)
        if s == 0:
            index[0] = 0  # exercise the clamped t_end = 0 boundary
        w = (W_MAX - W_MIN) * torch.rand(b, generator=self.g) + W_MIN
        return noise, index, w

    def micro_step(self, z0, cond, uncond, noise, index, w):
        """one micro-step; returns (loss, grad norm or None when no optimizer step)"""
        ns, pt, a_s, s_s = self.ns, self.pred_type, self.alpha_schedule, self.sigma_schedule
        b = z0.shape[0]
        start = self.solver.ddim_timesteps[index]
        end = torch.where(start - self.topk < 0, torch.zeros_like(start), start - self.topk)
        c_skip_s, c_out_s = ns["scalings_for_boundary_conditions"](start, timestep_scaling=LAMBDA)
        c_skip_s, c_out_s = [ns["append_dims"](x, z0.ndim) for x in (c_skip_s, c_out_s)]
        c_skip, c_out = ns["scalings_for_boundary_conditions"](end, timestep_scaling=LAMBDA)
        c_skip, c_out = [ns["append_dims"](x, z0.ndim) for x in (c_skip, c_out)]
        zt = self.sched.add_noise(z0, noise, start)
        w_emb = ns["guidance_scale_embedding"](w, embedding_dim=PROJ)
        w4 = w.reshape(b, 1, 1, 1)

        o_s = self.student(zt, start, timestep_cond=w_emb, encoder_hidden_states=cond).sample
        x0_s = ns["get_predicted_original_sample"](o_s, start, zt, pt, a_s, s_s)
        model_pred = c_skip_s * zt + c_out_s * x0_s
        with torch.no_grad():
            o_c = self.teacher(zt, start, encoder_hidden_states=cond).sample
            x0_c = ns["get_predicted_original_sample"](o_c, start, zt, pt, a_s, s_s)
            e_c = ns["get_predicted_noise"](o_c, start, zt, pt, a_s, s_s)
            o_u = self.teacher(zt, start, encoder_hidden_states=uncond).sample
            x0_u = ns["get_predicted_original_sample"](o_u, start, zt, pt, a_s, s_s)
            e_u = ns["get_predicted_noise"](o_u, start, zt, pt, a_s, s_s)
            pred_x0 = x0_c + w4 * (x0_c - x0_u)
            pred_noise = e_c + w4 * (e_c - e_u)
            x_prev = self.solver.ddim_step(pred_x0, pred_noise, index)
            o_t = self.target(x_prev.float(), end, timestep_cond=w_emb, encoder_hidden_states=cond).sample
            x0_t = ns["get_predicted_original_sample"](o_t, end, x_prev, pt, a_s, s_s)
            y = c_skip * x_prev + c_out * x0_t
        if self.loss_type == "l2":
            loss = F.mse_loss(model_pred.float(), y.float(), reduction="mean")
        else:
            loss = torch.mean(torch.sqrt((model_pred.float() - y.float()) ** 2 + self.huber_c ** 2) - self.huber_c)
        (loss / self.accum).backward()  # accelerate scales the loss by 1/G
        self.micro += 1
        if self.micro % self.accum:
            return loss.item(), None
        norm = torch.nn.utils.clip_grad_norm_(self.student.parameters(), MAX_NORM)
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        with torch.no_grad():  # diffusers.training_utils.update_ema
            for tp, sp in zip(self.target.parameters(), self.student.parameters()):
                tp.mul_(EMA).add_(sp, alpha=1 - EMA)
        return loss.item(), norm.item()

    def save(self, out, path, losses, norms, **meta):
        out["init.cond_proj"] = self.cond_proj
        out["loss"] = torch.tensor(losses, dtype=torch.float64)
        out["grad_norm"] = torch.tensor(norms, dtype=torch.float64)
        for k, v in self.student.state_dict().items():
            out[f"student.{k}"] = v
        for k, v in self.target.state_dict().items():
            out[f"target.{k}"] = v
        save(path, out, loss_type=self.loss_type, huber_c=self.huber_c, prediction_type=self.pred_type, **meta)


def load_teacher(path):
    teacher = UNet2DConditionModel.from_pretrained(path).float()
    teacher.requires_grad_(False)
    return teacher


def run_case(name, teacher_kind, sched_cfg, loss_type, huber_c, ns, commit):
    torch.manual_seed(0)
    teacher = load_teacher(os.path.join(FIXTURES, "unet", teacher_kind))
    sched = DDPMScheduler.from_config(DDPMScheduler.load_config(os.path.join(FIXTURES, "scheduler", sched_cfg)))
    d = Distiller(teacher, sched, ns, loss_type, huber_c)
    g = d.g
    z0 = torch.randn(B, C, H, W, generator=g)
    cond = torch.randn(B, L, teacher.config.cross_attention_dim, generator=g)
    uncond = torch.randn(B, L, teacher.config.cross_attention_dim, generator=g) * 0.1
    out = {"z0": z0, "cond": cond, "uncond": uncond}
    losses, norms = [], []
    for s in range(STEPS):
        noise, index, w = d.draws(z0, s)
        out.update({f"step{s}.noise": noise, f"step{s}.index": index, f"step{s}.w": w})
        loss, norm = d.micro_step(z0, cond, uncond, noise, index, w)
        losses.append(loss)
        norms.append(norm)
        print(name, s, loss, norm)
    d.save(out, os.path.join(OUT, f"trainer_{name}.safetensors"), losses, norms, diffusers_commit=commit,
           teacher=teacher_kind, steps=STEPS)


CAPTIONS = ["a red cube on a table", "two cats", "", "a photo of the sea at night, 35mm",
            "an old map", "Snowy MOUNTAINS under a blue sky!", "a bowl of fruit", "x"]
IMG = 16  # pixels: the tiny VAE halves them to the 8 x 8 latents of the other cases


def run_encode_case(ns, commit, accum=2):
    """pixels and captions through the pipeline's encoders, gradient accumulation 2"""
    torch.manual_seed(0)
    root = os.path.join(FIXTURES, "pipeline", "tiny-sd")
    tok = CLIPTokenizer.from_pretrained(os.path.join(root, "tokenizer"))
    text = CLIPTextModel.from_pretrained(os.path.join(root, "text_encoder")).float().eval()
    vae = AutoencoderKL.from_pretrained(os.path.join(root, "vae")).float().eval()
    teacher = load_teacher(os.path.join(root, "unet"))
    sched = DDPMScheduler.from_pretrained(root, subfolder="scheduler")
    d = Distiller(teacher, sched, ns, "l2", 0.001, accum=accum)
    g = d.g

    def ids_of(captions):
        return tok(captions, padding="max_length", max_length=tok.model_max_length, truncation=True,
                   return_tensors="pt").input_ids

    with torch.no_grad():
        uncond = text(ids_of([""] * B))[0]
    out, losses, norms, caps = {}, [], [], []
    for s in range(STEPS * accum):
        captions = [CAPTIONS[(s * B + i) % len(CAPTIONS)] for i in range(B)]
        caps.append(captions)
        images = torch.rand(B, 3, IMG, IMG, generator=g) * 2 - 1
        ids = ids_of(captions)
        with torch.no_grad():
            cond = text(ids)[0]
            dist = vae.encode(images).latent_dist
            xi = torch.randn(dist.mean.shape, generator=g)
            z0 = (dist.mean + dist.std * xi) * vae.config.scaling_factor  # latent_dist.sample() with ξ injected
        noise, index, w = d.draws(z0, s)
        out.update({f"step{s}.images": images, f"step{s}.ids": ids.to(torch.int64), f"step{s}.vae_noise": xi,
                    f"step{s}.noise": noise, f"step{s}.index": index, f"step{s}.w": w, f"step{s}.z0": z0})
        loss, norm = d.micro_step(z0, cond, uncond, noise, index, w)
        losses.append(loss)
        if norm is not None:
            norms.append(norm)
        print("encode_accum2", s, loss, norm)
    d.save(out, os.path.join(OUT, "trainer_encode_accum2.safetensors"), losses, norms, diffusers_commit=commit,
           teacher="pipeline/tiny-sd", steps=STEPS, gradient_accumulation_steps=accum,
           captions=json.dumps(caps))


def main():
    torch.set_num_threads(1)
    ns, commit = load()
    for name, (kind, cfgname, loss_type, c) in CASES.items():
        run_case(name, kind, cfgname, loss_type, c, ns, commit)
    run_encode_case(ns, commit)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
