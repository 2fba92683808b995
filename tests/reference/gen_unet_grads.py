"""Gradient fixtures for the UNet backward: for each tiny fixture model (gen_unet.py),
the forward on case 1 of io_<kind>.safetensors (batch 2, 8x16 latents), the loss
sum(out * G) with a seeded G, and PyTorch autograd in fp32. Writes
tests/fixtures/unet/grads_<kind>.safetensors with G ("G"), the gradient of every
parameter ("grad.<diffusers key>", PyTorch layout) and of the sample ("grad_sample")."""
import os

import torch
from safetensors.torch import load_file

from common import fixture_dir, save
from gen_unet import KINDS, random_unet

OUT = fixture_dir("unet")
CASE = 1


def main():
    torch.set_num_threads(1)
    for k, kind in enumerate(KINDS):
        unet = random_unet(kind, 100 + k)
        io = load_file(os.path.join(OUT, f"io_{kind}.safetensors"))
        x = {n[len(f"case{CASE}."):]: v for n, v in io.items() if n.startswith(f"case{CASE}.")}
        sample = x["sample"].clone().requires_grad_(True)
        kw = {}
        if "timestep_cond" in x:
            kw["timestep_cond"] = x["timestep_cond"]
        if "text_embeds" in x:
            kw["added_cond_kwargs"] = {"text_embeds": x["text_embeds"], "time_ids": x["time_ids"]}
        out = unet(sample, x["timesteps"], x["encoder_hidden_states"], **kw).sample
        g = torch.Generator().manual_seed(7000 + k)
        grad_out = torch.randn(out.shape, generator=g)
        unet.zero_grad(set_to_none=True)
        (out * grad_out).sum().backward()
        tensors = {"G": grad_out, "grad_sample": sample.grad}
        for name, p in unet.named_parameters():
            # parameters outside the forward's graph get zeros, as a flat gradient buffer has
            tensors[f"grad.{name}"] = p.grad if p.grad is not None else torch.zeros_like(p)
        save(os.path.join(OUT, f"grads_{kind}.safetensors"), tensors, kind=kind, case=CASE)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
