"""Benchmark (not a test): one LCD training micro-step of a full-size SD1.5 UNet
(random weights) on the CPU, liblcmd side by side with PyTorch doing the same step in
the same run: student forward + backward (with the guidance embedding), teacher
conditional and unconditional forwards, the DDIM step, the target forward, the loss,
gradient clipping, AdamW and the EMA update, batch 1, fp32 everywhere, with and
without gradient checkpointing. The sides run one after the other (each needs the
teacher, student, target, gradient and two AdamW moments: ~21 GB at SD1.5 size).

  tests/reference/.venv/bin/python tests/bench/train_step.py BUILD_DIR [--side 32] [--steps 2]

The weights are unet_forward.py's (made once by diffusers, random init, seed 0, fp16
variant under $LCMD_BENCH_CACHE, default /tmp/lcmd-bench). Reported: the median step
time after the first (which plans the buffers), and the peak RSS of each process."""
import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from unet_forward import child, make_weights  # noqa: E402


def torch_side(folder, variant, threads, side, steps, gc):
    """Runs in a child process: the script's step (spec §6) on random latents; prints JSON."""
    import torch
    import torch.nn.functional as F
    from diffusers import DDPMScheduler, UNet2DConditionModel
    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    teacher = UNet2DConditionModel.from_pretrained(folder, variant=variant, torch_dtype=torch.float32)
    teacher.requires_grad_(False)
    cfg = dict(teacher.config)
    cfg["time_cond_proj_dim"] = 256
    student = UNet2DConditionModel(**cfg)
    student.load_state_dict(teacher.state_dict(), strict=False)
    student.train()
    if gc:
        student.enable_gradient_checkpointing()
    target = UNet2DConditionModel(**student.config)
    target.load_state_dict(student.state_dict())
    target.requires_grad_(False)
    opt = torch.optim.AdamW(student.parameters(), lr=1e-4, weight_decay=1e-2)
    sched = DDPMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear")
    ac = sched.alphas_cumprod
    setup_s = time.perf_counter() - t0
    g = torch.Generator().manual_seed(3)
    z0 = torch.randn(1, 4, side, side, generator=g)
    dim = teacher.config.cross_attention_dim
    cond, uncond = torch.randn(1, 77, dim, generator=g), torch.randn(1, 77, dim, generator=g)
    times, loss = [], None
    for _ in range(steps):
        f0 = time.perf_counter()
        n = int(torch.randint(0, 50, (1,), generator=g))
        t_s = torch.tensor([20 * n + 19])  # the DDIM grid of N = 50: 19, 39, ..., 999
        t_e = torch.clamp(t_s - 20, min=0)
        noise = torch.randn(z0.shape, generator=g)
        w = torch.rand(1, generator=g) * 10 + 5
        half = 128
        freq = torch.exp(torch.arange(half) * -(torch.log(torch.tensor(10000.0)) / (half - 1)))
        arg = w[:, None] * 1000.0 * freq[None]
        w_emb = torch.cat([torch.sin(arg), torch.cos(arg)], dim=1)
        a_s, s_s = ac[t_s].sqrt(), (1 - ac[t_s]).sqrt()
        zt = a_s * z0 + s_s * noise
        c_skip = lambda t: 0.25 / ((10.0 * t) ** 2 + 0.25)  # noqa: E731
        c_out = lambda t: 10.0 * t / ((10.0 * t) ** 2 + 0.25) ** 0.5  # noqa: E731
        o_s = student(zt, t_s, timestep_cond=w_emb, encoder_hidden_states=cond).sample
        pred = c_skip(t_s) * zt + c_out(t_s) * (zt - s_s * o_s) / a_s
        with torch.no_grad():
            e_c = teacher(zt, t_s, encoder_hidden_states=cond).sample
            e_u = teacher(zt, t_s, encoder_hidden_states=uncond).sample
            x0_c, x0_u = (zt - s_s * e_c) / a_s, (zt - s_s * e_u) / a_s
            x0 = x0_c + w * (x0_c - x0_u)
            eps = e_c + w * (e_c - e_u)
            ap = ac[t_e].double()
            x_prev = ap.sqrt() * x0.double() + (1 - ap).sqrt() * eps.double()
            o_t = target(x_prev.float(), t_e, timestep_cond=w_emb, encoder_hidden_states=cond).sample
            a_e, s_e = ac[t_e].sqrt(), (1 - ac[t_e]).sqrt()
            y = c_skip(t_e) * x_prev + c_out(t_e) * (x_prev - s_e * o_t) / a_e
        loss = F.mse_loss(pred.float(), y.float())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        with torch.no_grad():
            for tp, sp in zip(target.parameters(), student.parameters()):
                tp.mul_(0.95).add_(sp, alpha=0.05)
        times.append(time.perf_counter() - f0)
    print(json.dumps({"setup_s": setup_s, "step_s": times, "loss": loss.item()}))


