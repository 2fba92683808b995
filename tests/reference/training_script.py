"""Loads the helper functions of diffusers' train_lcm_distill_sd_wds.py without importing
the script (which needs accelerate, webdataset, ...): the function and class definitions
we compare against are taken from a pinned diffusers source checkout named by the
environment variable LCMD_DIFFUSERS_SRC, and executed alone."""
import ast
import os
import subprocess

import numpy as np
import torch

SCRIPT = "examples/consistency_distillation/train_lcm_distill_sd_wds.py"
WANTED = {
    "guidance_scale_embedding",
    "append_dims",
    "scalings_for_boundary_conditions",
    "get_predicted_original_sample",
    "get_predicted_noise",
    "extract_into_tensor",
    "DDIMSolver",
}


def diffusers_source():
    src = os.environ.get("LCMD_DIFFUSERS_SRC")
    if not src or not os.path.exists(os.path.join(src, SCRIPT)):
        raise SystemExit(
            "set LCMD_DIFFUSERS_SRC to a diffusers source checkout (see tests/reference/README.md)")
    return src


def source_commit(src):
    try:
        return subprocess.run(["git", "-C", src, "rev-parse", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def load():
    """Returns (namespace with the script's helpers, commit of the checkout)."""
    src = diffusers_source()
    path = os.path.join(src, SCRIPT)
    tree = ast.parse(open(path, encoding="utf-8").read(), filename=path)
    body = [n for n in tree.body
            if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name in WANTED]
    missing = WANTED - {n.name for n in body}
    if missing:
        raise SystemExit(f"{path}: definitions not found: {sorted(missing)}")
    # the decorators (e.g. @torch.no_grad) need torch in the namespace
    ns = {"torch": torch, "np": np}
    exec(compile(ast.Module(body=body, type_ignores=[]), path, "exec"), ns)
    return ns, source_commit(src)
