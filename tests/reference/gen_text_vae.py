"""Fixtures for the CLIP text encoder and the AutoencoderKL: tiny random models of the
real classes (transformers' CLIPTextModel / CLIPTextModelWithProjection, diffusers'
AutoencoderKL) as model folders, and their outputs. Writes tests/fixtures/clip/ and
tests/fixtures/vae/.

clip/quick   CLIPTextModel, quick_gelu, 3 layers, eos_token_id 2 (the legacy pooled rule:
             argmax of the ids), keys without the "text_model." prefix (as transformers 5
             saves a CLIPTextModel)
clip/proj    CLIPTextModelWithProjection, gelu, 2 layers, eos_token_id 999 (the first
             position holding eos), pad 998, "text_model."-prefixed keys
vae/sd       (8, 16), latent 4, scaling 0.18215, plus an fp16 variant
vae/sdxl     (8, 16, 16), scaling 0.13025, a logvar channel pushed past both clamps
vae/sd3      (8, 16), latent 8, no quant convs, no mid-block attention, shift 0.0609
vae/legacy   vae/sd's weights under the pre-0.14 attention names (query/key/value/proj_attn)
"""
import json
import os

import torch
from diffusers import AutoencoderKL
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

from common import fixture_dir, save, save_json

CLIP_OUT = fixture_dir("clip")
VAE_OUT = fixture_dir("vae")

CLIP_BASE = dict(vocab_size=1000, hidden_size=32, intermediate_size=64, num_attention_heads=4,
                 max_position_embeddings=77, projection_dim=16, bos_token_id=0, pad_token_id=1)
CLIPS = {
    "quick": (CLIPTextModel, dict(CLIP_BASE, num_hidden_layers=3, hidden_act="quick_gelu", eos_token_id=2)),
    "proj": (CLIPTextModelWithProjection,
             dict(CLIP_BASE, num_hidden_layers=2, hidden_act="gelu", eos_token_id=999, pad_token_id=998,
                  layer_norm_eps=1e-6)),
}

VAE_BASE = dict(in_channels=3, out_channels=3, latent_channels=4, layers_per_block=1, norm_num_groups=4,
                block_out_channels=(8, 16), down_block_types=("DownEncoderBlock2D",) * 2,
                up_block_types=("UpDecoderBlock2D",) * 2, sample_size=32)
VAES = {
    "sd": dict(VAE_BASE, scaling_factor=0.18215),
    "sdxl": dict(VAE_BASE, block_out_channels=(8, 16, 16), down_block_types=("DownEncoderBlock2D",) * 3,
                 up_block_types=("UpDecoderBlock2D",) * 3, scaling_factor=0.13025, force_upcast=False),
    "sd3": dict(VAE_BASE, latent_channels=8, use_quant_conv=False, use_post_quant_conv=False,
                mid_block_add_attention=False, scaling_factor=1.5305, shift_factor=0.0609),
}
IMAGE_SIZES = [(2, 16, 16), (1, 16, 24), (1, 32, 16)]
LEGACY = {"to_q": "query", "to_k": "key", "to_v": "value", "to_out.0": "proj_attn"}


