"""Proves that a UNet folder written by liblcmd loads in diffusers and gives liblcmd's
output. Usage: check_unet_roundtrip.py DIR, where DIR holds `unet/` (saved by
lcmd_unet_save, fp32 and a bf16 variant) and `io.safetensors` (inputs and liblcmd's
output), as tests/models/test_unet_api.c leaves them when LCMD_UNET_ROUNDTRIP_DIR=DIR.
Exits non-zero when the folder does not load or the outputs differ by more than 1e-4."""
import os
import sys

import torch
from diffusers import UNet2DConditionModel
from safetensors.torch import load_file


def main(d):
    io = load_file(os.path.join(d, "io.safetensors"))
    ok = True
    for variant, tol in ((None, 1e-4), ("bf16", 2e-2)):
        unet = UNet2DConditionModel.from_pretrained(os.path.join(d, "unet"), variant=variant).eval()
        with torch.no_grad():
            out = unet(io["sample"], io["timesteps"], io["encoder_hidden_states"],
                       timestep_cond=io["timestep_cond"]).sample
        err = ((out - io["out"]).norm() / io["out"].norm()).item()
        print(f"variant={variant}: time_cond_proj_dim={unet.config.time_cond_proj_dim}, "
              f"relative error vs liblcmd {err:.3g} (tolerance {tol:g})")
        ok = ok and err <= tol
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
