"""The models of a Stable Diffusion pipeline: CLIP tokenizer, CLIP text encoder,
AutoencoderKL, UNet2DConditionModel, and the pipeline folder that holds them
(text.h, text_encoder.h, vae.h, unet.h, pipeline.h).

Loaded models own their C handle and keep their context alive. Components returned by
:class:`Pipeline` (and a trainer's student/target) are *borrowed*: they stay valid until
their owner is closed, which closes them too. Float inputs are float32 and token ids
int32, C-contiguous, converted (one copy) only when they are not; outputs are new numpy
arrays filled by the library, or a caller's ``out=`` of the exact shape and dtype.
"""
from __future__ import annotations

import ctypes
import os
import weakref
from typing import Dict, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np

from . import _lib
from ._arrays import ArrayLike, as_input, f32, i32, output, ptr
from ._handle import Handle
from ._structs import (
    PipelineOptions, SchedulerConfig, TextCleanup, TextEncoderInfo, TextEncoderLoadOptions,
    TextEncoderOutputs, TokenizerOptions, UNetInfo, UNetInputs, UNetLoadOptions, VAEInfo,
    VAELoadOptions, WeightDType, new,
)
from .context import Context

__all__ = ["Tokenizer", "TextEncoder", "TextEncoderOutput", "VAE", "UNet", "Pipeline"]

PathLike = Union[str, "os.PathLike[str]"]


def _load(fn: str, ctx: Context, folder: PathLike, opts: Optional[ctypes.Structure]) -> int:
    out = ctypes.c_void_p()
    if opts is None:
        _lib.call(fn, ctx.ptr, _lib.path_arg(folder), ctypes.byref(out))
    else:
        _lib.call(fn, ctx.ptr, _lib.path_arg(folder), ctypes.byref(opts), ctypes.byref(out))
    return out.value  # type: ignore[return-value]


# ------------------------------------------------------------------------ tokenizer

class Tokenizer(Handle):
    """``lcmd_tokenizer``: the CLIP BPE tokenizer of a diffusers ``tokenizer/`` folder.

    ``Tokenizer(ctx, folder, cleanup=None)``: ``cleanup=None`` loads with the library's
    defaults (``lcmd_tokenizer_load``: FTFY), a :class:`TextCleanup` chooses the mode.
    Raises LcmdIOError naming a missing file, FormatError, UnsupportedError."""

    _destroy_ = "lcmd_tokenizer_destroy"

    def __init__(self, ctx: Context, folder: PathLike, cleanup: Optional[TextCleanup] = None) -> None:
        if cleanup is None:
            ptr_ = _load("lcmd_tokenizer_load", ctx, folder, None)
        else:
            opts = new(TokenizerOptions, cleanup=int(cleanup))
            ptr_ = _load("lcmd_tokenizer_load_with_options", ctx, folder, opts)
        super().__init__(ptr_, parents=(ctx,))

    def encode(self, text: Union[str, bytes]) -> np.ndarray:
        """``[bos] + tokens + [eos]`` of one caption (no padding or truncation), int32.
        ``bytes`` are passed as they are (ill-formed UTF-8 is repaired by the library)."""
        raw = text.encode("utf-8") if isinstance(text, str) else bytes(text)
        cap = len(raw) + 8
        while True:
            ids = np.empty(cap, i32)
            n = ctypes.c_size_t()
            _lib.call("lcmd_tokenizer_encode", self.ptr, raw, len(raw), ptr(ids), cap, ctypes.byref(n))
            if n.value <= cap:
                return ids[: n.value]
            cap = n.value

    def encode_padded(self, captions: Sequence[str], out: Optional[np.ndarray] = None) -> np.ndarray:
        """The training script's ids: ``[len(captions), model_max_length]`` int32, each
        row bos, the caption cut to fit, eos, then pad ids."""
        if isinstance(captions, (str, bytes)):
            raise TypeError("captions: a sequence of strings expected, not one string")
        enc = [c.encode("utf-8") if isinstance(c, str) else bytes(c) for c in captions]
        arr = output(out, (len(enc), self.model_max_length), i32, "encode_padded")
        cs = (ctypes.c_char_p * max(len(enc), 1))(*enc)
        _lib.call("lcmd_tokenizer_encode_padded", self.ptr, cs, len(enc), ptr(arr))
        return arr

    __call__ = encode_padded

    @property
    def model_max_length(self) -> int:
        """The config's model_max_length (77 for SD)."""
        return int(_lib.lib.lcmd_tokenizer_model_max_length(self.ptr))

    @property
    def bos_id(self) -> int:
        """Id of the begin token."""
        return int(_lib.lib.lcmd_tokenizer_bos_id(self.ptr))

    @property
    def eos_id(self) -> int:
        """Id of the end token."""
        return int(_lib.lib.lcmd_tokenizer_eos_id(self.ptr))

    @property
    def pad_id(self) -> int:
        """Id of the pad token."""
        return int(_lib.lib.lcmd_tokenizer_pad_id(self.ptr))

    @property
    def cleanup(self) -> TextCleanup:
        """The cleanup mode the tokenizer was loaded with."""
        return TextCleanup(_lib.lib.lcmd_tokenizer_cleanup(self.ptr))

    @property
    def vocab_size(self) -> int:
        """Entries of vocab.json."""
        return int(_lib.lib.lcmd_tokenizer_vocab_size(self.ptr))


