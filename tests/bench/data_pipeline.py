"""Benchmark (not a test): the training data path, liblcmd's lcmd_dataset side by side
with the reference's Python pipeline doing the same work, in one run.

Both sides read the same JPEG shards (made here with lcmd-mkshards) and produce batches
of B images R x R (default 8 x 512) as the training loop receives them: decode, resize
the shorter side to R (bilinear, antialiased), random crop R x R, to float CHW,
normalise to [-1, 1]. Each side runs with 1 and 2 workers: threads of lcmd_dataset;
worker processes of a torch DataLoader over the script's webdataset pipeline
(tarfile_to_samples, shuffle(1000), decode("pil"), rename, the transform, to_tuple,
batched(B, partial=False); split_by_worker so that the workers share the shards the way
lcmd_dataset's workers do). torchvision is not installed, so the transform is written
with PIL + numpy doing the same work as the script's TF.resize / RandomCrop / to_tensor
/ normalize.

  tests/reference/.venv/bin/python tests/bench/data_pipeline.py BUILD_DIR
      [--photos DIR] [--images 200] [--shards 4] [--epochs 2] [--resolution 512]
      [--batch 8] [--workers 1 2] [--work DIR]

Images: JPEGs of 500-1500 px on the long side (quality 90, every third progressive),
cut at random from the photographs of Debian's plasma-workspace-wallpapers when --photos
names their folder (`apt-get download plasma-workspace-wallpapers; dpkg -x *.deb DIR`,
then --photos DIR/usr/share/wallpapers; /usr/share/wallpapers is used when installed);
otherwise synthesised photo-like images (smooth gradients, noise, shapes). The shards
are cached in --work (default $LCMD_BENCH_CACHE/data or /tmp/lcmd-bench/data).

Timing: from the first batch to the last (start-up and the shuffle buffer's first fill
are reported apart); CPU time of every process (Python: the main one and its workers)
or thread (C) over the same window gives images per CPU-second, the per-core rate."""
import argparse
import glob
import io
import json
import os
import random
import subprocess
import sys
import time

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

# the wallpapers that are photographs (the package also holds artwork)
PHOTO_NAMES = ("Autumn", "BytheWater", "ColdRipple", "ColorfulCups", "DarkestHour", "EveningGlow", "FallenLeaf",
               "Flow", "Grey", "Honeywave", "Kite", "OneStandsOut", "PastelHills", "Path", "SafeLanding", "Shell",
               "Volna", "summer_1am")


def find_photos(folder):
    """The largest JPEG of each photographic wallpaper under folder."""
    out = []
    for name in PHOTO_NAMES:
        files = glob.glob(os.path.join(folder, name, "contents", "images", "*.jpg"))
        if files:
            out.append(max(files, key=os.path.getsize))
    return out


