"""Writes tests/fixtures/data/resize_parity.bin: PIL reference for the data transform.

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
from PIL import Image

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
    ]
    for i, (k, w, h, r, top, left) in enumerate(specs):
        a = image(k, w, h, i)
        nw, nh = resized_size(w, h, r)
        assert 0 <= top <= nh - r and 0 <= left <= nw - r, (k, w, h, r, top, left)
        cases.append(struct.pack("<6i", 0, w, h, r, top, left) + a.tobytes() + transform(a, r, top, left).tobytes())
    raw = [("noise", 50, 40, 50, 17), ("noise", 50, 40, 23, 40), ("edges", 64, 64, 7, 100), ("noise", 9, 9, 31, 2)]
    for i, (k, w, h, dw, dh) in enumerate(raw):
        a = image(k, w, h, 100 + i)
        out = np.asarray(Image.fromarray(a, "RGB").resize((dw, dh), Image.BILINEAR), dtype=np.uint8)
        cases.append(struct.pack("<5i", 1, w, h, dw, dh) + a.tobytes() + out.tobytes())
    with open(OUT, "wb") as f:
        f.write(b"LCMDRS01" + struct.pack("<i", len(cases)) + b"".join(cases))
    print(f"wrote {OUT}: {os.path.getsize(OUT)} bytes, {len(cases)} cases", file=sys.stderr)


if __name__ == "__main__":
    main()
