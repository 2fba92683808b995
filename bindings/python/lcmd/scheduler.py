"""Noise schedules, the DDIM solver of distillation, boundary scalings, the guidance
embedding and the LCM sampler (scheduler.h).

Arrays are float32 (int64 for timesteps and indices), C-contiguous; a batch is the
first axis and ``per_sample`` the product of the others. Inputs of another dtype or
layout are converted (one copy); results are new arrays filled by the library, or the
caller's ``out=`` array (exact shape/dtype, C-contiguous).
"""
from __future__ import annotations

import ctypes
import os
from typing import Optional, Sequence, Tuple, Union

import numpy as np

from . import _lib
from ._arrays import ArrayLike, as_input, f32, f64, i64, output, ptr
from ._handle import Handle
from ._structs import PredictionType, SchedulerConfig, new
from .context import Context

__all__ = [
    "SchedulerConfig", "scheduler_config", "load_scheduler_config", "parse_scheduler_config",
    "NoiseSchedule", "DDIMSolver", "LCMScheduler", "boundary_scalings",
    "guidance_scale_embedding", "DevicePtr",
]

#: Memory of a context's device: an integer address (e.g. from cudaMalloc), or, for a
#: "cpu" context, a C-contiguous float32 numpy array.
DevicePtr = Union[int, np.ndarray]


def scheduler_config(**fields) -> SchedulerConfig:
    """A :class:`SchedulerConfig` with LCMScheduler's defaults (``lcmd_scheduler_config_init``),
    then ``fields`` set by name (e.g. ``num_train_timesteps=1000``)."""
    return new(SchedulerConfig, **fields)


def load_scheduler_config(path: "os.PathLike[str] | str",
                          base: Optional[SchedulerConfig] = None) -> SchedulerConfig:
    """Reads a diffusers scheduler_config.json over ``base`` (default: LCMScheduler's
    defaults; ``base`` itself is not changed). Raises LcmdIOError naming the path,
    FormatError, UnsupportedError, InvalidArgumentError."""
    cfg = _copy(base) if base is not None else new(SchedulerConfig)
    _lib.call("lcmd_scheduler_config_load", _lib.path_arg(path), ctypes.byref(cfg))
    return cfg


def parse_scheduler_config(json_text: Union[str, bytes], label: Optional[str] = None,
                           base: Optional[SchedulerConfig] = None) -> SchedulerConfig:
    """The same from a JSON text; ``label`` names it in messages."""
    raw = json_text.encode("utf-8") if isinstance(json_text, str) else bytes(json_text)
    cfg = _copy(base) if base is not None else new(SchedulerConfig)
    _lib.call("lcmd_scheduler_config_parse", raw, len(raw),
              None if label is None else label.encode("utf-8"), ctypes.byref(cfg))
    return cfg


def _copy(cfg: SchedulerConfig) -> SchedulerConfig:
    out = SchedulerConfig()
    ctypes.memmove(ctypes.byref(out), ctypes.byref(cfg), ctypes.sizeof(SchedulerConfig))
    return out


def _batch_split(x: np.ndarray, name: str) -> Tuple[int, int]:
    if x.ndim < 1 or x.shape[0] < 1 or x.size == 0:
        raise ValueError(f"{name}: need a non-empty array with a batch axis, got shape {x.shape}")
    return x.shape[0], x.size // x.shape[0]


def _dev(p: DevicePtr, name: str) -> Optional[int]:
    if isinstance(p, np.ndarray):
        if p.dtype != f32 or not p.flags.c_contiguous:
            raise ValueError(f"{name}: a float32 C-contiguous array is required for device calls")
        return p.ctypes.data
    return None if p is None else int(p)


def boundary_scalings(timesteps: ArrayLike, timestep_scaling: float = 10.0) -> Tuple[np.ndarray, np.ndarray]:
    """``(c_skip, c_out)`` of the consistency function per timestep (float32 arrays)."""
    t = as_input(timesteps, i64, "timesteps").reshape(-1)
    c_skip, c_out = np.empty(t.size, f32), np.empty(t.size, f32)
    _lib.call("lcmd_boundary_scalings", ptr(t), t.size, float(timestep_scaling), ptr(c_skip), ptr(c_out))
    return c_skip, c_out


