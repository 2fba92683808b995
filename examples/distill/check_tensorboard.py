"""Reads lcmd-distill's TensorBoard event file with TensorBoard's own loader and checks
it against the run's metrics.jsonl: every optimizer step's train/loss and train/lr,
the validation gaps, and the validation images (PNG of the stated size).

  python check_tensorboard.py LOGS_DIR        (exit 0 when everything matches)"""
import glob
import io
import json
import math
import struct
import sys
import zlib

from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
from tensorboard.util import tensor_util


def png_size(data):
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise SystemExit("image is not a PNG")
    w, h = struct.unpack(">II", data[16:24])
    return h, w


def main():
    logs = sys.argv[1]
    files = sorted(glob.glob(f"{logs}/events.out.tfevents.*"))
    if not files:
        raise SystemExit(f"no event file in {logs}")
    scalars, images, version = {}, {}, None
    for path in files:
        for ev in EventFileLoader(path).Load():
            if ev.HasField("file_version"):
                version = ev.file_version
            for v in ev.summary.value:
                kind = v.WhichOneof("value")
                if kind == "simple_value":
                    scalars.setdefault(v.tag, {})[ev.step] = v.simple_value
                elif kind == "image":
                    images.setdefault(v.tag, {})[ev.step] = (v.image.height, v.image.width, v.image.encoded_image_string)
                elif kind == "tensor":  # TensorBoard's loader migrates values to tensors
                    arr = tensor_util.make_ndarray(v.tensor)
                    if arr.size == 1:
                        scalars.setdefault(v.tag, {})[ev.step] = float(arr.reshape(()))
                    else:  # an image: [width, height, PNG bytes...] as strings
                        images.setdefault(v.tag, {})[ev.step] = (int(arr[1]), int(arr[0]), bytes(arr[2]))
    if version != "brain.Event:2":
        raise SystemExit(f"file_version {version!r}")
    train = [json.loads(l) for l in open(f"{logs}/metrics.jsonl") if '"train"' in l]
    steps = [t for t in train if t["optimizer_step"] and not t["skipped"]]
    for t in steps:
        for tag, key in (("train/loss", "loss"), ("train/lr", "lr")):
            got = scalars.get(tag, {}).get(t["step"])
            if got is None or not math.isclose(got, t[key], rel_tol=1e-6, abs_tol=1e-30):
                raise SystemExit(f"{tag} at step {t['step']}: {got} vs {t[key]} in metrics.jsonl")
    val = [json.loads(l) for l in open(f"{logs}/metrics.jsonl") if '"validation"' in l]
    for v in val:
        got = scalars.get("validation/consistency_gap_online", {}).get(v["step"])
        if got is None or not math.isclose(got, v["consistency_gap_online"], rel_tol=1e-6):
            raise SystemExit(f"validation gap at step {v['step']}: {got}")
        for tag in ("validation/online", "validation/target"):
            h, w, data = images[tag][v["step"]]
            if png_size(data) != (h, w):
                raise SystemExit(f"{tag} at step {v['step']}: PNG size {png_size(data)} vs {(h, w)}")
    print(f"TensorBoard read {len(steps)} training steps, {len(val)} validations, "
          f"{sum(len(x) for x in images.values())} images: all match metrics.jsonl")


if __name__ == "__main__":
    main()