# ------------------------------------------------------------------------ text encoder

class TextEncoderOutput(NamedTuple):
    """What :meth:`TextEncoder.forward` computed (None where not asked for)."""
    last_hidden_state: Optional[np.ndarray]
    hidden_states: Optional[np.ndarray]
    pooled: Optional[np.ndarray]


class TextEncoder(Handle):
    """``lcmd_text_encoder``: transformers' CLIPTextModel[WithProjection].

    ``TextEncoder(ctx, folder, variant=None)``. Raises LcmdIOError naming a missing
    file, FormatError, UnsupportedError."""

    _destroy_ = "lcmd_text_encoder_destroy"

    def __init__(self, ctx: Context, folder: PathLike, variant: Optional[str] = None) -> None:
        opts = new(TextEncoderLoadOptions, variant=variant)
        super().__init__(_load("lcmd_text_encoder_load", ctx, folder, opts), parents=(ctx,))

    @property
    def info(self) -> TextEncoderInfo:
        """Sizes of the encoder (a new :class:`TextEncoderInfo`)."""
        info = new(TextEncoderInfo)
        _lib.call("lcmd_text_encoder_get_info", self.ptr, ctypes.byref(info))
        return info

    def forward(self, ids: ArrayLike, *, last_hidden_state: bool = True,
                hidden_layer: Optional[int] = None, pooled: bool = False) -> TextEncoderOutput:
        """Runs the encoder on ids ``[batch, seq_len]`` (int32; a 1-D array is one
        sequence). Computes the last hidden state (after the final LayerNorm), the
        hidden state of ``hidden_layer`` (Python-style index, before the final norm) and
        the pooled output, as asked. Raises InvalidArgumentError."""
        a = as_input(ids, i32, "ids")
        if a.ndim == 1:
            a = a.reshape(1, -1)
        if a.ndim != 2:
            raise ValueError(f"ids: shape {a.shape}, expected (batch, seq_len)")
        b, L = a.shape
        info = self.info
        outs = new(TextEncoderOutputs)
        lhs = np.empty((b, L, info.hidden_size), f32) if last_hidden_state else None
        hs = np.empty((b, L, info.hidden_size), f32) if hidden_layer is not None else None
        pl = np.empty((b, info.pooled_dim), f32) if pooled else None
        outs.last_hidden_state = ptr(lhs)
        outs.hidden_states = ptr(hs)
        outs.hidden_layer = 0 if hidden_layer is None else int(hidden_layer)
        outs.pooled = ptr(pl)
        _lib.call("lcmd_text_encoder_forward", self.ptr, ptr(a), b, L, ctypes.byref(outs))
        return TextEncoderOutput(lhs, hs, pl)

    def __call__(self, ids: ArrayLike) -> np.ndarray:
        """The last hidden state of ``ids`` (what SD 1.x/2.x condition the UNet on)."""
        return self.forward(ids).last_hidden_state  # type: ignore[return-value]


