"""Proves that the demo teacher written by lcmd_demo_write_teacher is a pipeline that
diffusers and transformers load, and that they compute what liblcmd computes on it.
Usage: check_demo_pipeline.py DIR, where DIR holds `teacher/` and `io.safetensors`
(captions in its metadata, liblcmd's token ids, text-encoder output, a UNet forward and
a VAE decode), as tests/demo/test_demo.c leaves them when LCMD_DEMO_REFERENCE_DIR=DIR.
Exits non-zero when something does not load, an id differs, or an output differs by
more than 1e-4 (relative L2)."""
import os
import sys

import torch
from diffusers import DDPMScheduler, StableDiffusionPipeline
from safetensors import safe_open
from transformers import CLIPTokenizer

TOL = 1e-4


def rel(a, b):
    return ((a - b).norm() / b.norm()).item()


def main(d):
    io_path = os.path.join(d, "io.safetensors")
    with safe_open(io_path, "pt") as f:
        captions = f.metadata()["captions"].split("\n")
        io = {k: f.get_tensor(k) for k in f.keys()}
    teacher = os.path.join(d, "teacher")
    pipe = StableDiffusionPipeline.from_pretrained(teacher, safety_checker=None)
    assert isinstance(pipe.scheduler, DDPMScheduler), type(pipe.scheduler)
    sc = pipe.scheduler.config
    assert (sc.beta_schedule, sc.num_train_timesteps, sc.prediction_type) == ("scaled_linear", 1000, "epsilon")
    tok = CLIPTokenizer.from_pretrained(os.path.join(teacher, "tokenizer"))
    ids = tok(captions, padding="max_length", max_length=tok.model_max_length, truncation=True,
              return_tensors="pt").input_ids
    ok = torch.equal(ids, io["ids"])
    print(f"tokenizer: vocabulary {len(tok)}, ids {'equal' if ok else 'DIFFER'} "
          f"({tok.convert_ids_to_tokens(ids[0][:10].tolist())})")
    checks = []
    with torch.no_grad():
        hidden = pipe.text_encoder(io["ids"]).last_hidden_state
        checks.append(("text encoder", rel(hidden, io["last_hidden_state"])))
        out = pipe.unet(io["sample"], io["timesteps"], io["last_hidden_state"]).sample
        checks.append(("unet", rel(out, io["unet_out"])))
        images = pipe.vae.decode(io["sample"]).sample
        checks.append(("vae decode", rel(images, io["vae_decoded"])))
    for name, err in checks:
        print(f"{name}: relative error vs liblcmd {err:.3g} (tolerance {TOL:g})")
        ok = ok and err <= TOL
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
