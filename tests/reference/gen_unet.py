"""Fixtures for the UNet: four tiny random UNet2DConditionModels of the real class
(SD1.5-like, SD2-like, SDXL-like, LCM student) as diffusers folders (config.json +
fp32 weights, fp16 and bf16 variants, one sharded copy), and their outputs for several
timesteps and batch sizes. Writes tests/fixtures/unet/."""
import json
import os

import torch
from diffusers import UNet2DConditionModel

from common import fixture_dir, save, save_json

OUT = fixture_dir("unet")

BASE = dict(sample_size=8, in_channels=4, out_channels=4, layers_per_block=1,
            block_out_channels=(8, 16), norm_num_groups=4, cross_attention_dim=12,
            attention_head_dim=4,
            down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"))
KINDS = {
    "sd15": dict(BASE),
    "sd2": dict(BASE, attention_head_dim=(2, 4, 4), use_linear_projection=True, upcast_attention=True,
                block_out_channels=(8, 16, 16),
                down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
                up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D")),
    "sdxl": dict(BASE, attention_head_dim=(2, 4), use_linear_projection=True,
                 down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                 up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
                 transformer_layers_per_block=(1, 2), addition_embed_type="text_time",
                 addition_time_embed_dim=8, projection_class_embeddings_input_dim=10 + 6 * 8),
    "lcm": dict(BASE, time_cond_proj_dim=8),
}
TEXT_EMBED_DIM = 10   # sdxl pooled text embedding width


def random_unet(kind, seed):
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(**KINDS[kind]).eval()
    # diffusers zero-initialises some layers; random weights everywhere make every
    # path of the forward visible in the outputs
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, p in unet.named_parameters():
            fan_in = p[0].numel() if p.dim() > 1 else p.numel()
            if name.endswith("norm.weight") or ".norm" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(torch.randn(p.shape, generator=g) / fan_in ** 0.5)
    return unet


def inputs(kind, batch, seed, height=8, width=8):
    g = torch.Generator().manual_seed(seed)
    cfg = KINDS[kind]
    x = {"sample": torch.randn(batch, 4, height, width, generator=g),
         "encoder_hidden_states": torch.randn(batch, 7, cfg["cross_attention_dim"], generator=g)}
    if "time_cond_proj_dim" in cfg:
        x["timestep_cond"] = torch.randn(batch, cfg["time_cond_proj_dim"], generator=g)
    if cfg.get("addition_embed_type") == "text_time":
        x["text_embeds"] = torch.randn(batch, TEXT_EMBED_DIM, generator=g)
        x["time_ids"] = torch.tensor([[1024.0, 768.0, 16.0, 0.0, 512.0, 512.0]] * batch)
    return x


def run(unet, x, t):
    kw = {}
    if "timestep_cond" in x:
        kw["timestep_cond"] = x["timestep_cond"]
    if "text_embeds" in x:
        kw["added_cond_kwargs"] = {"text_embeds": x["text_embeds"], "time_ids": x["time_ids"]}
    with torch.no_grad():
        return unet(x["sample"], t, x["encoder_hidden_states"], **kw).sample



def main():
    torch.set_num_threads(1)
    cases = [(1, torch.tensor([999.0])), (2, torch.tensor([19.0, 500.0])), (3, torch.tensor([0.0, 259.0, 759.0]))]
    for k, kind in enumerate(KINDS):
        unet = random_unet(kind, 100 + k)
        folder = os.path.join(OUT, kind)
        os.makedirs(folder, exist_ok=True)
        sd = unet.state_dict()
        save(os.path.join(folder, "diffusion_pytorch_model.safetensors"), sd, format="pt")
        save(os.path.join(folder, "diffusion_pytorch_model.fp16.safetensors"),
             {n: v.half() for n, v in sd.items()}, format="pt")
        save(os.path.join(folder, "diffusion_pytorch_model.bf16.safetensors"),
             {n: v.bfloat16() for n, v in sd.items()}, format="pt")
        config = {k2: v for k2, v in dict(unet.config).items() if not k2.startswith("_")}
        save_json(os.path.join(folder, "config.json"),
                  {"_class_name": "UNet2DConditionModel", "_diffusers_version": "0.42.1", **config})
        save_json(os.path.join(OUT, f"keys_{kind}.json"), sorted(sd.keys()))
        tensors = {}
        for c, (batch, t) in enumerate(cases):
            x = inputs(kind, batch, 1000 * k + c, height=8 if c != 2 else 16, width=8 if c != 1 else 16)
            for name, v in x.items():
                tensors[f"case{c}.{name}"] = v
            tensors[f"case{c}.timesteps"] = t
            tensors[f"case{c}.out"] = run(unet, x, t)
            # the same forward with weights rounded to half types, computed in fp32
            for tag, dt in (("fp16", torch.float16), ("bf16", torch.bfloat16)):
                half = random_unet(kind, 100 + k)
                half.load_state_dict({n: v.to(dt).float() for n, v in sd.items()})
                tensors[f"case{c}.out_{tag}_weights"] = run(half, x, t)
        save(os.path.join(OUT, f"io_{kind}.safetensors"), tensors, kind=kind)
    # a sharded copy of the sd15 weights with its index, as large models ship
    sd = random_unet("sd15", 100).state_dict()
    names = sorted(sd)
    folder = os.path.join(OUT, "sd15_sharded")
    os.makedirs(folder, exist_ok=True)
    half = len(names) // 2
    weight_map = {}
    for i, part in enumerate((names[:half], names[half:])):
        fname = f"diffusion_pytorch_model-0000{i + 1}-of-00002.safetensors"
        save(os.path.join(folder, fname), {n: sd[n] for n in part}, format="pt")
        weight_map.update({n: fname for n in part})
    total = sum(v.numel() * v.element_size() for v in sd.values())
    save_json(os.path.join(folder, "diffusion_pytorch_model.safetensors.index.json"),
              {"metadata": {"total_size": total}, "weight_map": weight_map})
    with open(os.path.join(OUT, "sd15", "config.json")) as f:
        save_json(os.path.join(folder, "config.json"), json.load(f))
    print("wrote", OUT)


if __name__ == "__main__":
    main()
