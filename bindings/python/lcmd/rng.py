"""The library's counter-based random numbers (Philox4x32-10), so that a host draws
exactly the numbers liblcmd draws. Results are new numpy arrays filled by the library."""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from . import _lib
from ._arrays import as_input, output, ptr, f32, u32

__all__ = ["philox4x32_10", "rng_uniform", "rng_normal"]


def philox4x32_10(counter: Sequence[int], key: Sequence[int]) -> np.ndarray:
    """One Philox4x32-10 block: ``counter`` (4 uint32) encrypted under ``key`` (2 uint32);
    returns 4 uint32. Raises ValueError for wrong lengths."""
    c = as_input(np.asarray(counter, dtype=np.uint64).astype(np.uint32), u32, "counter", shape=(4,))
    k = as_input(np.asarray(key, dtype=np.uint64).astype(np.uint32), u32, "key", shape=(2,))
    out = np.empty(4, np.uint32)
    _lib.call("lcmd_philox4x32_10", ptr(c), ptr(k), ptr(out))
    return out


def rng_uniform(seed: int, stream: int, offset: int, n: int,
                out: Optional[np.ndarray] = None) -> np.ndarray:
    """``n`` uniform float32 values in [0, 1) keyed by (seed, stream, offset)."""
    arr = output(out, (n,), f32, "rng_uniform")
    _lib.call("lcmd_rng_uniform", seed, stream, offset, ptr(arr), n)
    return arr


def rng_normal(seed: int, stream: int, offset: int, n: int,
               out: Optional[np.ndarray] = None) -> np.ndarray:
    """``n`` standard normal float32 values keyed by (seed, stream, offset); a slice of
    a longer fill equals the shorter fill at the same offset (offset counts blocks of 4)."""
    arr = output(out, (n,), f32, "rng_normal")
    _lib.call("lcmd_rng_normal", seed, stream, offset, ptr(arr), n)
    return arr