def guidance_scale_embedding(w: ArrayLike, dim: int, out: Optional[np.ndarray] = None) -> np.ndarray:
    """The LCD script's guidance-scale embedding: ``[len(w), dim]`` float32."""
    wa = as_input(w, f32, "w").reshape(-1)
    arr = output(out, (wa.size, dim), f32, "guidance_scale_embedding")
    _lib.call("lcmd_guidance_scale_embedding", ptr(wa), wa.size, dim, ptr(arr))
    return arr


class NoiseSchedule(Handle):
    """``lcmd_noise_schedule``: betas and alphas_cumprod of a config, as diffusers builds
    them. Owns its C handle; needs no context. Raises InvalidArgumentError for a bad config."""

    _destroy_ = "lcmd_noise_schedule_destroy"

    def __init__(self, config: Optional[SchedulerConfig] = None) -> None:
        self.config = _copy(config) if config is not None else new(SchedulerConfig)
        out = ctypes.c_void_p()
        _lib.call("lcmd_noise_schedule_create", ctypes.byref(self.config), ctypes.byref(out))
        super().__init__(out.value)

    @property
    def num_timesteps(self) -> int:
        """T = num_train_timesteps."""
        return int(_lib.lib.lcmd_noise_schedule_num_timesteps(self.ptr))

    def betas(self) -> np.ndarray:
        """The T betas (float64 holding float32 values)."""
        out = np.empty(self.num_timesteps, f64)
        _lib.call("lcmd_noise_schedule_betas", self.ptr, ptr(out), out.size)
        return out

    def alphas_cumprod(self) -> np.ndarray:
        """The T values of alphas_cumprod (float64 holding float32 values)."""
        out = np.empty(self.num_timesteps, f64)
        _lib.call("lcmd_noise_schedule_alphas_cumprod", self.ptr, ptr(out), out.size)
        return out

    def alpha_sigma(self) -> Tuple[np.ndarray, np.ndarray]:
        """The training tables ``(sqrt(ā), sqrt(1 − ā))``, float32."""
        a, s = np.empty(self.num_timesteps, f32), np.empty(self.num_timesteps, f32)
        _lib.call("lcmd_noise_schedule_alpha_sigma", self.ptr, ptr(a), ptr(s), a.size)
        return a, s

    def add_noise(self, x0: ArrayLike, noise: ArrayLike, timesteps: ArrayLike,
                  out: Optional[np.ndarray] = None) -> np.ndarray:
        """DDPM forward noising per sample; result has x0's shape. ``out`` may be ``x0``
        or ``noise`` (in place). Raises InvalidArgumentError, NumericError."""
        x = as_input(x0, f32, "x0")
        b, n = _batch_split(x, "x0")
        e = as_input(noise, f32, "noise", shape=x.shape)
        t = as_input(timesteps, i64, "timesteps", size=b)
        res = output(out, x.shape, f32, "add_noise")
        _lib.call("lcmd_add_noise", self.ptr, ptr(x), ptr(e), ptr(t), b, n, ptr(res))
        return res

    def _pred(self, fn: str, model_output: ArrayLike, timesteps: ArrayLike, sample: ArrayLike,
              prediction_type: Optional[int], out: Optional[np.ndarray]) -> np.ndarray:
        o = as_input(model_output, f32, "model_output")
        b, n = _batch_split(o, "model_output")
        x = as_input(sample, f32, "sample", shape=o.shape)
        t = as_input(timesteps, i64, "timesteps", size=b)
        kind = self.config.prediction_type if prediction_type is None else int(prediction_type)
        res = output(out, o.shape, f32, fn)
        _lib.call(fn, self.ptr, kind, ptr(o), ptr(t), ptr(x), b, n, ptr(res))
        return res

    def predicted_origin(self, model_output: ArrayLike, timesteps: ArrayLike, sample: ArrayLike,
                         prediction_type: Optional[PredictionType] = None,
                         out: Optional[np.ndarray] = None) -> np.ndarray:
        """x̂0 from a model output (prediction type: the config's unless given)."""
        return self._pred("lcmd_predicted_origin", model_output, timesteps, sample, prediction_type, out)

    def predicted_noise(self, model_output: ArrayLike, timesteps: ArrayLike, sample: ArrayLike,
                        prediction_type: Optional[PredictionType] = None,
                        out: Optional[np.ndarray] = None) -> np.ndarray:
        """ε̂ from a model output (prediction type: the config's unless given)."""
        return self._pred("lcmd_predicted_noise", model_output, timesteps, sample, prediction_type, out)

    # device memory ------------------------------------------------------------

    def add_noise_device(self, ctx: Context, x0: DevicePtr, noise: DevicePtr, timesteps: ArrayLike,
                         batch: int, per_sample: int, out: DevicePtr) -> None:
        """``lcmd_add_noise_device``: the same on memory of ``ctx``'s device (addresses as
        integers; numpy arrays for a CPU context). Timesteps stay a host array."""
        t = as_input(timesteps, i64, "timesteps", size=batch)
        _lib.call("lcmd_add_noise_device", ctx.ptr, self.ptr, _dev(x0, "x0"), _dev(noise, "noise"),
                  ptr(t), batch, per_sample, _dev(out, "out"))

    def predicted_origin_device(self, ctx: Context, prediction_type: int, model_output: DevicePtr,
                                timesteps: ArrayLike, sample: DevicePtr, batch: int, per_sample: int,
                                out: DevicePtr) -> None:
        """``lcmd_predicted_origin_device`` (see :meth:`add_noise_device`)."""
        t = as_input(timesteps, i64, "timesteps", size=batch)
        _lib.call("lcmd_predicted_origin_device", ctx.ptr, self.ptr, int(prediction_type),
                  _dev(model_output, "model_output"), ptr(t), _dev(sample, "sample"), batch,
                  per_sample, _dev(out, "out"))

    def predicted_noise_device(self, ctx: Context, prediction_type: int, model_output: DevicePtr,
                               timesteps: ArrayLike, sample: DevicePtr, batch: int, per_sample: int,
                               out: DevicePtr) -> None:
        """``lcmd_predicted_noise_device`` (see :meth:`add_noise_device`)."""
        t = as_input(timesteps, i64, "timesteps", size=batch)
        _lib.call("lcmd_predicted_noise_device", ctx.ptr, self.ptr, int(prediction_type),
                  _dev(model_output, "model_output"), ptr(t), _dev(sample, "sample"), batch,
                  per_sample, _dev(out, "out"))


