"""The self-contained demo (demo.h): a tiny SD teacher pipeline and a small generated
WebDataset, written into folders the caller names, so that the whole distillation path
runs without downloads."""
from __future__ import annotations

import ctypes
import os
from typing import Any, Optional, Union

from . import _lib
from ._structs import DemoDataOptions, DemoPretrainOptions, DemoPretrainProgress, DemoTeacherOptions, new
from .context import Context

__all__ = ["write_teacher", "write_shards", "pretrain_teacher"]

PathLike = Union[str, "os.PathLike[str]"]


def write_teacher(ctx: Context, folder: PathLike, options: Optional[DemoTeacherOptions] = None,
                  **fields: Any) -> str:
    """Writes the demo teacher pipeline into ``folder`` (created; its parent must exist)
    and returns the folder. ``fields`` set :class:`DemoTeacherOptions` fields by name
    (seed, text_hidden_size, text_layers, unet_channels, vae_channels). Raises
    InvalidArgumentError, LcmdIOError naming the path."""
    opts = options if options is not None else new(DemoTeacherOptions, **fields)
    _lib.call("lcmd_demo_write_teacher", ctx.ptr, _lib.path_arg(folder), ctypes.byref(opts))
    return os.fspath(folder)


def write_shards(folder: PathLike, options: Optional[DemoDataOptions] = None, **fields: Any) -> str:
    """Writes the demo shards ``demo-%06d.tar`` into ``folder`` and returns the folder.
    ``fields``: seed, num_shards, samples_per_shard, resolution, fixed_layout,
    paired_colors. Raises
    InvalidArgumentError, LcmdIOError naming the path."""
    opts = options if options is not None else new(DemoDataOptions, **fields)
    _lib.call("lcmd_demo_write_shards", _lib.path_arg(folder), ctypes.byref(opts))
    return os.fspath(folder)


def pretrain_teacher(ctx: Context, folder: PathLike, shards: PathLike,
                     options: Optional[DemoPretrainOptions] = None, **fields: Any) -> float:
    """Trains the demo teacher's UNet in ``folder`` on ``shards`` as a denoising model
    and saves it back; returns the final running loss. ``fields``: steps, batch_size,
    resolution, learning_rate, seed, uncond_probability, and ``progress``: a Python
    callable ``progress(done, steps, loss)`` called after every step. Raises
    InvalidArgumentError, LcmdIOError, UnsupportedError."""
    progress = fields.pop("progress", None)
    opts = options if options is not None else new(DemoPretrainOptions, **fields)
    if progress is not None:
        # kept alive for the call: ctypes frees the trampoline with its Python object
        callback = DemoPretrainProgress(lambda _user, done, steps, loss: progress(done, steps, loss))
        opts.progress = callback
    loss = ctypes.c_double()
    _lib.call("lcmd_demo_pretrain_teacher", ctx.ptr, _lib.path_arg(folder), _lib.path_arg(shards),
              ctypes.byref(opts), ctypes.byref(loss))
    return loss.value
