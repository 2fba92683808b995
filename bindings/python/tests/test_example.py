"""examples/train_loop.py runs end to end on the demo teacher, then resumes."""
from __future__ import annotations

import os
import subprocess
import sys

from conftest import BINDING


def run(*args: str) -> str:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(BINDING) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, str(BINDING / "examples" / "train_loop.py"), *args],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_train_loop(demo_dir, tmp_path):
    out = tmp_path / "run"
    common = ["--teacher", str(demo_dir / "teacher"), "--shards", str(demo_dir / "shards"),
              "--output", str(out), "--batch-size", "2", "--checkpoint-every", "1",
              "--sample-steps", "2", "--threads", "2"]
    first = run(*common, "--steps", "1")
    assert "step    1" in first and "checkpoint-1" in first
    second = run(*common, "--steps", "2")
    assert "resumed at step 1" in second and "step    2" in second
    assert (out / "checkpoint-2").is_dir()
    assert (out / "unet" / "config.json").exists() and (out / "unet_target" / "config.json").exists()
    ppm = (out / "sample.ppm").read_bytes()
    assert ppm.startswith(b"P6 32 32 255\n") and len(ppm) == len(b"P6 32 32 255\n") + 32 * 32 * 3