# ------------------------------------------------------------------------ VAE

class VAE(Handle):
    """``lcmd_vae``: diffusers' AutoencoderKL. ``VAE(ctx, folder, variant=None)``.
    Raises LcmdIOError naming a missing file, FormatError, UnsupportedError."""

    _destroy_ = "lcmd_vae_destroy"

    def __init__(self, ctx: Context, folder: PathLike, variant: Optional[str] = None) -> None:
        opts = new(VAELoadOptions, variant=variant)
        super().__init__(_load("lcmd_vae_load", ctx, folder, opts), parents=(ctx,))

    @property
    def info(self) -> VAEInfo:
        """Sizes and constants (a new :class:`VAEInfo`)."""
        info = new(VAEInfo)
        _lib.call("lcmd_vae_get_info", self.ptr, ctypes.byref(info))
        return info

    def encode(self, images: ArrayLike) -> Tuple[np.ndarray, np.ndarray]:
        """Images ``[B, C, H, W]`` in [-1, 1] to the posterior ``(mean, logvar)``, each
        ``[B, latent_channels, H/f, W/f]``. Raises InvalidArgumentError (H, W not
        multiples of f), NumericError."""
        x = as_input(images, f32, "images")
        if x.ndim != 4:
            raise ValueError(f"images: shape {x.shape}, expected (B, C, H, W)")
        info = self.info
        f = info.downsample_factor
        shape = (x.shape[0], info.latent_channels, x.shape[2] // f, x.shape[3] // f)
        mean, logvar = np.empty(shape, f32), np.empty(shape, f32)
        _lib.call("lcmd_vae_encode", self.ptr, x.shape[0], x.shape[2], x.shape[3], ptr(x), ptr(mean), ptr(logvar))
        return mean, logvar

    def sample(self, mean: ArrayLike, logvar: ArrayLike, noise: Optional[ArrayLike] = None,
               stream: int = 0, offset: int = 0, out: Optional[np.ndarray] = None) -> np.ndarray:
        """A draw from the posterior: mean + exp(0.5·logvar)·noise, with ``noise`` given
        or drawn from the library RNG at (context seed, stream, offset). Not scaled."""
        m = as_input(mean, f32, "mean")
        lv = as_input(logvar, f32, "logvar", shape=m.shape)
        z = None if noise is None else as_input(noise, f32, "noise", shape=m.shape)
        res = output(out, m.shape, f32, "vae_sample")
        _lib.call("lcmd_vae_sample", self.ptr, m.size, ptr(m), ptr(lv), ptr(z), stream, offset, ptr(res))
        return res

    def _scale(self, fn: str, latents: ArrayLike, inplace: bool) -> np.ndarray:
        if inplace:
            if not isinstance(latents, np.ndarray):
                raise TypeError("latents: inplace needs a numpy array")
            x = output(latents, latents.shape, f32, fn)
        else:
            x = np.array(latents, dtype=f32, order="C", copy=True)
        _lib.call(fn, self.ptr, x.size, ptr(x))
        return x

    def scale_latents(self, latents: ArrayLike, inplace: bool = False) -> np.ndarray:
        """(latents − shift) · scaling_factor, the UNet's input; a new array unless
        ``inplace`` (then ``latents`` must be a C-contiguous float32 array)."""
        return self._scale("lcmd_vae_scale_latents", latents, inplace)

    def unscale_latents(self, latents: ArrayLike, inplace: bool = False) -> np.ndarray:
        """latents / scaling_factor + shift, the decoder's input (see scale_latents)."""
        return self._scale("lcmd_vae_unscale_latents", latents, inplace)

    def decode(self, latents: ArrayLike, out: Optional[np.ndarray] = None) -> np.ndarray:
        """Unscaled latents ``[B, C, h, w]`` to images ``[B, 3, h·f, w·f]`` (not clamped)."""
        z = as_input(latents, f32, "latents")
        if z.ndim != 4:
            raise ValueError(f"latents: shape {z.shape}, expected (B, C, h, w)")
        info = self.info
        f = info.downsample_factor
        res = output(out, (z.shape[0], info.out_channels, z.shape[2] * f, z.shape[3] * f), f32, "decode")
        _lib.call("lcmd_vae_decode", self.ptr, z.shape[0], z.shape[2], z.shape[3], ptr(z), ptr(res))
        return res


# ------------------------------------------------------------------------ UNet

class UNet(Handle):
    """``lcmd_unet``: diffusers' UNet2DConditionModel.

    ``UNet(ctx, folder, variant=None)`` loads a folder; :meth:`create_student` makes an
    LCM student. Raises LcmdIOError naming a missing file, FormatError, UnsupportedError."""

    _destroy_ = "lcmd_unet_destroy"

    def __init__(self, ctx: Context, folder: PathLike, variant: Optional[str] = None) -> None:
        opts = new(UNetLoadOptions, variant=variant)
        super().__init__(_load("lcmd_unet_load", ctx, folder, opts), parents=(ctx,))

    @classmethod
    def create_student(cls, ctx: Context, teacher: "UNet", time_cond_proj_dim: int = 256) -> "UNet":
        """The LCM student of ``teacher`` (a copy with a guidance projection), owned by
        the returned object."""
        out = ctypes.c_void_p()
        _lib.call("lcmd_unet_create_student", ctx.ptr, teacher.ptr, time_cond_proj_dim, ctypes.byref(out))
        return cls._wrap(out.value, owned=True, parents=(ctx,))  # type: ignore[arg-type]

    @property
    def info(self) -> UNetInfo:
        """Sizes of the UNet (a new :class:`UNetInfo`)."""
        info = new(UNetInfo)
        _lib.call("lcmd_unet_get_info", self.ptr, ctypes.byref(info))
        return info

    def forward(self, sample: ArrayLike, timesteps: ArrayLike, encoder_hidden_states: ArrayLike,
                timestep_cond: Optional[ArrayLike] = None, text_embeds: Optional[ArrayLike] = None,
                time_ids: Optional[ArrayLike] = None, out: Optional[np.ndarray] = None) -> np.ndarray:
        """Runs the UNet. ``sample`` [B, in_channels, H, W]; ``timesteps`` [B] (a scalar
        is broadcast); ``encoder_hidden_states`` [B, L, cross_attention_dim];
        ``timestep_cond`` [B, time_cond_proj_dim] for a student; SDXL ``text_embeds``
        and ``time_ids`` [B, 6]. Returns [B, out_channels, H, W]. Raises
        InvalidArgumentError (sizes, a condition missing or unexpected), NumericError."""
        info = self.info
        x = as_input(sample, f32, "sample", shape=(-1, info.in_channels, -1, -1))
        b, _, h, w = x.shape
        t = as_input(timesteps, f32, "timesteps").reshape(-1)
        if t.size == 1 and b > 1:
            t = np.full(b, t[0], f32)
        if t.size != b:
            raise ValueError(f"timesteps: {t.size} values for a batch of {b}")
        ehs = as_input(encoder_hidden_states, f32, "encoder_hidden_states",
                       shape=(b, -1, info.cross_attention_dim))
        tc = None if timestep_cond is None else as_input(timestep_cond, f32, "timestep_cond", shape=(b, -1))
        te = None if text_embeds is None else as_input(text_embeds, f32, "text_embeds", shape=(b, -1))
        ti = None if time_ids is None else as_input(time_ids, f32, "time_ids", shape=(b, 6))
        inputs = new(UNetInputs, batch=b, height=h, width=w, seq_len=ehs.shape[1])
        inputs.sample, inputs.timesteps, inputs.encoder_hidden_states = ptr(x), ptr(t), ptr(ehs)
        inputs.timestep_cond, inputs.text_embeds, inputs.time_ids = ptr(tc), ptr(te), ptr(ti)
        res = output(out, (b, info.out_channels, h, w), f32, "unet_forward")
        _lib.call("lcmd_unet_forward", self.ptr, ctypes.byref(inputs), ptr(res))
        return res

    __call__ = forward

    def save(self, folder: PathLike, dtype: WeightDType = WeightDType.F32, variant: Optional[str] = None) -> None:
        """Writes a diffusers folder (config.json + safetensors), each file atomically.
        Raises LcmdIOError naming the path."""
        _lib.call("lcmd_unet_save", self.ptr, _lib.path_arg(folder), int(dtype),
                  None if variant is None else variant.encode("utf-8"))


# ------------------------------------------------------------------------ pipeline

class Pipeline(Handle):
    """``lcmd_pipeline``: a diffusers pipeline folder (model_index.json + components).

    ``Pipeline(ctx, folder, variant=None, load_unet=True, load_vae=True, load_text=True)``.
    Components are borrowed views owned by the pipeline (closed with it). Raises
    LcmdIOError (missing folder or component, named), FormatError, UnsupportedError."""

    _destroy_ = "lcmd_pipeline_destroy"

    def __init__(self, ctx: Context, folder: PathLike, variant: Optional[str] = None,
                 load_unet: bool = True, load_vae: bool = True, load_text: bool = True) -> None:
        opts = new(PipelineOptions, variant=variant, load_unet=int(load_unet), load_vae=int(load_vae),
                   load_text=int(load_text))
        super().__init__(_load("lcmd_pipeline_open", ctx, folder, opts), parents=(ctx,))
        # weak: a view keeps the pipeline alive, not the other way round
        self._views: "weakref.WeakValueDictionary[tuple, Handle]" = weakref.WeakValueDictionary()

    def _view(self, cls: type, fn: str, *args: int) -> Optional[Handle]:
        key = (fn, *args)
        view = self._views.get(key)  # type: ignore[arg-type]
        if view is None or view.closed:
            p = getattr(_lib.lib, fn)(self.ptr, *args)
            if not p:
                return None
            view = cls._wrap(p, owned=False, parents=(self,))
            self._views[key] = view  # type: ignore[index]
        return view

    @property
    def class_name(self) -> str:
        """``_class_name`` of model_index.json."""
        return _lib.lib.lcmd_pipeline_class_name(self.ptr).decode()

    @property
    def is_sdxl(self) -> bool:
        """True for an SDXL folder (two tokenizers and text encoders)."""
        return bool(_lib.lib.lcmd_pipeline_is_sdxl(self.ptr))

    def tokenizer(self, index: int = 0) -> Optional[Tokenizer]:
        """``tokenizer`` (0) or ``tokenizer_2`` (1); None when not loaded."""
        return self._view(Tokenizer, "lcmd_pipeline_tokenizer", index)  # type: ignore[return-value]

    def text_encoder(self, index: int = 0) -> Optional[TextEncoder]:
        """``text_encoder`` (0) or ``text_encoder_2`` (1); None when not loaded."""
        return self._view(TextEncoder, "lcmd_pipeline_text_encoder", index)  # type: ignore[return-value]

    @property
    def vae(self) -> Optional[VAE]:
        """The VAE; None when not loaded."""
        return self._view(VAE, "lcmd_pipeline_vae")  # type: ignore[return-value]

    @property
    def unet(self) -> Optional[UNet]:
        """The UNet; None when not loaded."""
        return self._view(UNet, "lcmd_pipeline_unet")  # type: ignore[return-value]

    def scheduler_config(self) -> SchedulerConfig:
        """The scheduler config (scheduler_config.json over LCMScheduler's defaults)."""
        cfg = new(SchedulerConfig)
        _lib.call("lcmd_pipeline_scheduler_config", self.ptr, ctypes.byref(cfg))
        return cfg