def randomize(model, seed):
    """Random weights everywhere (the default init zeroes or fixes some), norms near 1."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            is_norm = "norm" in name and name.endswith("weight")
            if is_norm:
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            elif "embedding" in name:
                p.copy_(torch.randn(p.shape, generator=g))
            else:
                fan_in = p[0].numel() if p.dim() > 1 else p.numel()
                p.copy_(torch.randn(p.shape, generator=g) / fan_in ** 0.5)
    return model


def clip_ids(eos, pad, rows, length, g, vocab=1000):
    """Token rows as a tokenizer makes them: bos, words, eos, then padding; the word ids
    stay below eos/pad so that both pooled rules are visible."""
    ids = torch.full((rows, length), pad, dtype=torch.int64)
    for r in range(rows):
        n = int(torch.randint(1, length - 1, (1,), generator=g))
        ids[r, 0] = 0
        ids[r, 1:1 + n] = torch.randint(3, 990, (n,), generator=g)
        if 1 + n < length:
            ids[r, 1 + n] = eos
    return ids


def gen_clip():
    for k, (kind, (cls, kw)) in enumerate(CLIPS.items()):
        torch.manual_seed(10 + k)
        model = randomize(cls(CLIPTextConfig(**kw)).eval(), 20 + k)
        folder = os.path.join(CLIP_OUT, kind)
        os.makedirs(folder, exist_ok=True)
        sd = model.state_dict()
        save(os.path.join(folder, "model.safetensors"), sd, format="pt")
        config = json.loads(model.config.to_json_string(use_diff=False))
        config["architectures"] = [cls.__name__]
        save_json(os.path.join(folder, "config.json"), config)
        g = torch.Generator().manual_seed(30 + k)
        cases = [clip_ids(kw["eos_token_id"], kw["pad_token_id"], 2, 77, g),
                 clip_ids(kw["eos_token_id"], kw["pad_token_id"], 3, 9, g),
                 torch.randint(3, 1000, (1, 6), generator=g)]   # no eos at all, ids up to vocab - 1
        cases[1][2, 3] = kw["eos_token_id"]                       # eos twice: the first one counts
        text = model.text_model if hasattr(model, "text_model") else model
        tensors = {}
        for c, ids in enumerate(cases):
            with torch.no_grad():
                out = model(ids, output_hidden_states=True)
            tensors[f"case{c}.ids"] = ids.to(torch.int32)
            tensors[f"case{c}.last_hidden_state"] = out.last_hidden_state
            for i, h in enumerate(out.hidden_states):
                tensors[f"case{c}.hidden{i}"] = h
            tensors[f"case{c}.pooled"] = out.text_embeds if cls is CLIPTextModelWithProjection else out.pooler_output
            # the other pooled rule on the same weights (config eos_token_id changed)
            saved = text.eos_token_id
            text.eos_token_id = 2 if saved != 2 else kw["pad_token_id"]
            with torch.no_grad():
                out2 = model(ids)
            text.eos_token_id = saved
            tensors[f"case{c}.pooled_other_rule"] = (out2.text_embeds if cls is CLIPTextModelWithProjection
                                                     else out2.pooler_output)
        tensors["other_rule_eos"] = torch.tensor([2 if kw["eos_token_id"] != 2 else kw["pad_token_id"]],
                                                 dtype=torch.int32)
        save(os.path.join(CLIP_OUT, f"io_{kind}.safetensors"), tensors, kind=kind)


def vae_config(vae):
    config = {k: (list(v) if isinstance(v, tuple) else v) for k, v in dict(vae.config).items()
              if not k.startswith("_")}
    return {"_class_name": "AutoencoderKL", "_diffusers_version": "0.42.1", **config}


def gen_vae():
    for k, (kind, kw) in enumerate(VAES.items()):
        torch.manual_seed(40 + k)
        vae = randomize(AutoencoderKL(**kw).eval(), 50 + k)
        lc = kw["latent_channels"]
        if kind == "sdxl":
            with torch.no_grad():   # logvar channels 0 and 1 past the clamp(-30, 20)
                vae.quant_conv.bias[lc] += 40.0
                vae.quant_conv.bias[lc + 1] -= 60.0
        folder = os.path.join(VAE_OUT, kind)
        os.makedirs(folder, exist_ok=True)
        sd = vae.state_dict()
        save(os.path.join(folder, "diffusion_pytorch_model.safetensors"), sd, format="pt")
        if kind == "sd":
            save(os.path.join(folder, "diffusion_pytorch_model.fp16.safetensors"),
                 {n: v.half() for n, v in sd.items()}, format="pt")
            legacy = os.path.join(VAE_OUT, "legacy")
            os.makedirs(legacy, exist_ok=True)
            renamed = {}
            for n, v in sd.items():
                for new, old in LEGACY.items():
                    n = n.replace(f"attentions.0.{new}.", f"attentions.0.{old}.")
                renamed[n] = v
            save(os.path.join(legacy, "diffusion_pytorch_model.safetensors"), renamed, format="pt")
            save_json(os.path.join(legacy, "config.json"), vae_config(vae))
        save_json(os.path.join(folder, "config.json"), vae_config(vae))
        g = torch.Generator().manual_seed(60 + k)
        scale, shift = vae.config.scaling_factor, vae.config.shift_factor
        tensors = {}
        for c, (b, h, w) in enumerate(IMAGE_SIZES):
            image = torch.rand(b, 3, h, w, generator=g) * 2 - 1
            with torch.no_grad():
                dist = vae.encode(image).latent_dist
                noise = torch.randn(dist.mean.shape, generator=g)
                sample = dist.mean + dist.std * noise
                scaled = sample * scale if shift is None else (sample - shift) * scale
                decoded = vae.decode(sample).sample
                # a decode of ordinary latents too (the sdxl sample has a huge channel)
                z = torch.randn(dist.mean.shape, generator=g)
                decoded_z = vae.decode(z).sample
            tensors.update({f"case{c}.image": image, f"case{c}.mean": dist.mean, f"case{c}.logvar": dist.logvar,
                            f"case{c}.noise": noise, f"case{c}.sample": sample, f"case{c}.scaled": scaled,
                            f"case{c}.decoded": decoded, f"case{c}.z": z, f"case{c}.decoded_z": decoded_z})
        save(os.path.join(VAE_OUT, f"io_{kind}.safetensors"), tensors, kind=kind)


def main():
    torch.set_num_threads(1)
    gen_clip()
    gen_vae()
    print("wrote", CLIP_OUT, VAE_OUT)


if __name__ == "__main__":
    main()
