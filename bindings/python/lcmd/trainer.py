"""Latent consistency distillation one step at a time (trainer.h).

A :class:`Trainer` owns the student, its EMA target, the AdamW moments and the DDIM
solver. It borrows the teacher UNet and, after :meth:`Trainer.set_encoders`, the
tokenizer, text encoder and VAE: the binding keeps those alive, and closing any of them
(or the pipeline that owns them) closes the trainer first. Inputs are float32 (int64
indices), C-contiguous, converted only when they are not.
"""
from __future__ import annotations

import ctypes
import os
from typing import Any, NamedTuple, Optional, Sequence, Union

import numpy as np

from . import _lib
from ._arrays import ArrayLike, as_input, f32, i64, ptr
from ._handle import Handle
from ._structs import LRSchedule, SchedulerConfig, Status, StepBatch, StepInputs, StepReport, TrainerOptions, new
from .context import Context
from .dataset import Batch
from .models import TextEncoder, Tokenizer, UNet, VAE

__all__ = ["Trainer", "TrainerOptions", "StepReport", "Progress", "trainer_options", "lr_multiplier"]

PathLike = Union[str, "os.PathLike[str]"]


def trainer_options(**fields: Any) -> TrainerOptions:
    """A :class:`TrainerOptions` with the script's defaults, then ``fields`` by name."""
    return new(TrainerOptions, **fields)


def lr_multiplier(schedule: LRSchedule, step: int, warmup: int, total: int, base_lr: float = 1e-4) -> float:
    """The LR multiplier f(step) of ``schedule`` (NaN for an unknown schedule)."""
    return float(_lib.lib.lcmd_lr_multiplier(int(schedule), step, warmup, total, float(base_lr)))


class Progress(NamedTuple):
    """Where training stands."""
    step: int
    micro_steps: int
    samples_seen: int


