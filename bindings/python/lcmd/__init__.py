"""lcmd: Python binding of liblcmd (Latent Consistency Distillation of Stable Diffusion
models), on ctypes and numpy only.

The shared library is found through ``$LCMD_LIBRARY``, a build tree
(``$LCMD_BUILD_DIR/lib`` or ``<repo>/build/lib``) or the system loader; importing this
package raises ImportError when none is found. Every C handle is a class with
``close()`` and ``with`` support; every failing status raises an :class:`LcmdError`
subclass carrying the status and ``lcmd_last_error()``. The raw, fully prototyped
``ctypes.CDLL`` is :data:`lcmd.lib` for anything the classes do not cover.

    import lcmd
    with lcmd.Context(seed=0) as ctx:
        pipe = lcmd.Pipeline(ctx, "sd15/")
        sched = lcmd.LCMScheduler(pipe.scheduler_config(), ctx)
        sched.set_timesteps(4)
"""
from __future__ import annotations

from ._lib import PROTOTYPES, lib, library_path
from ._errors import (
    CommError, DeviceError, EndOfStream, FormatError, InternalError, InvalidArgumentError,
    LcmdError, LcmdIOError, NumericError, OutOfMemoryError, UnsupportedError,
)
from ._structs import (
    BetaSchedule, ContextOptions, CropMode, DatasetOptions, DatasetStats, DemoDataOptions,
    DemoPretrainOptions, DemoTeacherOptions, LogLevel, LossType, LRSchedule, PipelineOptions,
    PredictionType, SchedulerConfig, Status, StepBatch, StepInputs, StepReport, TextCleanup,
    TextEncoderInfo, TextEncoderLoadOptions, TextEncoderOutputs, TimestepSpacing,
    TokenizerOptions, TrainerOptions, UNetInfo, UNetInputs, UNetLoadOptions, VAEInfo,
    VAELoadOptions, WeightDType, new,
)
from .context import (
    Context, build_has_cuda, clear_error, cuda_device_count, last_error, status_string,
    version, version_string,
)
from .rng import philox4x32_10, rng_normal, rng_uniform
from .scheduler import (
    DDIMSolver, LCMScheduler, NoiseSchedule, boundary_scalings, guidance_scale_embedding,
    load_scheduler_config, parse_scheduler_config, scheduler_config,
)
from .models import Pipeline, TextEncoder, TextEncoderOutput, Tokenizer, UNet, VAE
from .dataset import Batch, Dataset, dataset_options
from .trainer import Progress, Trainer, lr_multiplier, trainer_options
from . import demo

#: Version of the binding (it follows the library it was written for).
__version__ = "0.1.0"

__all__ = [
    "lib", "library_path", "PROTOTYPES", "__version__",
    # errors
    "LcmdError", "InvalidArgumentError", "LcmdIOError", "FormatError", "OutOfMemoryError",
    "DeviceError", "UnsupportedError", "EndOfStream", "NumericError", "CommError", "InternalError",
    # enums and structs
    "Status", "LogLevel", "BetaSchedule", "PredictionType", "TimestepSpacing", "WeightDType",
    "TextCleanup", "CropMode", "LossType", "LRSchedule", "ContextOptions", "SchedulerConfig",
    "UNetLoadOptions", "UNetInfo", "UNetInputs", "TokenizerOptions", "TextEncoderLoadOptions",
    "TextEncoderInfo", "TextEncoderOutputs", "VAELoadOptions", "VAEInfo", "PipelineOptions",
    "DatasetOptions", "DatasetStats", "TrainerOptions", "StepInputs", "StepReport", "StepBatch",
    "DemoTeacherOptions", "DemoDataOptions", "DemoPretrainOptions", "new",
    # context and library
    "Context", "version", "version_string", "status_string", "last_error", "clear_error",
    "build_has_cuda", "cuda_device_count",
    # rng, scheduler
    "philox4x32_10", "rng_uniform", "rng_normal", "scheduler_config", "load_scheduler_config",
    "parse_scheduler_config", "NoiseSchedule", "DDIMSolver", "LCMScheduler", "boundary_scalings",
    "guidance_scale_embedding",
    # models, data, training, demo
    "Tokenizer", "TextEncoder", "TextEncoderOutput", "VAE", "UNet", "Pipeline", "Dataset", "Batch",
    "dataset_options", "Trainer", "Progress", "trainer_options", "lr_multiplier", "demo",
]
