#!/usr/bin/env python3
"""A host training loop on liblcmd from Python: dataset -> trainer step -> checkpoint ->
export, then a few LCM sampling steps with the distilled student.

    python3 train_loop.py --output runs/demo --demo --steps 4
    python3 train_loop.py --teacher sd15/ --shards 'shards/{00000..00099}.tar' \
        --output runs/sd15 --steps 1000 --resolution 512 --batch-size 12

With --demo (or without --teacher/--shards) it first writes the library's tiny demo
teacher and shards under OUTPUT. Running it again resumes from the latest checkpoint
(weights, optimizer and the data stream's position). The sample is written as
OUTPUT/sample.ppm (binary PPM: no imaging library needed).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the lcmd package beside us
import lcmd  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--teacher", help="a diffusers SD 1.x/2.x pipeline folder")
    ap.add_argument("--shards", help="WebDataset shard spec")
    ap.add_argument("--demo", action="store_true", help="write and use the demo teacher and shards")
    ap.add_argument("--output", required=True, help="run folder: checkpoints, export, sample")
    ap.add_argument("--steps", type=int, default=4, help="optimizer steps to reach")
    ap.add_argument("--batch-size", type=int, default=2)
    ap.add_argument("--resolution", type=int, default=32)
    ap.add_argument("--learning-rate", type=float, default=1e-4)
    ap.add_argument("--checkpoint-every", type=int, default=2)
    ap.add_argument("--sample-steps", type=int, default=4, help="LCM sampling steps")
    ap.add_argument("--prompt", default="a small red circle on a blue background")
    ap.add_argument("--guidance-scale", type=float, default=8.0)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    return ap.parse_args(argv)


def prepare_demo(ctx: lcmd.Context, out: Path, resolution: int) -> tuple:
    """Writes the demo teacher and shards once; returns (teacher, shards)."""
    teacher, shards = out / "demo-teacher", out / "demo-shards"
    if not (teacher / "model_index.json").exists():
        lcmd.demo.write_teacher(ctx, teacher)
    if not shards.exists():
        lcmd.demo.write_shards(shards, num_shards=2, samples_per_shard=16, resolution=resolution)
    return teacher, shards


def train(ctx: lcmd.Context, pipe: lcmd.Pipeline, args: argparse.Namespace, shards: Path, out: Path) -> lcmd.Trainer:
    """Runs (or resumes) training up to args.steps optimizer steps; returns the trainer."""
    trainer = lcmd.Trainer(ctx, pipe.unet, pipe.scheduler_config(), learning_rate=args.learning_rate,
                           max_train_steps=args.steps, seed=args.seed)
    trainer.set_encoders(pipe.tokenizer(), pipe.text_encoder(), pipe.vae)
    data = lcmd.Dataset(ctx, shards=shards, resolution=args.resolution, batch_size=args.batch_size,
                        seed=args.seed, resampled=1, shuffle_buffer=16, shuffle_initial=8)
    if trainer.resume(out, "latest"):
        done = trainer.progress()
        data.skip(done.micro_steps)  # the stream continues where the checkpoint stood
        print(f"resumed at step {done.step}")
    while trainer.progress().step < args.steps:
        with data.next() as batch:  # resampled: the stream never ends
            rep = trainer.step(batch)
        print(f"step {rep.step:4d}  loss {rep.loss:.6f}  grad norm {rep.grad_norm:.4f}  lr {rep.lr:.2e}")
        if rep.optimizer_stepped and rep.step % args.checkpoint_every == 0:
            print("saved", trainer.save_checkpoint(out, total_limit=2))
    data.close()
    trainer.export(out)
    return trainer


def sample(ctx: lcmd.Context, pipe: lcmd.Pipeline, student: lcmd.UNet, args: argparse.Namespace) -> np.ndarray:
    """A few LCM steps with the student; returns the image [3, H, W] in [-1, 1]."""
    tok, te, vae = pipe.tokenizer(), pipe.text_encoder(), pipe.vae
    emb = te(tok.encode_padded([args.prompt]))
    info, vi = student.info, vae.info
    w = np.array([args.guidance_scale - 1.0], np.float32)  # as LatentConsistencyModelPipeline
    w_emb = lcmd.guidance_scale_embedding(w, info.time_cond_proj_dim)
    side = args.resolution // vi.downsample_factor
    n = vi.latent_channels * side * side
    latents = lcmd.rng_normal(args.seed, 0, 0, n).reshape(1, vi.latent_channels, side, side)
    sched = lcmd.LCMScheduler(pipe.scheduler_config(), ctx)
    denoised = latents
    for t in sched.set_timesteps(args.sample_steps):
        eps = student(latents, float(t), emb, timestep_cond=w_emb)
        latents, denoised = sched.step(eps, int(t), latents, return_denoised=True)
        print(f"sample t={int(t):4d}  |x0| {float(np.abs(denoised).mean()):.4f}")
    image = vae.decode(vae.unscale_latents(denoised))[0]
    sched.close()
    return np.clip(image, -1.0, 1.0)


def write_ppm(path: Path, image: np.ndarray) -> None:
    """Writes [3, H, W] in [-1, 1] as a binary PPM."""
    rgb = np.round((image.transpose(1, 2, 0) + 1.0) * 127.5).astype(np.uint8)
    with open(path, "wb") as f:
        f.write(b"P6 %d %d 255\n" % (rgb.shape[1], rgb.shape[0]))
        f.write(rgb.tobytes())


def main(argv=None) -> int:
    args = parse_args(argv)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    with lcmd.Context(num_threads=args.threads, seed=args.seed, log_level=lcmd.LogLevel.ERROR) as ctx:
        if args.demo or not (args.teacher and args.shards):
            teacher, shards = prepare_demo(ctx, out, args.resolution)
        else:
            teacher, shards = Path(args.teacher), Path(args.shards)
        with lcmd.Pipeline(ctx, teacher) as pipe:
            trainer = train(ctx, pipe, args, shards, out)
            image = sample(ctx, pipe, trainer.student, args)
            trainer.close()
        write_ppm(out / "sample.ppm", image)
        print("wrote", out / "unet", out / "unet_target", out / "sample.ppm")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except lcmd.LcmdError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
