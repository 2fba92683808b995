"""Writes the PIL references of the data path under tests/fixtures/data/.

resize_parity.bin: the resize and the transform (below).
images/ + image_modes.bin: image files of every mode the data path meets and PIL's
decoded + convert("RGB") pixels (see write_image_modes).
batch_parity.bin: the training script's transform on a few of those files
(see write_batch_parity).

Pinned: pillow==13.0.0, numpy==2.2.6 (the tests/reference venv). Each case is a
deterministic RGB image (noise, gradients, edges), resized as torchvision's Resize(R)
on a PIL image does it (shorter side R, long side int(R*long/short), untouched when the
size already matches, Image.resize(..., BILINEAR)), cropped at a given (top, left),
and turned into float32 CHW as (u/255 - 0.5)/0.5. Raw cases resize to an explicit
size (one pass or both) and store the uint8 result.

File layout, little endian: magic b"LCMDRS01", int32 count, then per case
int32 kind (0 = transform, 1 = raw resize), int32 w, h, then
  kind 0: int32 R, top, left; uint8 src[h*w*3]; float32 out[3*R*R]
  kind 1: int32 dw, dh; uint8 src[h*w*3]; uint8 out[dh*dw*3]
"""
import os
import struct
import sys

import numpy as np
from PIL import Image, ImageOps

OUT = os.path.join(os.path.dirname(__file__), "..", "fixtures", "data", "resize_parity.bin")


