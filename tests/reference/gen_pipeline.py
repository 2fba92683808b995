"""A tiny StableDiffusionPipeline folder assembled from the other fixtures (the sd15
UNet, the sd VAE, the real CLIP tokenizer files) plus a tiny CLIPTextModel with the
full 49408-token vocabulary and the UNet's context width, so that a caption can go
through every component. Writes tests/fixtures/pipeline/tiny-sd/ (components linked
by relative symlinks) and the text embeddings transformers gives for a few captions."""
import os

import torch
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

from common import fixture_dir, save, save_json

OUT = fixture_dir("pipeline")
PIPE = os.path.join(OUT, "tiny-sd")
CAPTIONS = ["a photo of a cat", "A red bicycle leaning against a brick wall, 35mm film", ""]


def link(target, name):
    path = os.path.join(PIPE, name)
    if os.path.lexists(path):
        os.remove(path)
    os.symlink(target, path)


def main():
    torch.manual_seed(0)
    os.makedirs(PIPE, exist_ok=True)
    save_json(os.path.join(PIPE, "model_index.json"), {
        "_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.42.1",
        "scheduler": ["diffusers", "PNDMScheduler"], "text_encoder": ["transformers", "CLIPTextModel"],
        "tokenizer": ["transformers", "CLIPTokenizer"], "unet": ["diffusers", "UNet2DConditionModel"],
        "vae": ["diffusers", "AutoencoderKL"], "safety_checker": [None, None],
        "feature_extractor": [None, None], "requires_safety_checker": False})
    os.makedirs(os.path.join(PIPE, "scheduler"), exist_ok=True)
    save_json(os.path.join(PIPE, "scheduler", "scheduler_config.json"), {
        "_class_name": "PNDMScheduler", "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear",
        "num_train_timesteps": 1000, "set_alpha_to_one": False, "skip_prk_steps": True, "steps_offset": 1,
        "clip_sample": False, "trained_betas": None})
    link("../../unet/sd15", "unet")
    link("../../vae/sd", "vae")
    link("../../tokenizer/clip", "tokenizer")
    cfg = CLIPTextConfig(vocab_size=49408, hidden_size=12, intermediate_size=24, num_hidden_layers=1,
                         num_attention_heads=2, max_position_embeddings=77, hidden_act="quick_gelu",
                         bos_token_id=49406, eos_token_id=49407, pad_token_id=49407)
    te = CLIPTextModel(cfg).eval()
    te_dir = os.path.join(PIPE, "text_encoder")
    os.makedirs(te_dir, exist_ok=True)
    sd = {k: v.half() for k, v in te.state_dict().items() if not k.endswith("position_ids")}
    save(os.path.join(te_dir, "model.safetensors"), sd, format="pt")
    config = cfg.to_dict()
    config["architectures"] = ["CLIPTextModel"]
    config["torch_dtype"] = "float16"
    save_json(os.path.join(te_dir, "config.json"), config)
    # the reference embeddings: fp16-rounded weights computed in fp32
    te.load_state_dict({k: v.float() for k, v in sd.items()}, strict=False)
    tok = CLIPTokenizer.from_pretrained(os.path.join(OUT, "..", "tokenizer", "clip"))
    ids = tok(CAPTIONS, padding="max_length", max_length=77, truncation=True, return_tensors="pt").input_ids
    with torch.no_grad():
        hidden = te(ids).last_hidden_state
    save(os.path.join(OUT, "tiny-sd-text.safetensors"), {"input_ids": ids.to(torch.int64), "last_hidden_state": hidden},
         captions="\n".join(CAPTIONS))
    print("wrote", PIPE)


if __name__ == "__main__":
    main()