class DDIMSolver(Handle):
    """``lcmd_ddim_solver``: the distillation script's DDIM grid of N points over a
    schedule (which is copied: the schedule may be closed afterwards)."""

    _destroy_ = "lcmd_ddim_solver_destroy"

    def __init__(self, schedule: NoiseSchedule, num_ddim_timesteps: int = 50) -> None:
        out = ctypes.c_void_p()
        _lib.call("lcmd_ddim_solver_create", schedule.ptr, num_ddim_timesteps, ctypes.byref(out))
        super().__init__(out.value)

    @property
    def num_timesteps(self) -> int:
        """N, the number of grid points."""
        return int(_lib.lib.lcmd_ddim_solver_num_timesteps(self.ptr))

    def timesteps(self) -> np.ndarray:
        """The N grid timesteps (ascending), int64."""
        out = np.empty(self.num_timesteps, i64)
        _lib.call("lcmd_ddim_solver_timesteps", self.ptr, ptr(out), out.size)
        return out

    def alphas_cumprod(self) -> Tuple[np.ndarray, np.ndarray]:
        """``(ā at each grid point, ā at the previous point)``, float64."""
        at, prev = np.empty(self.num_timesteps, f64), np.empty(self.num_timesteps, f64)
        _lib.call("lcmd_ddim_solver_alphas_cumprod", self.ptr, ptr(at), ptr(prev), at.size)
        return at, prev

    def interval(self, index: int) -> Tuple[int, int]:
        """``(t_start, t_end)`` of grid index ``index``."""
        a, b = ctypes.c_int64(), ctypes.c_int64()
        _lib.call("lcmd_ddim_solver_interval", self.ptr, index, ctypes.byref(a), ctypes.byref(b))
        return a.value, b.value

    def step(self, pred_x0: ArrayLike, pred_noise: ArrayLike, indices: ArrayLike,
             out: Optional[np.ndarray] = None) -> np.ndarray:
        """One deterministic DDIM step per sample; returns x_prev (pred_x0's shape)."""
        x0 = as_input(pred_x0, f32, "pred_x0")
        b, n = _batch_split(x0, "pred_x0")
        e = as_input(pred_noise, f32, "pred_noise", shape=x0.shape)
        idx = as_input(indices, i64, "indices", size=b)
        res = output(out, x0.shape, f32, "ddim_step")
        _lib.call("lcmd_ddim_solver_step", self.ptr, ptr(x0), ptr(e), ptr(idx), b, n, ptr(res))
        return res

    def step_device(self, ctx: Context, pred_x0: DevicePtr, pred_noise: DevicePtr, indices: ArrayLike,
                    batch: int, per_sample: int, x_prev: DevicePtr) -> None:
        """``lcmd_ddim_solver_step_device`` on memory of ``ctx``'s device."""
        idx = as_input(indices, i64, "indices", size=batch)
        _lib.call("lcmd_ddim_solver_step_device", ctx.ptr, self.ptr, _dev(pred_x0, "pred_x0"),
                  _dev(pred_noise, "pred_noise"), ptr(idx), batch, per_sample, _dev(x_prev, "x_prev"))


