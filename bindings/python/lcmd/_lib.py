"""Finding and loading liblcmd, and the prototype of every public C function.

The library is looked up, in order:

1. ``$LCMD_LIBRARY``: the path of ``liblcmd.so`` (used as given; an error if it does
   not load, no fallback);
2. a build tree: ``$LCMD_BUILD_DIR/lib/liblcmd.so``, else ``<repo>/build/lib/liblcmd.so``
   relative to this package (``bindings/python/lcmd`` inside the source tree);
3. ``ctypes.util.find_library("lcmd")`` (an installed library).

Failing all of them raises ``ImportError`` listing what was tried. :data:`PROTOTYPES`
declares ``restype`` and ``argtypes`` of every function in ``include/lcmd/*.h``; they are
set on the loaded ``CDLL`` at import, so every call is type-checked by ctypes. Handles
travel as ``c_void_p``; option structs as pointers to the mirrors in ``_structs``.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
from ctypes import (
    POINTER, c_char, c_char_p, c_double, c_float, c_int, c_int32, c_int64, c_size_t,
    c_uint, c_uint32, c_uint64, c_void_p,
)
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from . import _structs as S
from ._errors import error_for_status
from ._structs import Status

__all__ = ["lib", "call", "last_error", "library_path", "PROTOTYPES", "find_library"]

# Binding and library must share the major version (the SONAME).
ABI_MAJOR = 0

_vp = c_void_p            # an opaque handle, or a device pointer
_out = POINTER(c_void_p)  # T **out
_f = POINTER(c_float)
_d = POINTER(c_double)
_i32 = POINTER(c_int32)
_i64 = POINTER(c_int64)
_st = c_int               # lcmd_status (an enum: int)
_enum = c_int


def _p(struct: type) -> Any:
    return POINTER(struct)


#: name -> (restype, argtypes) of every public function of include/lcmd/*.h.
PROTOTYPES: Dict[str, Tuple[Any, List[Any]]] = {
    # version.h, status.h
    "lcmd_version": (c_uint, []),
    "lcmd_version_string": (c_char_p, []),
    "lcmd_status_string": (c_char_p, [_enum]),
    "lcmd_last_error": (c_char_p, []),
    "lcmd_clear_error": (None, []),
    # context.h
    "lcmd_context_options_init": (_st, [_p(S.ContextOptions)]),
    "lcmd_context_create": (_st, [_p(S.ContextOptions), _out]),
    "lcmd_context_destroy": (None, [_vp]),
    "lcmd_context_device": (c_char_p, [_vp]),
    "lcmd_context_num_threads": (c_int32, [_vp]),
    "lcmd_context_seed": (c_uint64, [_vp]),
    "lcmd_context_log": (None, [_vp, _enum, c_char_p]),
    "lcmd_build_has_cuda": (c_int, []),
    "lcmd_cuda_device_count": (c_int, []),
    "lcmd_context_self_check": (_st, [_vp, POINTER(c_char), c_size_t]),
    # rng.h
    "lcmd_philox4x32_10": (_st, [POINTER(c_uint32), POINTER(c_uint32), POINTER(c_uint32)]),
    "lcmd_rng_uniform": (_st, [c_uint64, c_uint64, c_uint64, _f, c_size_t]),
    "lcmd_rng_normal": (_st, [c_uint64, c_uint64, c_uint64, _f, c_size_t]),
    # scheduler.h: config
    "lcmd_scheduler_config_init": (_st, [_p(S.SchedulerConfig)]),
    "lcmd_scheduler_config_load": (_st, [c_char_p, _p(S.SchedulerConfig)]),
    "lcmd_scheduler_config_parse": (_st, [c_char_p, c_size_t, c_char_p, _p(S.SchedulerConfig)]),
    # scheduler.h: noise schedule
    "lcmd_noise_schedule_create": (_st, [_p(S.SchedulerConfig), _out]),
    "lcmd_noise_schedule_destroy": (None, [_vp]),
    "lcmd_noise_schedule_num_timesteps": (c_int32, [_vp]),
    "lcmd_noise_schedule_betas": (_st, [_vp, _d, c_size_t]),
    "lcmd_noise_schedule_alphas_cumprod": (_st, [_vp, _d, c_size_t]),
    "lcmd_noise_schedule_alpha_sigma": (_st, [_vp, _f, _f, c_size_t]),
    "lcmd_add_noise": (_st, [_vp, _f, _f, _i64, c_int64, c_int64, _f]),
    "lcmd_predicted_origin": (_st, [_vp, _enum, _f, _i64, _f, c_int64, c_int64, _f]),
    "lcmd_predicted_noise": (_st, [_vp, _enum, _f, _i64, _f, c_int64, c_int64, _f]),
    "lcmd_boundary_scalings": (_st, [_i64, c_int64, c_double, _f, _f]),
    "lcmd_guidance_scale_embedding": (_st, [_f, c_int64, c_int64, _f]),
    # scheduler.h: DDIM solver
    "lcmd_ddim_solver_create": (_st, [_vp, c_int32, _out]),
    "lcmd_ddim_solver_destroy": (None, [_vp]),
    "lcmd_ddim_solver_num_timesteps": (c_int32, [_vp]),
    "lcmd_ddim_solver_timesteps": (_st, [_vp, _i64, c_size_t]),
    "lcmd_ddim_solver_alphas_cumprod": (_st, [_vp, _d, _d, c_size_t]),
    "lcmd_ddim_solver_interval": (_st, [_vp, c_int64, _i64, _i64]),
    "lcmd_ddim_solver_step": (_st, [_vp, _f, _f, _i64, c_int64, c_int64, _f]),
    # scheduler.h: device memory (pointers as integers)
    "lcmd_add_noise_device": (_st, [_vp, _vp, _vp, _vp, _i64, c_int64, c_int64, _vp]),
    "lcmd_predicted_origin_device": (_st, [_vp, _vp, _enum, _vp, _i64, _vp, c_int64, c_int64, _vp]),
    "lcmd_predicted_noise_device": (_st, [_vp, _vp, _enum, _vp, _i64, _vp, c_int64, c_int64, _vp]),
    "lcmd_ddim_solver_step_device": (_st, [_vp, _vp, _vp, _vp, _i64, c_int64, c_int64, _vp]),
    # scheduler.h: LCM sampler
    "lcmd_lcm_scheduler_create": (_st, [_vp, _p(S.SchedulerConfig), _out]),
    "lcmd_lcm_scheduler_destroy": (None, [_vp]),
    "lcmd_lcm_scheduler_set_timesteps": (_st, [_vp, c_int32, c_int32, c_double]),
    "lcmd_lcm_scheduler_set_custom_timesteps": (_st, [_vp, _i64, c_size_t, c_int32, c_double]),
    "lcmd_lcm_scheduler_num_timesteps": (c_int32, [_vp]),
    "lcmd_lcm_scheduler_timesteps": (_st, [_vp, _i64, c_size_t]),
    "lcmd_lcm_scheduler_step_index": (c_int32, [_vp]),
    "lcmd_lcm_scheduler_step": (_st, [_vp, _f, c_int64, _f, c_int64, c_int64, _f, _f, _f]),
    # unet.h
    "lcmd_unet_load_options_init": (_st, [_p(S.UNetLoadOptions)]),
    "lcmd_unet_load": (_st, [_vp, c_char_p, _p(S.UNetLoadOptions), _out]),
    "lcmd_unet_create_student": (_st, [_vp, _vp, c_int32, _out]),
    "lcmd_unet_destroy": (None, [_vp]),
    "lcmd_unet_info_init": (_st, [_p(S.UNetInfo)]),
    "lcmd_unet_get_info": (_st, [_vp, _p(S.UNetInfo)]),
    "lcmd_unet_inputs_init": (_st, [_p(S.UNetInputs)]),
    "lcmd_unet_forward": (_st, [_vp, _p(S.UNetInputs), _f]),
    "lcmd_unet_save": (_st, [_vp, c_char_p, _enum, c_char_p]),
    # text.h
    "lcmd_tokenizer_options_init": (_st, [_p(S.TokenizerOptions)]),
    "lcmd_tokenizer_load": (_st, [_vp, c_char_p, _out]),
    "lcmd_tokenizer_load_with_options": (_st, [_vp, c_char_p, _p(S.TokenizerOptions), _out]),
    "lcmd_tokenizer_destroy": (None, [_vp]),
    "lcmd_tokenizer_encode": (_st, [_vp, c_char_p, c_size_t, _i32, c_size_t, POINTER(c_size_t)]),
    "lcmd_tokenizer_encode_padded": (_st, [_vp, POINTER(c_char_p), c_size_t, _i32]),
    "lcmd_tokenizer_model_max_length": (c_size_t, [_vp]),
    "lcmd_tokenizer_bos_id": (c_int32, [_vp]),
    "lcmd_tokenizer_eos_id": (c_int32, [_vp]),
    "lcmd_tokenizer_pad_id": (c_int32, [_vp]),
    "lcmd_tokenizer_cleanup": (c_int32, [_vp]),
    "lcmd_tokenizer_vocab_size": (c_size_t, [_vp]),
    # text_encoder.h
    "lcmd_text_encoder_load_options_init": (_st, [_p(S.TextEncoderLoadOptions)]),
    "lcmd_text_encoder_load": (_st, [_vp, c_char_p, _p(S.TextEncoderLoadOptions), _out]),
    "lcmd_text_encoder_destroy": (None, [_vp]),
    "lcmd_text_encoder_info_init": (_st, [_p(S.TextEncoderInfo)]),
    "lcmd_text_encoder_get_info": (_st, [_vp, _p(S.TextEncoderInfo)]),
    "lcmd_text_encoder_outputs_init": (_st, [_p(S.TextEncoderOutputs)]),
    "lcmd_text_encoder_forward": (_st, [_vp, _i32, c_int64, c_int64, _p(S.TextEncoderOutputs)]),
    # vae.h
    "lcmd_vae_load_options_init": (_st, [_p(S.VAELoadOptions)]),
    "lcmd_vae_load": (_st, [_vp, c_char_p, _p(S.VAELoadOptions), _out]),
    "lcmd_vae_destroy": (None, [_vp]),
    "lcmd_vae_info_init": (_st, [_p(S.VAEInfo)]),
    "lcmd_vae_get_info": (_st, [_vp, _p(S.VAEInfo)]),
    "lcmd_vae_encode": (_st, [_vp, c_int64, c_int64, c_int64, _f, _f, _f]),
    "lcmd_vae_sample": (_st, [_vp, c_size_t, _f, _f, _f, c_uint64, c_uint64, _f]),
    "lcmd_vae_scale_latents": (_st, [_vp, c_size_t, _f]),
    "lcmd_vae_unscale_latents": (_st, [_vp, c_size_t, _f]),
    "lcmd_vae_decode": (_st, [_vp, c_int64, c_int64, c_int64, _f, _f]),
    # pipeline.h
    "lcmd_pipeline_options_init": (_st, [_p(S.PipelineOptions)]),
    "lcmd_pipeline_open": (_st, [_vp, c_char_p, _p(S.PipelineOptions), _out]),
    "lcmd_pipeline_destroy": (None, [_vp]),
    "lcmd_pipeline_class_name": (c_char_p, [_vp]),
    "lcmd_pipeline_is_sdxl": (c_int, [_vp]),
    "lcmd_pipeline_tokenizer": (_vp, [_vp, c_int]),
    "lcmd_pipeline_text_encoder": (_vp, [_vp, c_int]),
    "lcmd_pipeline_vae": (_vp, [_vp]),
    "lcmd_pipeline_unet": (_vp, [_vp]),
    "lcmd_pipeline_scheduler_config": (_st, [_vp, _p(S.SchedulerConfig)]),
    # dataset.h
    "lcmd_dataset_options_init": (_st, [_p(S.DatasetOptions)]),
    "lcmd_dataset_create": (_st, [_vp, _p(S.DatasetOptions), _out]),
    "lcmd_dataset_next": (_st, [_vp, _out]),
    "lcmd_dataset_skip": (_st, [_vp, c_int64, _i64]),
    "lcmd_dataset_get_stats": (_st, [_vp, _p(S.DatasetStats)]),
    "lcmd_dataset_destroy": (None, [_vp]),
    "lcmd_batch_size": (c_int32, [_vp]),
    "lcmd_batch_resolution": (c_int32, [_vp]),
    "lcmd_batch_images": (_vp, [_vp]),
    "lcmd_batch_caption": (c_char_p, [_vp, c_int32]),
    "lcmd_batch_key": (c_char_p, [_vp, c_int32]),
    "lcmd_batch_original_size": (_st, [_vp, c_int32, _i32, _i32]),
    "lcmd_batch_crop": (_st, [_vp, c_int32, _i32, _i32, _i32]),
    "lcmd_batch_destroy": (None, [_vp]),
    # trainer.h
    "lcmd_trainer_options_init": (_st, [_p(S.TrainerOptions)]),
    "lcmd_trainer_create": (_st, [_vp, _vp, _p(S.SchedulerConfig), _p(S.TrainerOptions), _out]),
    "lcmd_trainer_destroy": (None, [_vp]),
    "lcmd_trainer_student": (_vp, [_vp]),
    "lcmd_trainer_target": (_vp, [_vp]),
    "lcmd_step_inputs_init": (_st, [_p(S.StepInputs)]),
    "lcmd_step_report_init": (_st, [_p(S.StepReport)]),
    "lcmd_trainer_step_latents": (_st, [_vp, _p(S.StepInputs), _p(S.StepReport)]),
    "lcmd_trainer_set_encoders": (_st, [_vp, _vp, _vp, _vp]),
    "lcmd_step_batch_init": (_st, [_p(S.StepBatch)]),
    "lcmd_trainer_step": (_st, [_vp, _p(S.StepBatch), _p(S.StepReport)]),
    "lcmd_trainer_step_dataset": (_st, [_vp, _vp, _p(S.StepReport)]),
    "lcmd_trainer_progress": (_st, [_vp, _i64, _i64, _i64]),
    "lcmd_lr_multiplier": (c_double, [_enum, c_int64, c_int64, c_int64, c_double]),
    "lcmd_trainer_save_checkpoint": (_st, [_vp, c_char_p, c_int32, POINTER(c_char), c_size_t]),
    "lcmd_trainer_resume": (_st, [_vp, c_char_p, c_char_p]),
    "lcmd_trainer_export": (_st, [_vp, c_char_p]),
    # demo.h
    "lcmd_demo_teacher_options_init": (_st, [_p(S.DemoTeacherOptions)]),
    "lcmd_demo_data_options_init": (_st, [_p(S.DemoDataOptions)]),
    "lcmd_demo_write_teacher": (_st, [_vp, c_char_p, _p(S.DemoTeacherOptions)]),
    "lcmd_demo_write_shards": (_st, [c_char_p, _p(S.DemoDataOptions)]),
    "lcmd_demo_pretrain_options_init": (_st, [_p(S.DemoPretrainOptions)]),
    "lcmd_demo_pretrain_teacher": (_st, [_vp, c_char_p, c_char_p, _p(S.DemoPretrainOptions), _d]),
}


def _candidates() -> List[Tuple[str, str]]:
    """(origin, path) pairs to try, in order, for the build-tree and installed cases."""
    out: List[Tuple[str, str]] = []
    build_dir = os.environ.get("LCMD_BUILD_DIR")
    if build_dir:
        out.append(("LCMD_BUILD_DIR", str(Path(build_dir) / "lib" / "liblcmd.so")))
    repo = Path(__file__).resolve().parents[3]
    out.append(("source tree", str(repo / "build" / "lib" / "liblcmd.so")))
    found = ctypes.util.find_library("lcmd")
    if found:
        out.append(("find_library", found))
    return out


def find_library() -> Tuple[str, ctypes.CDLL]:
    """Locates and loads liblcmd as described in this module's docstring.

    Returns ``(path, cdll)``. Raises ``ImportError`` naming every place tried (and the
    loader's message) when none loads."""
    env = os.environ.get("LCMD_LIBRARY")
    if env:
        try:
            return env, ctypes.CDLL(env)
        except OSError as e:
            raise ImportError(f"lcmd: LCMD_LIBRARY={env!r} could not be loaded: {e}") from e
    tried: List[str] = []
    for origin, path in _candidates():
        if origin != "find_library" and not os.path.exists(path):
            tried.append(f"{path} ({origin}: not found)")
            continue
        try:
            return path, ctypes.CDLL(path)
        except OSError as e:
            tried.append(f"{path} ({origin}: {e})")
    tried.append('ctypes.util.find_library("lcmd") (nothing)' if not ctypes.util.find_library("lcmd") else "")
    raise ImportError(
        "lcmd: liblcmd.so not found; set LCMD_LIBRARY to its path or LCMD_BUILD_DIR to a "
        "meson build folder. Tried: " + "; ".join(t for t in tried if t))


def _declare(cdll: ctypes.CDLL, names: Iterable[str]) -> None:
    for name in names:
        restype, argtypes = PROTOTYPES[name]
        fn = getattr(cdll, name)  # AttributeError names a function the library lacks
        fn.restype = restype
        fn.argtypes = argtypes


library_path, lib = find_library()
try:
    _declare(lib, PROTOTYPES)
except AttributeError as _e:
    raise ImportError(f"lcmd: {library_path} lacks a function the binding needs ({_e}); "
                      "rebuild liblcmd or use a binding of the same version") from _e

if lib.lcmd_version() // 10000 != ABI_MAJOR:
    raise ImportError(f"lcmd: {library_path} is liblcmd {lib.lcmd_version_string().decode()}, "
                      f"the binding needs major version {ABI_MAJOR}")


def last_error() -> str:
    """``lcmd_last_error()``: the calling thread's detail message ("" when none)."""
    return (lib.lcmd_last_error() or b"").decode("utf-8", "replace")


def call(name: str, *args: Any, allow: Sequence[int] = ()) -> Status:
    """Calls ``name`` with ``args`` and returns its status. A status other than OK and
    those in ``allow`` raises the matching :class:`lcmd.LcmdError` subclass with the
    library's message."""
    status = getattr(lib, name)(*args)
    if status != 0 and status not in allow:
        raise error_for_status(status, last_error(), name)
    return Status(status)


def text(value: Optional[bytes]) -> Optional[str]:
    """A ``const char *`` result as ``str`` (None stays None)."""
    return None if value is None else value.decode("utf-8", "replace")


def path_arg(value: "os.PathLike[str] | str | bytes | None") -> Optional[bytes]:
    """A path or string argument as NUL-terminated bytes (os.fsencode; None = NULL).
    Raises ValueError for an embedded NUL, which C would silently cut."""
    if value is None:
        return None
    raw = value if isinstance(value, bytes) else os.fsencode(value)
    if b"\0" in raw:
        raise ValueError(f"embedded NUL in {value!r}")
    return raw