def synth_image(rng, w, h):
    """A photo-like image: smooth gradients, soft shapes, sensor-like noise."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.zeros((h, w, 3), np.float32)
    for c in range(3):
        a, b, p = rng.uniform(-1, 1), rng.uniform(-1, 1), rng.uniform(0, 6.28)
        base[..., c] = 128 + 90 * np.sin(a * x / w * 3 + b * y / h * 3 + p)
    im = Image.fromarray(base.clip(0, 255).astype(np.uint8))
    d = ImageDraw.Draw(im)
    for _ in range(int(rng.integers(5, 15))):
        x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
        r = int(rng.integers(10, max(11, min(w, h) // 3)))
        col = tuple(int(v) for v in rng.integers(0, 256, 3))
        (d.ellipse if rng.random() < 0.5 else d.rectangle)([x0 - r, y0 - r, x0 + r, y0 + r], fill=col)
    im = im.filter(ImageFilter.GaussianBlur(2))
    a = np.asarray(im).astype(np.float32) + rng.normal(0, 6, (h, w, 3))
    return Image.fromarray(a.clip(0, 255).astype(np.uint8))


def make_images(folder, photos, n, seed=0):
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    sources = [Image.open(p).convert("RGB") for p in photos]
    for i in range(n):
        long_side = int(rng.integers(500, 1501))
        aspect = float(np.exp(rng.uniform(np.log(0.5), np.log(2.0))))  # w / h
        w, h = (long_side, max(1, int(long_side / aspect))) if aspect >= 1 else (max(1, int(long_side * aspect)), long_side)
        if sources:
            src = sources[i % len(sources)]
            # a random window of the photo with the target aspect, at least half its size
            sw, sh = src.size
            scale = rng.uniform(0.5, 1.0)
            cw = min(sw, int(sh * aspect)) * scale
            ch = cw / aspect
            x0 = rng.uniform(0, sw - cw)
            y0 = rng.uniform(0, sh - ch)
            im = src.resize((w, h), Image.LANCZOS, box=(x0, y0, x0 + cw, y0 + ch))
            what = os.path.basename(os.path.dirname(os.path.dirname(os.path.dirname(photos[i % len(photos)]))))
        else:
            im = synth_image(rng, w, h)
            what = "synthetic"
        key = f"{i:06d}"
        im.save(os.path.join(folder, key + ".jpg"), "JPEG", quality=90, progressive=(i % 3 == 2))
        with open(os.path.join(folder, key + ".txt"), "w", encoding="utf-8") as f:
            f.write(f"a photograph, {what}, number {i}")


def make_shards(args, mkshards):
    marker = os.path.join(args.work, "shards", "DONE.json")
    want = {"images": args.images, "shards": args.shards, "photos": bool(args.photo_files)}
    if os.path.exists(marker):
        with open(marker) as f:
            if json.load(f) == want:
                return os.path.join(args.work, "shards")
    img = os.path.join(args.work, "images")
    subprocess.run(["rm", "-rf", img, os.path.join(args.work, "shards")], check=True)
    make_images(img, args.photo_files, args.images)
    per = (args.images + args.shards - 1) // args.shards
    subprocess.run([mkshards, img, os.path.join(args.work, "shards", "%05d.tar"), "--maxcount", str(per)],
                   check=True, stdout=subprocess.DEVNULL)
    with open(marker, "w") as f:
        json.dump(want, f)
    return os.path.join(args.work, "shards")


# ---------------------------------------------------------------- Python side

def cpu_of(pids):
    """user + system seconds of the given processes (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def make_transform(resolution):
    def transform(example):
        # the script: TF.resize(image, R, BILINEAR) (shorter side to R, long side truncated)
        image = example["image"]
        w, h = image.size
        if w <= h:
            size = (resolution, int(resolution * h / w))
        else:
            size = (int(resolution * w / h), resolution)
        if size != (w, h):
            image = image.resize(size, Image.BILINEAR)
        # transforms.RandomCrop.get_params + TF.crop
        top = random.randint(0, size[1] - resolution)
        left = random.randint(0, size[0] - resolution)
        image = image.crop((left, top, left + resolution, top + resolution))
        # TF.to_tensor: uint8 HWC -> float CHW / 255; TF.normalize([0.5], [0.5])
        x = np.asarray(image, dtype=np.uint8).transpose(2, 0, 1).astype(np.float32) / 255.0
        example["image"] = (x - 0.5) / 0.5
        return example
    return transform


def python_side(shard_dir, resolution, batch, epochs, workers):
    import torch
    import webdataset as wds

    urls = sorted(glob.glob(os.path.join(shard_dir, "*.tar"))) * epochs

    def filter_keys(keys):
        return lambda d: {k: v for k, v in d.items() if k in keys}

    pipe = wds.DataPipeline(
        wds.SimpleShardList(urls),
        wds.split_by_worker,
        wds.tarfile_to_samples(handler=wds.warn_and_continue),
        wds.shuffle(1000, initial=100),
        wds.decode("pil", handler=wds.warn_and_continue),
        wds.rename(image="jpg;png;jpeg;webp", text="text;txt;caption", handler=wds.warn_and_continue),
        wds.map(filter_keys({"image", "text"})),
        wds.map(make_transform(resolution)),
        wds.to_tuple("image", "text"),
        wds.batched(batch, partial=False),
    )
    loader = torch.utils.data.DataLoader(pipe, batch_size=None, shuffle=False, num_workers=workers,
                                         persistent_workers=True)
    t0 = time.perf_counter()
    it = iter(loader)
    pids = [os.getpid()] + [w.pid for w in it._workers]
    batches = images = 0
    start = cpu0 = first = 0.0
    checksum = 0.0
    for images_t, texts in it:
        checksum += float(images_t[:, 0, 0, 0].sum())
        if batches == 0:
            start = time.perf_counter()
            first = start - t0
            cpu0 = cpu_of(pids)
        else:
            images += images_t.shape[0]
        batches += 1
    secs = time.perf_counter() - start
    cpu = cpu_of(pids) - cpu0
    del it, loader
    return {"side": "python", "workers": workers, "resolution": resolution, "batch": batch, "batches": batches,
            "images_timed": images, "seconds": secs, "images_per_s": images / secs, "cpu_s": cpu,
            "images_per_cpu_s": images / cpu, "first_batch_s": first, "checksum": checksum}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("build_dir")
    ap.add_argument("--photos", default=None)
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--resolution", type=int, default=512)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--work", default=os.path.join(os.environ.get("LCMD_BENCH_CACHE", "/tmp/lcmd-bench"), "data"))
    args = ap.parse_args()
    photos = args.photos or ("/usr/share/wallpapers" if os.path.isdir("/usr/share/wallpapers") else None)
    args.photo_files = find_photos(photos) if photos else []
    bench = os.path.join(args.build_dir, "tests", "bench", "bench_data")
    mkshards = os.path.join(args.build_dir, "examples", "lcmd-mkshards")
    shard_dir = make_shards(args, mkshards)
    src = (f"{len(args.photo_files)} photographs of plasma-workspace-wallpapers" if args.photo_files
           else "synthesised photo-like images")
    print(f"shards: {shard_dir} ({args.images} JPEGs of 500-1500 px from {src}, {args.shards} shards)", flush=True)

    rows = []
    for w in args.workers:
        out = subprocess.run([bench, shard_dir, str(args.resolution), str(args.batch), str(args.epochs), str(w)],
                             check=True, capture_output=True, text=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), flush=True)
        rows.append(python_side(shard_dir, args.resolution, args.batch, args.epochs, w))
        print(json.dumps(rows[-1]), flush=True)

    print(f"\n{os.cpu_count()} CPUs; batches of {args.batch} x 3 x {args.resolution}^2, {args.epochs} epochs "
          f"of {args.images} images\n")
    print("| workers | C images/s | Python images/s | C images/CPU-s | Python images/CPU-s | per-core ratio |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for w in args.workers:
        c = next(r for r in rows if r["side"] == "c" and r["workers"] == w)
        p = next(r for r in rows if r["side"] == "python" and r["workers"] == w)
        print(f"| {w} | {c['images_per_s']:.1f} | {p['images_per_s']:.1f} | {c['images_per_cpu_s']:.1f} | "
              f"{p['images_per_cpu_s']:.1f} | {c['images_per_cpu_s'] / p['images_per_cpu_s']:.2f}x |")


if __name__ == "__main__":
    sys.exit(main())
