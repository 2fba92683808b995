"""ctypes mirrors of the public liblcmd option, report and info structs, and its enums.

Each ``Structure`` below has the exact field order and C types of its counterpart in
``include/lcmd/*.h``. Create instances with :func:`new`, which calls the library's own
``*_init()`` so that ``struct_size`` and every default come from the loaded library
(never from Python). Structs without an init function (``lcmd_dataset_stats``) get
``struct_size = sizeof``. This module holds only types; it loads nothing by itself.
"""
from __future__ import annotations

import ctypes
import enum
from ctypes import (
    CFUNCTYPE, POINTER, Structure, c_char_p, c_double, c_float, c_int, c_int32, c_int64,
    c_uint32, c_uint64, c_void_p,
)
from typing import Type, TypeVar

__all__ = [
    "Status", "LogLevel", "BetaSchedule", "PredictionType", "TimestepSpacing",
    "WeightDType", "TextCleanup", "CropMode", "LossType", "LRSchedule",
    "LOG_FN", "ContextOptions", "SchedulerConfig", "UNetLoadOptions", "UNetInfo",
    "UNetInputs", "TokenizerOptions", "TextEncoderLoadOptions", "TextEncoderInfo",
    "TextEncoderOutputs", "VAELoadOptions", "VAEInfo", "PipelineOptions",
    "DatasetOptions", "DatasetStats", "TrainerOptions", "StepInputs", "StepReport",
    "StepBatch", "DemoTeacherOptions", "DemoDataOptions", "DemoPretrainOptions", "new",
]


# ------------------------------------------------------------------------- enums

class Status(enum.IntEnum):
    """``lcmd_status``: the result of every fallible call (values never change)."""
    OK = 0
    ERR_INVALID_ARGUMENT = 1
    ERR_IO = 2
    ERR_FORMAT = 3
    ERR_OUT_OF_MEMORY = 4
    ERR_DEVICE = 5
    ERR_UNSUPPORTED = 6
    END_OF_STREAM = 7
    ERR_NUMERIC = 8
    ERR_COMM = 9
    ERR_INTERNAL = 10


class LogLevel(enum.IntEnum):
    """``lcmd_log_level``."""
    DEBUG = 0
    INFO = 1
    WARN = 2
    ERROR = 3
    OFF = 4


class BetaSchedule(enum.IntEnum):
    """``lcmd_beta_schedule``."""
    LINEAR = 0
    SCALED_LINEAR = 1
    SQUAREDCOS_CAP_V2 = 2


class PredictionType(enum.IntEnum):
    """``lcmd_prediction_type``."""
    EPSILON = 0
    V_PREDICTION = 1
    SAMPLE = 2


class TimestepSpacing(enum.IntEnum):
    """``lcmd_timestep_spacing``."""
    LEADING = 0
    TRAILING = 1
    LINSPACE = 2


class WeightDType(enum.IntEnum):
    """``lcmd_weight_dtype``: storage type of saved weights."""
    F32 = 0
    F16 = 1
    BF16 = 2


class TextCleanup(enum.IntEnum):
    """``lcmd_text_cleanup``: tokenizer cleanup mode."""
    FTFY = 0
    MINIMAL = 1


class CropMode(enum.IntEnum):
    """``lcmd_crop_mode``."""
    RANDOM = 0
    CENTER = 1


class LossType(enum.IntEnum):
    """``lcmd_loss_type``."""
    L2 = 0
    HUBER = 1


class LRSchedule(enum.IntEnum):
    """``lcmd_lr_schedule``."""
    CONSTANT = 0
    CONSTANT_WITH_WARMUP = 1
    LINEAR = 2
    COSINE = 3
    COSINE_WITH_RESTARTS = 4
    POLYNOMIAL = 5


#: ``lcmd_log_fn``: ``void (*)(void *user, lcmd_log_level level, const char *message)``.
LOG_FN = CFUNCTYPE(None, c_void_p, c_int, c_char_p)


# ------------------------------------------------------------------------- structs