def secs(t):
    return f"{t * 1000:.1f} ms" if t < 1 else f"{t:.1f} s"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build_dir")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--side", type=int, default=32, help="latent side (32: 256-px images; 64: 512 px)")
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--modes", default="0,1", help="gradient checkpointing modes to run (0,1)")
    ap.add_argument("--openblas-coretype", default=None)
    ap.add_argument("--weights", default=None, help="a UNet folder instead of the random SD1.5 one (e.g. the tiny "
                    "default's teacher)")
    ap.add_argument("--variant", default="fp16", help="weight-file variant of --weights ('-': none)")
    ap.add_argument("--torch-side", help=argparse.SUPPRESS)
    ap.add_argument("--gc", type=int, default=0, help=argparse.SUPPRESS)
    a = ap.parse_args()
    folder = a.weights or os.environ.get(
        "LCMD_BENCH_WEIGHTS", os.path.join(os.environ.get("LCMD_BENCH_CACHE", "/tmp/lcmd-bench"), "sd15-unet-random"))
    variant = None if a.variant == "-" else a.variant
    if a.torch_side:
        return torch_side(folder, variant, a.threads, a.side, a.steps, a.gc)
    if not a.weights:
        make_weights(folder)
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(a.threads), OMP_NUM_THREADS=str(a.threads))
    if a.openblas_coretype:
        env["OPENBLAS_CORETYPE"] = a.openblas_coretype
    import torch
    print(f"LCD micro-step of {folder} on the CPU, batch 1, {a.side}x{a.side} latent, 77 tokens, "
          f"{a.threads} threads, OPENBLAS_CORETYPE={a.openblas_coretype or 'auto'}, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'default')}")
    print(f"| side | gradient checkpointing | step (median of {max(1, a.steps - 1)} after the first) | first step | setup | peak RSS |")
    print("|---|---|---:|---:|---:|---:|")
    rows = {}
    for gc in [int(m) for m in a.modes.split(",")]:
        pt, pt_rss = child([sys.executable, __file__, a.build_dir, "--threads", str(a.threads), "--side", str(a.side),
                            "--steps", str(a.steps), "--gc", str(gc), "--weights", folder, "--variant", a.variant,
                            "--torch-side", "1"], env)
        lc, lc_rss = child([os.path.join(a.build_dir, "tests", "bench", "bench_step"), folder, a.variant, str(a.side),
                            "77", str(a.steps), str(a.threads), str(gc)], env)
        for name, r, rss in ((f"PyTorch {torch.__version__}", pt, pt_rss), ("liblcmd", lc, lc_rss)):
            t = statistics.median(r["step_s"][1:] or r["step_s"])
            rows[(name, gc)] = (t, rss)
            print(f"| {name} | {'on' if gc else 'off'} | {secs(t)} | {secs(r['step_s'][0])} | {secs(r['setup_s'])} | "
                  f"{rss / 1024:.2f} GiB |", flush=True)
        (pt_t, pt_m), (lc_t, lc_m) = rows[(f"PyTorch {torch.__version__}", gc)], rows[("liblcmd", gc)]
        print(f"gradient checkpointing {'on' if gc else 'off'}: liblcmd / PyTorch time {lc_t / pt_t:.2f}, "
              f"memory {lc_m / pt_m:.2f}", flush=True)


if __name__ == "__main__":
    main()
