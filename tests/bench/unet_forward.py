"""Benchmark (not a test): the UNet forward of a full-size SD1.5 UNet (random weights)
at a 64x64 latent, liblcmd side by side with PyTorch doing the same forward in the same
run: on the CPU with the same thread count (time, peak memory and the GEMM floor), or
on a GPU (--device cuda:0; fp32 on both sides, TF32 off on both sides).

  tests/reference/.venv/bin/python tests/bench/unet_forward.py BUILD_DIR [--threads N] [--iters N]

The weights are made once by diffusers (random init, seed 0) and saved as an fp16
variant under $LCMD_BENCH_CACHE (default /tmp/lcmd-bench); both sides load them."""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

SD15 = dict(sample_size=64, in_channels=4, out_channels=4, layers_per_block=2,
            block_out_channels=(320, 640, 1280, 1280), cross_attention_dim=768, attention_head_dim=8,
            down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"))


def make_weights(folder):
    import torch
    from diffusers import UNet2DConditionModel
    if os.path.exists(os.path.join(folder, "config.json")):
        return
    torch.manual_seed(0)
    UNet2DConditionModel(**SD15).save_pretrained(folder, variant="fp16", torch_dtype=torch.float16)


def torch_side(folder, threads, iters, device):
    """Runs in a child process: load, FLOP count, timed forwards; prints JSON."""
    import torch
    from diffusers import UNet2DConditionModel
    from torch.utils.flop_counter import FlopCounterMode
    torch.set_num_threads(threads)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    t0 = time.perf_counter()
    unet = UNet2DConditionModel.from_pretrained(folder, variant="fp16", torch_dtype=torch.float32).eval().to(device)
    load_s = time.perf_counter() - t0
    g = torch.Generator().manual_seed(3)
    x, ehs, t = torch.randn(1, 4, 64, 64, generator=g), torch.randn(1, 77, 768, generator=g), torch.tensor([500.0])
    x, ehs, t = x.to(device), ehs.to(device), t.to(device)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    times = []
    with torch.no_grad():
        with FlopCounterMode(display=False) as fc:
            unet(x, t, ehs)
        for _ in range(iters):
            sync()
            f0 = time.perf_counter()
            unet(x, t, ehs)
            sync()
            times.append(time.perf_counter() - f0)
    print(json.dumps({"load_s": load_s, "forward_s": times, "flops": fc.get_total_flops(),
                      "attention": str(unet.attn_processors[next(iter(unet.attn_processors))].__class__.__name__)}))


def child(cmd, env=None):
    """Runs cmd, returns (parsed JSON of its last stdout line, peak RSS in MiB)."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    out = p.stdout.read()
    _, status, usage = os.wait4(p.pid, 0)
    if status != 0:
        raise SystemExit(f"{cmd[0]} failed with status {status}")
    return json.loads(out.strip().splitlines()[-1]), usage.ru_maxrss / 1024.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build_dir")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--device", default="cpu", help="cpu or cuda:N")
    ap.add_argument("--openblas-coretype", default=None,
                    help="OPENBLAS_CORETYPE for liblcmd's side (e.g. Haswell where OpenBLAS does not know the CPU)")
    ap.add_argument("--torch-side", help=argparse.SUPPRESS)
    a = ap.parse_args()
    folder = os.path.join(os.environ.get("LCMD_BENCH_CACHE", "/tmp/lcmd-bench"), "sd15-unet-random")
    folder = os.environ.get("LCMD_BENCH_WEIGHTS", folder)
    if a.torch_side:
        return torch_side(folder, a.threads, a.iters, a.device)
    make_weights(folder)
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(a.threads), OMP_NUM_THREADS=str(a.threads))
    if a.openblas_coretype:
        env["OPENBLAS_CORETYPE"] = a.openblas_coretype
    pt, pt_rss = child([sys.executable, __file__, a.build_dir, "--threads", str(a.threads),
                        "--iters", str(a.iters), "--device", a.device, "--torch-side", "1"], env)
    lc, lc_rss = child([os.path.join(a.build_dir, "tests", "bench", "bench_unet"), folder, "fp16", "64", "64",
                        "77", str(a.iters), str(a.threads), a.device], env)
    flops = pt["flops"]
    floor = flops / (lc["sgemm_gflops"] * 1e9) if lc["sgemm_gflops"] else float("nan")
    pt_t, lc_t = statistics.median(pt["forward_s"]), statistics.median(lc["forward_s"])
    print(f"SD1.5 UNet forward on {a.device}, batch 1, 64x64 latent, 77 tokens, {a.threads} threads, "
          f"{flops / 1e12:.3f} TFLOP (PyTorch's count), OPENBLAS_CORETYPE={a.openblas_coretype or 'auto'}, OpenBLAS sgemm {lc['sgemm_gflops']:.1f} GFLOP/s -> floor {floor:.2f} s")
    print("| side | forward (median of %d) | load | peak RSS |" % a.iters)
    print("|---|---:|---:|---:|")
    print(f"| PyTorch {__import__('torch').__version__} ({pt['attention']}) | {pt_t:.2f} s | {pt['load_s']:.1f} s | {pt_rss:.0f} MiB |")
    print(f"| liblcmd | {lc_t:.2f} s | {lc['load_s']:.1f} s | {lc_rss:.0f} MiB |")
    print(f"liblcmd / PyTorch time: {lc_t / pt_t:.2f}; liblcmd / floor: {lc_t / floor:.2f}; "
          f"memory ratio {lc_rss / pt_rss:.2f}")


if __name__ == "__main__":
    main()