class _Versioned(Structure):
    """Base of the versioned structs: ``_init_`` names the library's init function."""
    _init_: str = ""

    def to_dict(self) -> dict:
        """The fields as a dict (pointers as integers or None), for printing and tests."""
        out = {}
        for name, ctype in self._fields_:
            value = getattr(self, name)
            if isinstance(value, (ctypes._Pointer, ctypes._CFuncPtr)):  # type: ignore[attr-defined]
                value = ctypes.cast(value, c_void_p).value
            elif isinstance(value, bytes):
                value = value.decode("utf-8", "replace")
            out[name] = value
        return out

    def __repr__(self) -> str:
        body = ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items() if k != "struct_size")
        return f"{type(self).__name__}({body})"


class ContextOptions(_Versioned):
    """``lcmd_context_options``."""
    _init_ = "lcmd_context_options_init"
    _fields_ = [
        ("struct_size", c_uint32),
        ("device", c_char_p),
        ("num_threads", c_int32),
        ("seed", c_uint64),
        ("log_fn", LOG_FN),
        ("log_user", c_void_p),
        ("log_level", c_int),
    ]


class SchedulerConfig(_Versioned):
    """``lcmd_scheduler_config``: a diffusers scheduler_config.json as liblcmd uses it."""
    _init_ = "lcmd_scheduler_config_init"
    _fields_ = [
        ("struct_size", c_uint32),
        ("num_train_timesteps", c_int32),
        ("beta_start", c_double),
        ("beta_end", c_double),
        ("beta_schedule", c_int),
        ("prediction_type", c_int),
        ("timestep_spacing", c_int),
        ("steps_offset", c_int32),
        ("set_alpha_to_one", c_int32),
        ("rescale_betas_zero_snr", c_int32),
        ("clip_sample", c_int32),
        ("clip_sample_range", c_double),
        ("thresholding", c_int32),
        ("dynamic_thresholding_ratio", c_double),
        ("sample_max_value", c_double),
        ("original_inference_steps", c_int32),
        ("timestep_scaling", c_double),
    ]


class UNetLoadOptions(_Versioned):
    """``lcmd_unet_load_options``."""
    _init_ = "lcmd_unet_load_options_init"
    _fields_ = [("struct_size", c_uint32), ("variant", c_char_p)]


class UNetInfo(_Versioned):
    """``lcmd_unet_info``: the sizes a host needs for a forward pass."""
    _init_ = "lcmd_unet_info_init"
    _fields_ = [
        ("struct_size", c_uint32),
        ("in_channels", c_int32),
        ("out_channels", c_int32),
        ("sample_size", c_int32),
        ("cross_attention_dim", c_int32),
        ("time_cond_proj_dim", c_int32),
        ("text_embed_dim", c_int32),
        ("downsample_factor", c_int32),
        ("num_parameters", c_int64),
    ]


class UNetInputs(_Versioned):
    """``lcmd_unet_inputs``: pointers to the host arrays of one forward pass."""
    _init_ = "lcmd_unet_inputs_init"
    _fields_ = [
        ("struct_size", c_uint32),
        ("batch", c_int64),
        ("height", c_int64),
        ("width", c_int64),
        ("sample", POINTER(c_float)),
        ("timesteps", POINTER(c_float)),
        ("encoder_hidden_states", POINTER(c_float)),
        ("seq_len", c_int64),
        ("timestep_cond", POINTER(c_float)),
        ("text_embeds", POINTER(c_float)),
        ("time_ids", POINTER(c_float)),
    ]


class TokenizerOptions(_Versioned):
    """``lcmd_tokenizer_options``."""
    _init_ = "lcmd_tokenizer_options_init"
    _fields_ = [("struct_size", c_uint32), ("cleanup", c_int32)]


class TextEncoderLoadOptions(_Versioned):
    """``lcmd_text_encoder_load_options``."""
    _init_ = "lcmd_text_encoder_load_options_init"
    _fields_ = [("struct_size", c_uint32), ("variant", c_char_p)]


class TextEncoderInfo(_Versioned):
    """``lcmd_text_encoder_info``."""
    _init_ = "lcmd_text_encoder_info_init"
    _fields_ = [
        ("struct_size", c_uint32),
        ("vocab_size", c_int32),
        ("hidden_size", c_int32),
        ("num_hidden_layers", c_int32),
        ("max_position_embeddings", c_int32),
        ("has_projection", c_int32),
        ("pooled_dim", c_int32),
        ("eos_token_id", c_int64),
        ("bos_token_id", c_int64),
        ("pad_token_id", c_int64),
        ("num_parameters", c_int64),
    ]