class Trainer(Handle):
    """``lcmd_trainer``. ``Trainer(ctx, teacher, scheduler_config, options=None, **fields)``:
    the student is made from ``teacher`` (the context's seed draws its new projection);
    ``fields`` override option fields by name. Raises InvalidArgumentError,
    UnsupportedError (SDXL teachers), OutOfMemoryError."""

    _destroy_ = "lcmd_trainer_destroy"

    def __init__(self, ctx: Context, teacher: UNet, scheduler_config: SchedulerConfig,
                 options: Optional[TrainerOptions] = None, **fields: Any) -> None:
        if options is None:
            options = trainer_options(**fields)
        elif fields:
            raise TypeError("Trainer: give options or fields, not both")
        self.options = options
        out = ctypes.c_void_p()
        _lib.call("lcmd_trainer_create", ctx.ptr, teacher.ptr, ctypes.byref(scheduler_config),
                  ctypes.byref(options), ctypes.byref(out))
        super().__init__(out.value, parents=(ctx, teacher))
        self._student: Optional[UNet] = None
        self._target: Optional[UNet] = None

    def set_encoders(self, tokenizer: Tokenizer, text_encoder: TextEncoder, vae: VAE) -> None:
        """Gives the trainer the encoders :meth:`step` uses (borrowed: kept alive by the
        trainer). Computes the unconditional embedding once. Raises InvalidArgumentError
        when their sizes do not fit the UNet."""
        _lib.call("lcmd_trainer_set_encoders", self.ptr, tokenizer.ptr, text_encoder.ptr, vae.ptr)
        for h in (tokenizer, text_encoder, vae):
            if h not in self._parents:
                self._attach(h)

    def _unet_view(self, fn: str) -> UNet:
        p = getattr(_lib.lib, fn)(self.ptr)
        return UNet._wrap(p, owned=False, parents=(self,))

    @property
    def student(self) -> UNet:
        """The student UNet (borrowed; valid while the trainer is open)."""
        if self._student is None or self._student.closed:
            self._student = self._unet_view("lcmd_trainer_student")
        return self._student

    @property
    def target(self) -> UNet:
        """The EMA target UNet (borrowed; valid while the trainer is open)."""
        if self._target is None or self._target.closed:
            self._target = self._unet_view("lcmd_trainer_target")
        return self._target

    def step_latents(self, latents: ArrayLike, cond_embeds: ArrayLike, uncond_embeds: ArrayLike,
                     noise: Optional[ArrayLike] = None, ddim_indices: Optional[ArrayLike] = None,
                     guidance: Optional[ArrayLike] = None) -> StepReport:
        """One micro-step on scaled latents [B, C, H, W] and text embeddings [B, L, D]
        (cond and uncond). Draws not given come from the trainer's Philox streams.
        Returns the :class:`StepReport`. Raises InvalidArgumentError, NumericError."""
        z = as_input(latents, f32, "latents", shape=(-1, -1, -1, -1))
        b, c, h, w = z.shape
        ce = as_input(cond_embeds, f32, "cond_embeds", shape=(b, -1, -1))
        ue = as_input(uncond_embeds, f32, "uncond_embeds", shape=ce.shape)
        ns = None if noise is None else as_input(noise, f32, "noise", shape=z.shape)
        ix = None if ddim_indices is None else as_input(ddim_indices, i64, "ddim_indices", size=b)
        gw = None if guidance is None else as_input(guidance, f32, "guidance", size=b)
        inp = new(StepInputs, batch=b, channels=c, height=h, width=w, seq_len=ce.shape[1], embed_dim=ce.shape[2])
        inp.latents, inp.cond_embeds, inp.uncond_embeds = ptr(z), ptr(ce), ptr(ue)
        inp.noise, inp.ddim_indices, inp.guidance = ptr(ns), ptr(ix), ptr(gw)
        rep = new(StepReport)
        _lib.call("lcmd_trainer_step_latents", self.ptr, ctypes.byref(inp), ctypes.byref(rep))
        return rep

    def step(self, images: Union[ArrayLike, Batch], captions: Optional[Sequence[str]] = None,
             vae_noise: Optional[ArrayLike] = None, noise: Optional[ArrayLike] = None,
             ddim_indices: Optional[ArrayLike] = None, guidance: Optional[ArrayLike] = None) -> StepReport:
        """One micro-step on images [B, 3, H, W] in [-1, 1] and B captions (needs
        :meth:`set_encoders`). Given a :class:`Batch` (and nothing else) it runs
        :meth:`step_dataset`. Raises InvalidArgumentError, NumericError."""
        if isinstance(images, Batch):
            if captions is not None or any(v is not None for v in (vae_noise, noise, ddim_indices, guidance)):
                raise TypeError("step(batch): captions and draws come from the batch and the trainer")
            return self.step_dataset(images)
        if captions is None:
            raise TypeError("step: captions are required with an image array")
        x = as_input(images, f32, "images", shape=(-1, 3, -1, -1))
        b = x.shape[0]
        if len(captions) != b:
            raise ValueError(f"captions: {len(captions)} for a batch of {b}")
        enc = [c.encode("utf-8") if isinstance(c, str) else bytes(c) for c in captions]
        caps = (ctypes.c_char_p * b)(*enc)
        vn = None if vae_noise is None else as_input(vae_noise, f32, "vae_noise")
        ns = None if noise is None else as_input(noise, f32, "noise")
        ix = None if ddim_indices is None else as_input(ddim_indices, i64, "ddim_indices", size=b)
        gw = None if guidance is None else as_input(guidance, f32, "guidance", size=b)
        sb = new(StepBatch, batch=b, height=x.shape[2], width=x.shape[3])
        sb.images, sb.captions = ptr(x), ctypes.cast(caps, ctypes.POINTER(ctypes.c_char_p))
        sb.vae_noise, sb.noise, sb.ddim_indices, sb.guidance = ptr(vn), ptr(ns), ptr(ix), ptr(gw)
        rep = new(StepReport)
        _lib.call("lcmd_trainer_step", self.ptr, ctypes.byref(sb), ctypes.byref(rep))
        return rep

    def step_dataset(self, batch: Batch) -> StepReport:
        """One micro-step on a dataset batch (its images and captions; every draw from
        the trainer's streams)."""
        rep = new(StepReport)
        _lib.call("lcmd_trainer_step_dataset", self.ptr, batch.ptr, ctypes.byref(rep))
        return rep

    def progress(self) -> Progress:
        """Optimizer steps, micro-steps and samples taken so far."""
        s, m, n = ctypes.c_int64(), ctypes.c_int64(), ctypes.c_int64()
        _lib.call("lcmd_trainer_progress", self.ptr, ctypes.byref(s), ctypes.byref(m), ctypes.byref(n))
        return Progress(s.value, m.value, n.value)

    def save_checkpoint(self, output_dir: PathLike, total_limit: int = 0) -> str:
        """Saves ``output_dir/checkpoint-STEP`` atomically (pruning to ``total_limit``
        when > 0) and returns its path. Raises LcmdIOError naming the path."""
        size = 4096 + len(os.fsencode(output_dir))
        buf = ctypes.create_string_buffer(size)
        _lib.call("lcmd_trainer_save_checkpoint", self.ptr, _lib.path_arg(output_dir), total_limit, buf, size)
        return os.fsdecode(buf.value)

    def resume(self, output_dir: Optional[PathLike], which: str = "latest") -> bool:
        """Restores a checkpoint (``"latest"`` in output_dir, or a name or path). Returns
        False when ``"latest"`` finds none (the trainer is untouched), True when restored.
        Raises LcmdIOError (an explicit checkpoint not found), FormatError."""
        st = _lib.call("lcmd_trainer_resume", self.ptr, _lib.path_arg(output_dir), _lib.path_arg(which),
                       allow=(Status.END_OF_STREAM,))
        return st == Status.OK

    def export(self, output_dir: PathLike) -> None:
        """Writes ``output_dir/unet`` (student) and ``output_dir/unet_target`` (target)."""
        _lib.call("lcmd_trainer_export", self.ptr, _lib.path_arg(output_dir))
