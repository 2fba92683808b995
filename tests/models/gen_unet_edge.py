"""An edge-case UNet fixture for the UNet tests (tests/models/fixtures/edge/): the
config paths the four main fixtures do not reach. LCM-SDXL style (cond_proj and
text_time together), center_input_sample, freq_shift 1, flip_sin_to_cos false,
1x1 conv_in/conv_out, time_embedding_dim, 3 heads over 8 channels (inner dim 6),
conv proj_in/out with two transformer layers, mixed block types, asymmetric
layers_per_block, no mid block; a second config keeps the mid block with
mid_block_scale_factor 2 and linear projections.
Run: tests/reference/.venv/bin/python tests/models/gen_unet_edge.py"""
import json
import os
import sys

import torch
from diffusers import UNet2DConditionModel

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
from common import save  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
BASE = dict(sample_size=8, in_channels=3, out_channels=5, block_out_channels=(8, 8, 16), norm_num_groups=4,
            cross_attention_dim=6, layers_per_block=(1, 2, 1), attention_head_dim=(3, 2, 4),
            down_block_types=("CrossAttnDownBlock2D", "DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D", "CrossAttnUpBlock2D"),
            transformer_layers_per_block=2, center_input_sample=True, freq_shift=1, flip_sin_to_cos=False,
            conv_in_kernel=1, conv_out_kernel=1, time_embedding_dim=24, norm_eps=1e-4,
            time_cond_proj_dim=5, addition_embed_type="text_time", addition_time_embed_dim=4,
            projection_class_embeddings_input_dim=3 + 6 * 4)
KINDS = {"edge": dict(BASE, mid_block_type=None),
         "edge_mid": dict(BASE, mid_block_scale_factor=2.0, use_linear_projection=True, upcast_attention=True)}


def main():
    torch.set_num_threads(1)
    for k, (kind, cfg) in enumerate(KINDS.items()):
        torch.manual_seed(7 + k)
        unet = UNet2DConditionModel(**cfg).eval()
        g = torch.Generator().manual_seed(17 + k)
        with torch.no_grad():
            for name, p in unet.named_parameters():
                fan_in = p[0].numel() if p.dim() > 1 else p.numel()
                p.copy_(torch.randn(p.shape, generator=g) / fan_in ** 0.5 + (1.0 if "norm" in name and
                                                                              name.endswith("weight") else 0.0))
        folder = os.path.join(OUT, kind)
        os.makedirs(folder, exist_ok=True)
        save(os.path.join(folder, "diffusion_pytorch_model.safetensors"), unet.state_dict(), format="pt")
        config = {key: v for key, v in dict(unet.config).items() if not key.startswith("_")}
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump({"_class_name": "UNet2DConditionModel", "_diffusers_version": "0.42.1", **config}, f,
                      indent=1, sort_keys=True)
            f.write("\n")
        x = {"sample": torch.randn(2, 3, 8, 12, generator=g), "timesteps": torch.tensor([3.5, 801.0]),
             "encoder_hidden_states": torch.randn(2, 5, 6, generator=g),
             "timestep_cond": torch.randn(2, 5, generator=g), "text_embeds": torch.randn(2, 3, generator=g),
             "time_ids": torch.tensor([[512.0, 512.0, 0.0, 8.0, 1024.0, 768.0], [64.0, 32.0, 1.0, 2.0, 3.0, 4.0]])}
        with torch.no_grad():
            out = unet(x["sample"], x["timesteps"], x["encoder_hidden_states"], timestep_cond=x["timestep_cond"],
                       added_cond_kwargs={"text_embeds": x["text_embeds"], "time_ids": x["time_ids"]}).sample
        save(os.path.join(folder, "io.safetensors"), {**{f"case0.{n}": v for n, v in x.items()}, "case0.out": out},
             kind=kind)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