class TextEncoderOutputs(_Versioned):
    """``lcmd_text_encoder_outputs``: caller-owned output arrays (NULL = not computed)."""
    _init_ = "lcmd_text_encoder_outputs_init"
    _fields_ = [
        ("struct_size", c_uint32),
        ("last_hidden_state", POINTER(c_float)),
        ("hidden_layer", c_int32),
        ("hidden_states", POINTER(c_float)),
        ("pooled", POINTER(c_float)),
    ]


class VAELoadOptions(_Versioned):
    """``lcmd_vae_load_options``."""
    _init_ = "lcmd_vae_load_options_init"
    _fields_ = [("struct_size", c_uint32), ("variant", c_char_p)]


class VAEInfo(_Versioned):
    """``lcmd_vae_info``."""
    _init_ = "lcmd_vae_info_init"
    _fields_ = [
        ("struct_size", c_uint32),
        ("in_channels", c_int32),
        ("out_channels", c_int32),
        ("latent_channels", c_int32),
        ("downsample_factor", c_int32),
        ("scaling_factor", c_double),
        ("has_shift", c_int32),
        ("shift_factor", c_double),
        ("force_upcast", c_int32),
        ("num_parameters", c_int64),
    ]


class PipelineOptions(_Versioned):
    """``lcmd_pipeline_options``."""
    _init_ = "lcmd_pipeline_options_init"
    _fields_ = [
        ("struct_size", c_uint32),
        ("variant", c_char_p),
        ("load_unet", c_int32),
        ("load_vae", c_int32),
        ("load_text", c_int32),
    ]


class DatasetOptions(_Versioned):
    """``lcmd_dataset_options``."""
    _init_ = "lcmd_dataset_options_init"
    _fields_ = [
        ("struct_size", c_uint32),
        ("shards", c_char_p),
        ("resolution", c_int32),
        ("batch_size", c_int32),
        ("seed", c_uint64),
        ("shuffle_buffer", c_int32),
        ("shuffle_initial", c_int32),
        ("shuffle_shards", c_int32),
        ("resampled", c_int32),
        ("epochs", c_int32),
        ("rank", c_int32),
        ("world_size", c_int32),
        ("num_workers", c_int32),
        ("prefetch", c_int32),
        ("crop", c_int32),
        ("random_flip", c_int32),
        ("max_pixels", c_int64),
        ("max_member_bytes", c_int64),
        ("min_json_width", c_int32),
        ("min_json_height", c_int32),
        ("max_pwatermark", c_double),
        ("apply_exif_orientation", c_int32),
    ]


class DatasetStats(_Versioned):
    """``lcmd_dataset_stats`` (no init function: :func:`new` sets ``struct_size``)."""
    _init_ = ""
    _fields_ = [("struct_size", c_uint32)] + [
        (name, c_uint64) for name in (
            "shards_opened", "shards_failed", "truncated_shards", "samples_read",
            "samples_used", "batches", "skipped_no_image", "skipped_no_caption",
            "skipped_decode", "skipped_too_large", "skipped_bad_utf8", "skipped_filtered",
            "dropped_partial",
        )
    ]


class TrainerOptions(_Versioned):
    """``lcmd_trainer_options``: the distillation script's hyper-parameters."""
    _init_ = "lcmd_trainer_options_init"
    _fields_ = [
        ("struct_size", c_uint32),
        ("learning_rate", c_double),
        ("adam_beta1", c_double),
        ("adam_beta2", c_double),
        ("adam_weight_decay", c_double),
        ("adam_epsilon", c_double),
        ("max_grad_norm", c_double),
        ("w_min", c_double),
        ("w_max", c_double),
        ("num_ddim_timesteps", c_int32),
        ("loss_type", c_int),
        ("huber_c", c_double),
        ("ema_decay", c_double),
        ("timestep_scaling_factor", c_double),
        ("unet_time_cond_proj_dim", c_int32),
        ("lr_scheduler", c_int),
        ("lr_warmup_steps", c_int64),
        ("max_train_steps", c_int64),
        ("gradient_accumulation_steps", c_int32),
        ("seed", c_uint64),
        ("gradient_checkpointing", c_int32),
    ]


