"""numpy <-> C array helpers shared by the wrappers.

Inputs: :func:`as_input` returns the caller's array itself when it already is a
C-contiguous array of the wanted dtype, and otherwise a converted copy
(``np.ascontiguousarray``); nothing else is ever copied. Outputs: :func:`output`
allocates a new array in Python (the library fills it), or checks a caller's ``out=``
array, which must already have the exact shape and dtype, be C-contiguous and writable
(never silently replaced by a copy, which would lose the result).
"""
from __future__ import annotations

import ctypes
from typing import Any, Optional, Sequence, Tuple, Union

import numpy as np

__all__ = ["as_input", "output", "ptr", "f32", "i64", "i32", "ArrayLike", "Shape"]

ArrayLike = Union[np.ndarray, Sequence[Any], float, int]
Shape = Tuple[int, ...]

f32 = np.dtype(np.float32)
f64 = np.dtype(np.float64)
i64 = np.dtype(np.int64)
i32 = np.dtype(np.int32)
u32 = np.dtype(np.uint32)

_CTYPE = {f32: ctypes.c_float, f64: ctypes.c_double, i64: ctypes.c_int64,
          i32: ctypes.c_int32, u32: ctypes.c_uint32}


def as_input(value: ArrayLike, dtype: np.dtype, name: str,
             shape: Optional[Shape] = None, size: Optional[int] = None) -> np.ndarray:
    """``value`` as a C-contiguous array of ``dtype`` (no copy when it already is one).

    ``shape`` (entries -1 = any) or ``size`` (total element count) are checked when
    given. Raises ValueError naming ``name`` on a mismatch, TypeError when ``value``
    cannot be converted (e.g. float data for an integer input)."""
    arr = np.asarray(value)
    if arr.dtype != dtype:
        if dtype.kind in "iu" and arr.dtype.kind not in "iub":
            raise TypeError(f"{name}: integer array expected, got {arr.dtype}")
        arr = arr.astype(dtype)
    arr = np.ascontiguousarray(arr)
    if shape is not None:
        if arr.ndim != len(shape) or any(s != -1 and s != a for s, a in zip(shape, arr.shape)):
            raise ValueError(f"{name}: shape {arr.shape}, expected {_fmt(shape)}")
    if size is not None and arr.size != size:
        raise ValueError(f"{name}: {arr.size} elements, expected {size}")
    return arr


def output(out: Optional[np.ndarray], shape: Shape, dtype: np.dtype, name: str) -> np.ndarray:
    """A new ``np.empty(shape, dtype)``, or ``out`` after checking that it has exactly
    that shape and dtype and is C-contiguous and writable (ValueError otherwise)."""
    if out is None:
        return np.empty(shape, dtype)
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name}: out must be a numpy array")
    if out.dtype != dtype or tuple(out.shape) != tuple(shape):
        raise ValueError(f"{name}: out is {out.dtype}{list(out.shape)}, expected {dtype}{list(shape)}")
    if not out.flags.c_contiguous or not out.flags.writeable:
        raise ValueError(f"{name}: out must be C-contiguous and writable")
    return out


def ptr(arr: Optional[np.ndarray]) -> Any:
    """A typed ctypes pointer to ``arr``'s data (None -> NULL). The caller keeps ``arr``
    alive for the duration of the C call."""
    if arr is None:
        return None
    return arr.ctypes.data_as(ctypes.POINTER(_CTYPE[arr.dtype]))


def _fmt(shape: Shape) -> str:
    return "(" + ", ".join("*" if s == -1 else str(s) for s in shape) + ")"