class LCMScheduler(Handle):
    """``lcmd_lcm_scheduler``: diffusers' LCMScheduler. ``ctx`` (optional) gives the seed
    of the noise drawn between steps and the log for warnings; it is kept alive."""

    _destroy_ = "lcmd_lcm_scheduler_destroy"

    def __init__(self, config: Optional[SchedulerConfig] = None, ctx: Optional[Context] = None) -> None:
        cfg = config if config is not None else new(SchedulerConfig)
        out = ctypes.c_void_p()
        _lib.call("lcmd_lcm_scheduler_create", None if ctx is None else ctx.ptr, ctypes.byref(cfg),
                  ctypes.byref(out))
        super().__init__(out.value, parents=() if ctx is None else (ctx,))

    def set_timesteps(self, num_inference_steps: int, original_inference_steps: int = 0,
                      strength: float = 1.0) -> np.ndarray:
        """Sets the sampling timesteps and returns them (descending, int64).
        Raises InvalidArgumentError where diffusers raises."""
        _lib.call("lcmd_lcm_scheduler_set_timesteps", self.ptr, num_inference_steps,
                  original_inference_steps, float(strength))
        return self.timesteps

    def set_custom_timesteps(self, timesteps: Sequence[int], original_inference_steps: int = 0,
                             strength: float = 1.0) -> np.ndarray:
        """Uses a strictly descending list of timesteps; returns those kept."""
        t = as_input(timesteps, i64, "timesteps").reshape(-1)
        _lib.call("lcmd_lcm_scheduler_set_custom_timesteps", self.ptr, ptr(t), t.size,
                  original_inference_steps, float(strength))
        return self.timesteps

    @property
    def num_timesteps(self) -> int:
        """Number of timesteps set (0 before set_timesteps)."""
        return int(_lib.lib.lcmd_lcm_scheduler_num_timesteps(self.ptr))

    @property
    def timesteps(self) -> np.ndarray:
        """The timesteps set (descending, a new int64 array)."""
        out = np.empty(self.num_timesteps, i64)
        if out.size:
            _lib.call("lcmd_lcm_scheduler_timesteps", self.ptr, ptr(out), out.size)
        return out

    @property
    def step_index(self) -> int:
        """Index of the next step."""
        return int(_lib.lib.lcmd_lcm_scheduler_step_index(self.ptr))

    def step(self, model_output: ArrayLike, timestep: int, sample: ArrayLike,
             noise: Optional[ArrayLike] = None, out: Optional[np.ndarray] = None,
             denoised_out: Optional[np.ndarray] = None,
             return_denoised: bool = False) -> Union[np.ndarray, Tuple[np.ndarray, np.ndarray]]:
        """One LCM step at ``timestep``; returns prev_sample (sample's shape), or
        ``(prev_sample, denoised)`` with ``return_denoised`` (or a ``denoised_out``).
        ``noise``: the standard normals to use between steps (else drawn from the
        library RNG keyed by the context's seed). Raises InvalidArgumentError,
        NumericError."""
        x = as_input(sample, f32, "sample")
        b, n = _batch_split(x, "sample")
        o = as_input(model_output, f32, "model_output", shape=x.shape)
        z = None if noise is None else as_input(noise, f32, "noise", shape=x.shape)
        prev = output(out, x.shape, f32, "prev_sample")
        want = return_denoised or denoised_out is not None
        den = output(denoised_out, x.shape, f32, "denoised") if want else None
        _lib.call("lcmd_lcm_scheduler_step", self.ptr, ptr(o), int(timestep), ptr(x), b, n,
                  ptr(z), ptr(prev), ptr(den))
        return (prev, den) if want else prev  # type: ignore[return-value]