class StepInputs(_Versioned):
    """``lcmd_step_inputs``: one micro-batch of latents and embeddings."""
    _init_ = "lcmd_step_inputs_init"
    _fields_ = [
        ("struct_size", c_uint32),
        ("batch", c_int64),
        ("channels", c_int64),
        ("height", c_int64),
        ("width", c_int64),
        ("latents", POINTER(c_float)),
        ("seq_len", c_int64),
        ("embed_dim", c_int64),
        ("cond_embeds", POINTER(c_float)),
        ("uncond_embeds", POINTER(c_float)),
        ("noise", POINTER(c_float)),
        ("ddim_indices", POINTER(c_int64)),
        ("guidance", POINTER(c_float)),
    ]


class StepReport(_Versioned):
    """``lcmd_step_report``: what a training step did."""
    _init_ = "lcmd_step_report_init"
    _fields_ = [
        ("struct_size", c_uint32),
        ("loss", c_double),
        ("grad_norm", c_double),
        ("lr", c_double),
        ("step", c_int64),
        ("optimizer_stepped", c_int32),
        ("skipped", c_int32),
        ("micro_steps", c_int64),
        ("samples_seen", c_int64),
    ]


class StepBatch(_Versioned):
    """``lcmd_step_batch``: one micro-batch of images and captions."""
    _init_ = "lcmd_step_batch_init"
    _fields_ = [
        ("struct_size", c_uint32),
        ("batch", c_int64),
        ("height", c_int64),
        ("width", c_int64),
        ("images", POINTER(c_float)),
        ("captions", POINTER(c_char_p)),
        ("vae_noise", POINTER(c_float)),
        ("noise", POINTER(c_float)),
        ("ddim_indices", POINTER(c_int64)),
        ("guidance", POINTER(c_float)),
    ]


class DemoTeacherOptions(_Versioned):
    """``lcmd_demo_teacher_options``."""
    _init_ = "lcmd_demo_teacher_options_init"
    _fields_ = [
        ("struct_size", c_uint32),
        ("seed", c_uint64),
        ("text_hidden_size", c_int32),
        ("text_layers", c_int32),
        ("unet_channels", c_int32),
        ("vae_channels", c_int32),
    ]


class DemoDataOptions(_Versioned):
    """``lcmd_demo_data_options``."""
    _init_ = "lcmd_demo_data_options_init"
    _fields_ = [
        ("struct_size", c_uint32),
        ("seed", c_uint64),
        ("num_shards", c_int32),
        ("samples_per_shard", c_int32),
        ("resolution", c_int32),
        ("fixed_layout", c_int32),
        ("paired_colors", c_int32),
    ]


# void (*progress)(void *user, int32_t done, int32_t steps, double loss)
DemoPretrainProgress = CFUNCTYPE(None, c_void_p, c_int32, c_int32, c_double)


class DemoPretrainOptions(_Versioned):
    """``lcmd_demo_pretrain_options``."""
    _init_ = "lcmd_demo_pretrain_options_init"
    _fields_ = [
        ("struct_size", c_uint32),
        ("steps", c_int32),
        ("batch_size", c_int32),
        ("resolution", c_int32),
        ("learning_rate", c_double),
        ("seed", c_uint64),
        ("uncond_probability", c_double),
        ("progress", DemoPretrainProgress),
        ("progress_user", c_void_p),
    ]


S = TypeVar("S", bound=_Versioned)


def new(cls: Type[S], **fields) -> S:
    """A ``cls`` filled by the library's ``*_init()`` (struct_size and defaults), then
    with ``fields`` set by name. Raises :class:`lcmd.LcmdError` if the init call fails,
    ``AttributeError`` for an unknown field name."""
    from . import _lib  # deferred: _lib imports this module for its prototypes
    obj = cls()
    if cls._init_:
        _lib.call(cls._init_, ctypes.byref(obj))
    else:
        obj.struct_size = ctypes.sizeof(cls)
    for name, value in fields.items():
        if not any(name == f[0] for f in cls._fields_):
            raise AttributeError(f"{cls.__name__} has no field {name!r}")
        if isinstance(value, str):
            value = value.encode("utf-8")
        setattr(obj, name, value)
    return obj
