"""Regenerates every fixture under tests/fixtures/ (see README.md)."""
import runpy
import sys
import os

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = ["gen_scheduler.py", "gen_unet.py", "gen_unet_grads.py", "gen_text_vae.py", "gen_tokenizer.py", "gen_pipeline.py", "gen_data.py", "gen_trainer.py"]

if __name__ == "__main__":
    sys.path.insert(0, HERE)
    for script in SCRIPTS:
        print("==", script, flush=True)
        runpy.run_path(os.path.join(HERE, script), run_name="__main__")
