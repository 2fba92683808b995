"""Loads what lcmd-distill leaves in an output folder with diffusers, as a user would:
the exported unet/ and unet_target/, the newest checkpoint's unet/, and the tiny teacher
pipeline; then makes a 4-step image with LatentConsistencyModelPipeline from the teacher
folder with the distilled UNet and LCMScheduler. Exit 0 when all of it works.

  python check_diffusers.py OUTPUT_DIR"""
import glob
import os
import sys

import torch
from diffusers import LatentConsistencyModelPipeline, LCMScheduler, UNet2DConditionModel


def main():
    out = sys.argv[1]
    unets = {name: UNet2DConditionModel.from_pretrained(os.path.join(out, name)) for name in ("unet", "unet_target")}
    ckpts = sorted(glob.glob(os.path.join(out, "checkpoint-*")), key=lambda p: int(p.rsplit("-", 1)[1]))
    if ckpts:
        UNet2DConditionModel.from_pretrained(os.path.join(ckpts[-1], "unet"))
        UNet2DConditionModel.from_pretrained(os.path.join(ckpts[-1], "unet_target"))
    unet = unets["unet"]
    if not unet.config.time_cond_proj_dim:
        raise SystemExit("the exported UNet has no time_cond_proj_dim")
    teacher = os.path.join(out, "tiny-teacher")
    sched = LCMScheduler.from_pretrained(teacher, subfolder="scheduler")
    pipe = LatentConsistencyModelPipeline.from_pretrained(teacher, unet=unet, scheduler=sched, safety_checker=None,
                                                          feature_extractor=None, requires_safety_checker=False)
    g = torch.Generator().manual_seed(0)
    img = pipe("a large red circle on a black background", num_inference_steps=4, guidance_scale=7.5, height=32, width=32,
               generator=g, output_type="np").images
    if img.shape != (1, 32, 32, 3) or not torch.isfinite(torch.from_numpy(img)).all():
        raise SystemExit(f"bad image {img.shape}")
    print(f"diffusers loaded unet, unet_target{', ' + os.path.basename(ckpts[-1]) if ckpts else ''} and the teacher; "
          f"LatentConsistencyModelPipeline made a {img.shape[1]}x{img.shape[2]} image in 4 steps")


if __name__ == "__main__":
    main()