def image(kind, w, h, seed):
    rng = np.random.default_rng(seed)
    if kind == "noise":
        a = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    elif kind == "gradient":
        y, x = np.mgrid[0:h, 0:w]
        a = np.stack([x * 255 // max(w - 1, 1), y * 255 // max(h - 1, 1), (x + y) * 255 // max(w + h - 2, 1)], -1)
        a = a.astype(np.uint8)
    else:  # edges: blocks of saturated colours, worst case for rounding
        a = ((rng.integers(0, 2, size=(h // 4 + 1, w // 4 + 1, 3)) * 255).astype(np.uint8)
             .repeat(4, 0).repeat(4, 1)[:h, :w])
    return np.ascontiguousarray(a)


def resized_size(w, h, r):
    if w <= h:
        return r, int(r * h / w)
    return int(r * w / h), r


def transform(a, r, top, left):
    im = Image.fromarray(a, "RGB")
    w, h = im.size
    nw, nh = resized_size(w, h, r)
    if (nw, nh) != (w, h):
        im = im.resize((nw, nh), Image.BILINEAR)
    im = im.crop((left, top, left + r, top + r))
    t = np.asarray(im, dtype=np.uint8).astype(np.float32) / np.float32(255.0)
    t = (t - np.float32(0.5)) / np.float32(0.5)
    return np.ascontiguousarray(t.transpose(2, 0, 1)).astype("<f4")


def main():
    cases = []
    specs = [  # kind, w, h, R, top, left
        ("noise", 97, 61, 32, 0, 11), ("gradient", 97, 61, 32, 0, 18), ("edges", 200, 120, 40, 0, 25),
        ("noise", 20, 13, 32, 0, 7), ("noise", 64, 64, 64, 0, 0), ("noise", 33, 128, 32, 40, 0),
        ("edges", 128, 129, 48, 0, 0), ("noise", 600, 23, 16, 0, 380), ("gradient", 45, 45, 16, 0, 0),
        ("noise", 5, 3, 17, 0, 10),
        # height shrinks by more than twice the width: Pillow runs the vertical pass first
        ("gradient", 40, 130, 32, 50, 0), ("noise", 45, 100, 24, 29, 0), ("edges", 31, 200, 16, 70, 0),
    ]
    for i, (k, w, h, r, top, left) in enumerate(specs):
        a = image(k, w, h, i)
        nw, nh = resized_size(w, h, r)
        assert 0 <= top <= nh - r and 0 <= left <= nw - r, (k, w, h, r, top, left)
        cases.append(struct.pack("<6i", 0, w, h, r, top, left) + a.tobytes() + transform(a, r, top, left).tobytes())
    raw = [("noise", 50, 40, 50, 17), ("noise", 50, 40, 23, 40), ("edges", 64, 64, 7, 100), ("noise", 9, 9, 31, 2),
           # vertical pass first (sh - dh > 2 (sw - dw) > ...), both passes
           ("noise", 60, 80, 50, 20), ("edges", 40, 90, 39, 30), ("gradient", 31, 64, 17, 9), ("noise", 30, 70, 45, 11),
           ("noise", 1, 40, 3, 7), ("edges", 7, 1, 3, 1), ("noise", 1, 1, 5, 3), ("noise", 64, 3, 1, 1)]
    rng = np.random.default_rng(2024)
    for _ in range(20):  # random sizes, both orders, up- and downscaling
        sw, sh, dw, dh = (int(v) for v in rng.integers(1, 48, size=4))
        raw.append((("noise", "edges", "gradient")[int(rng.integers(0, 3))], sw, sh, dw, dh))
    for i, (k, w, h, dw, dh) in enumerate(raw):
        a = image(k, w, h, 100 + i)
        out = np.asarray(Image.fromarray(a, "RGB").resize((dw, dh), Image.BILINEAR), dtype=np.uint8)
        cases.append(struct.pack("<5i", 1, w, h, dw, dh) + a.tobytes() + out.tobytes())
    with open(OUT, "wb") as f:
        f.write(b"LCMDRS01" + struct.pack("<i", len(cases)) + b"".join(cases))
    print(f"wrote {OUT}: {os.path.getsize(OUT)} bytes, {len(cases)} cases", file=sys.stderr)
    write_image_modes()
    write_batch_parity()


IMG_DIR = os.path.join(os.path.dirname(__file__), "..", "fixtures", "data", "images")
MODES_OUT = os.path.join(os.path.dirname(__file__), "..", "fixtures", "data", "image_modes.bin")
BATCH_OUT = os.path.join(os.path.dirname(__file__), "..", "fixtures", "data", "batch_parity.bin")


def photo(w, h, seed):
    """A photo-like RGB image: smooth shading, texture, noise and two sharp shapes."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    ch = []
    for c in range(3):
        f = rng.uniform(0.05, 0.4, size=4)
        v = 128 + 60 * np.sin(x * f[0] + f[1] * 7) * np.cos(y * f[2] + f[3] * 5) + 30 * (x / w - y / h)
        ch.append(v + rng.normal(0, 10, size=(h, w)))
    a = np.stack(ch, -1)
    a[h // 4:h // 2, w // 5:w // 2] = rng.integers(0, 256, size=3)
    a[(x - 0.7 * w) ** 2 + (y - 0.6 * h) ** 2 < (0.2 * min(w, h)) ** 2] = rng.integers(0, 256, size=3)
    return np.clip(np.rint(a), 0, 255).astype(np.uint8)


def png_raw(path, a, color_type):
    """A 16-bit PNG written by hand (Pillow writes 16 bits only for grey)."""
    import zlib
    h, w = a.shape[:2]
    rows = b"".join(b"\0" + a[y].astype(">u2").tobytes() for y in range(h))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, color_type, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


def exif_with(orientation):
    e = Image.Exif()
    e[0x0112] = orientation
    return e


def make_images():
    """Writes the mode fixtures; returns [(file, expected_rgb_override or None)]."""
    os.makedirs(IMG_DIR, exist_ok=True)
    rgb = Image.fromarray(photo(40, 30, 1), "RGB")
    alpha = Image.fromarray(np.tile(np.linspace(0, 255, 40).astype(np.uint8), (30, 1)), "L")
    rgba = rgb.copy()
    rgba.putalpha(alpha)  # column 0 fully transparent: its colour must survive
    files = []

    def save(name, im, **kw):
        im.save(os.path.join(IMG_DIR, name), **kw)
        files.append((name, None))
    save("rgb_q90.jpg", rgb, quality=90)
    save("rgb_q75_444.jpg", rgb, quality=75, subsampling=0)
    save("rgb_q95_422.jpg", rgb, quality=95, subsampling=1)
    save("rgb_progressive.jpg", rgb, quality=85, progressive=True)
    save("rgb_odd_37x23.jpg", Image.fromarray(photo(37, 23, 2), "RGB"), quality=90)
    save("gray.jpg", rgb.convert("L"), quality=90)
    save("cmyk.jpg", rgb.convert("CMYK"), quality=90)
    small = Image.fromarray(photo(9, 5, 3), "RGB")
    for o in range(1, 9):
        save(f"exif{o}.jpg", small, quality=95, exif=exif_with(o))
    save("rgb.png", rgb)
    save("gray.png", rgb.convert("L"))
    save("gray_alpha.png", Image.merge("LA", (rgb.convert("L"), alpha)))
    save("rgba.png", rgba)
    save("gray_trns.png", rgb.convert("L"), transparency=50)
    save("bilevel.png", rgb.convert("1"))
    pal = rgb.quantize(64)
    save("palette.png", pal)
    save("palette_trns.png", pal, transparency=bytes(range(0, 256, 4)))
    save("palette_4bit.png", rgb.quantize(16), bits=4)
    save("exif8.png", rgb, exif=exif_with(8))
    g16 = (photo(40, 30, 4)[..., 0].astype(np.uint32) * 257 + np.arange(40)[None, :] % 7).astype(np.uint16)
    save("gray16.png", Image.frombytes("I;16", (40, 30), g16.astype("<u2").tobytes()))
    # PIL opens 16-bit grey as I;16 and convert("RGB") clips at 255 (almost white);
    # liblcmd keeps the high byte (docs/differences.md)
    pil16 = np.asarray(Image.open(os.path.join(IMG_DIR, "gray16.png")).convert("RGB"))
    assert (pil16 == np.minimum(g16, 255)[..., None].astype(np.uint8)).all()
    files[-1] = ("gray16.png", np.repeat((g16 >> 8).astype(np.uint8)[..., None], 3, -1))
    c16 = photo(40, 30, 5).astype(np.uint16) * 257 + 3
    png_raw(os.path.join(IMG_DIR, "rgb16.png"), c16, 2)
    files.append(("rgb16.png", None))
    png_raw(os.path.join(IMG_DIR, "rgba16.png"), np.dstack([c16, g16]), 6)
    files.append(("rgba16.png", None))
    png_raw(os.path.join(IMG_DIR, "gray_alpha16.png"), np.dstack([g16, g16[::-1]]), 4)
    files.append(("gray_alpha16.png", None))
    save("lossy.webp", rgb, quality=80)
    save("lossless.webp", rgb, lossless=True)
    save("lossy_alpha.webp", rgba, quality=80)
    save("lossless_alpha.webp", rgba, lossless=True, exact=True)
    save("exif3.webp", rgb, quality=80, exif=exif_with(3))
    return files


def write_image_modes():
    """image_modes.bin, little endian: b"LCMDIM01", int32 count, then per entry
    char name[32] (NUL-padded file name under images/), int32 exif (1: orientation
    applied, as ImageOps.exif_transpose), int32 w, h, uint8 rgb[h*w*3]."""
    out = []
    for name, override in make_images():
        im = Image.open(os.path.join(IMG_DIR, name))
        plain = override if override is not None else np.asarray(im.convert("RGB"))
        entries = [(0, plain)]
        if im.getexif().get(0x0112, 1) != 1:
            entries.append((1, np.asarray(ImageOps.exif_transpose(im).convert("RGB"))))
        for flag, a in entries:
            h, w = a.shape[:2]
            out.append(name.encode().ljust(32, b"\0") + struct.pack("<3i", flag, w, h)
                       + np.ascontiguousarray(a, dtype=np.uint8).tobytes())
    with open(MODES_OUT, "wb") as f:
        f.write(b"LCMDIM01" + struct.pack("<i", len(out)) + b"".join(out))
    total = sum(os.path.getsize(os.path.join(IMG_DIR, n)) for n in os.listdir(IMG_DIR))
    print(f"wrote {MODES_OUT}: {len(out)} entries; images/: {total} bytes", file=sys.stderr)


def reference_transform(path, r, top, left):
    """The training script's image path for one sample with given crop offsets:
    webdataset's PIL decode + convert("RGB"), torchvision Resize(R, BILINEAR) on a PIL
    image (shorter side R, long side int(R * long / short), untouched when the size
    already matches: torchvision calls img.resize((w, h), BILINEAR)), crop at
    (top, left), ToTensor (float32 / 255), Normalize([0.5], [0.5])."""
    im = Image.open(path).convert("RGB")
    w, h = im.size
    nw, nh = resized_size(w, h, r)
    if (nw, nh) != (w, h):
        im = im.resize((nw, nh), Image.BILINEAR)
    resized = np.asarray(im, dtype=np.uint8)
    t = resized[top:top + r, left:left + r].astype(np.float32) / np.float32(255.0)
    t = (t - np.float32(0.5)) / np.float32(0.5)
    return resized, np.ascontiguousarray(t.transpose(2, 0, 1)).astype("<f4")


def center(size, r):
    return int(round((size - r) / 2.0))  # torchvision CenterCrop


def write_batch_parity():
    """batch_parity.bin, little endian: b"LCMDBP01", int32 R, int32 count, then per
    image char name[32] (file under images/), int32 nw, nh (resized size), int32
    n_offsets, uint8 resized[nh*nw*3], then per offset int32 top, left and float32
    out[3*R*R]; the first offset is the centre crop."""
    r = 16
    specs = [("batch_a.jpg", 56, 42, "jpg"), ("batch_b.png", 40, 72, "rgba"), ("batch_c.webp", 48, 48, "webp"),
             ("batch_d.jpg", 100, 30, "cmyk"), ("batch_e.jpg", 30, 70, "jpg"), ("batch_f.png", 12, 9, "png"),
             ("batch_g.jpg", 16, 20, "gray")]
    out = []
    for i, (name, w, h, kind) in enumerate(specs):
        im = Image.fromarray(photo(w, h, 50 + i), "RGB")
        p = os.path.join(IMG_DIR, name)
        if kind == "rgba":
            im.putalpha(Image.fromarray(photo(w, h, 60 + i)[..., 1], "L"))
            im.save(p)
        elif kind == "webp":
            im.save(p, quality=85)
        elif kind == "cmyk":
            im.convert("CMYK").save(p, quality=90)
        elif kind == "gray":
            im.convert("L").save(p, quality=90)
        elif kind == "png":
            im.save(p)
        else:
            im.save(p, quality=90)
        nw, nh = resized_size(w, h, r)
        offs = [(center(nh, r), center(nw, r)), (0, 0), (nh - r, nw - r)]
        blob = b""
        for top, left in offs:
            resized, t = reference_transform(p, r, top, left)
            blob += struct.pack("<2i", top, left) + t.tobytes()
        out.append(name.encode().ljust(32, b"\0") + struct.pack("<3i", nw, nh, len(offs)) + resized.tobytes() + blob)
    with open(BATCH_OUT, "wb") as f:
        f.write(b"LCMDBP01" + struct.pack("<2i", r, len(out)) + b"".join(out))
    print(f"wrote {BATCH_OUT}: {os.path.getsize(BATCH_OUT)} bytes, {len(out)} images", file=sys.stderr)


if __name__ == "__main__":
    main()
