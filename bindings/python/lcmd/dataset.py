"""The WebDataset stream (dataset.h): tar shards to batches of R x R images in [-1, 1]
and UTF-8 captions.

A :class:`Dataset` owns its stream (and its worker threads) and keeps its context alive;
iterating it yields :class:`Batch` objects, each owning its C batch (close it, use
``with``, or let it be collected). Batches do not depend on the dataset.
"""
from __future__ import annotations

import ctypes
import os
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _lib
from ._handle import Handle
from ._structs import DatasetOptions, DatasetStats, Status, new
from .context import Context

__all__ = ["Dataset", "Batch", "dataset_options"]


def dataset_options(shards: Union[str, "os.PathLike[str]", Sequence[Any]], **fields: Any) -> DatasetOptions:
    """A :class:`DatasetOptions` with the library's defaults, ``shards`` (a spec string,
    a path, or a list joined with ``::``) and ``fields`` set by name."""
    if isinstance(shards, (list, tuple)):
        spec = "::".join(os.fspath(s) for s in shards)
    else:
        spec = os.fspath(shards)
    return new(DatasetOptions, shards=spec, **fields)


class Batch(Handle):
    """``lcmd_batch``: one batch of a dataset, owned by this object.

    :meth:`images` gives a zero-copy read-only view of the library's pixels (valid
    until :meth:`close`; it keeps the batch alive against garbage collection) or a copy."""

    _destroy_ = "lcmd_batch_destroy"

    @property
    def size(self) -> int:
        """Number of samples in the batch."""
        return int(_lib.lib.lcmd_batch_size(self.ptr))

    def __len__(self) -> int:
        """The batch size."""
        return self.size

    @property
    def resolution(self) -> int:
        """Image side R."""
        return int(_lib.lib.lcmd_batch_resolution(self.ptr))

    def images(self, copy: bool = False) -> np.ndarray:
        """The images ``[N, 3, R, R]`` float32 in [-1, 1]: a read-only view of the
        batch's memory (no copy; do not use it after :meth:`close`), or a writable copy
        with ``copy=True``."""
        n, r = self.size, self.resolution
        addr = _lib.lib.lcmd_batch_images(self.ptr)
        holder = _View(self, addr, (n, 3, r, r))
        view = np.asarray(holder)
        return view.copy() if copy else view

    def caption(self, i: int) -> str:
        """Caption ``i``; IndexError when out of range."""
        s = _lib.lib.lcmd_batch_caption(self.ptr, i)
        if s is None:
            raise IndexError(f"caption {i} of a batch of {self.size}")
        return s.decode("utf-8")

    @property
    def captions(self) -> List[str]:
        """Every caption, in order."""
        return [self.caption(i) for i in range(self.size)]

    def key(self, i: int) -> str:
        """Sample key ``i`` (``__key__``); IndexError when out of range."""
        s = _lib.lib.lcmd_batch_key(self.ptr, i)
        if s is None:
            raise IndexError(f"key {i} of a batch of {self.size}")
        return s.decode("utf-8", "replace")

    @property
    def keys(self) -> List[str]:
        """Every sample key, in order."""
        return [self.key(i) for i in range(self.size)]

    def original_size(self, i: int) -> Tuple[int, int]:
        """``(width, height)`` of sample ``i`` (json width/height, else (R, R))."""
        w, h = ctypes.c_int32(), ctypes.c_int32()
        _lib.call("lcmd_batch_original_size", self.ptr, i, ctypes.byref(w), ctypes.byref(h))
        return w.value, h.value

    def crop(self, i: int) -> Tuple[int, int, bool]:
        """``(top, left, flipped)`` of sample ``i``."""
        t, l, f = ctypes.c_int32(), ctypes.c_int32(), ctypes.c_int32()
        _lib.call("lcmd_batch_crop", self.ptr, i, ctypes.byref(t), ctypes.byref(l), ctypes.byref(f))
        return t.value, l.value, bool(f.value)


class _View:
    """Exposes a batch's pixels through the array interface and keeps the batch alive
    as the base of the numpy view."""

    def __init__(self, batch: Batch, addr: int, shape: Tuple[int, ...]) -> None:
        self.batch = batch
        self.__array_interface__ = {
            "shape": shape, "typestr": "<f4", "data": (addr, True), "version": 3,
        }


class Dataset(Handle):
    """``lcmd_dataset``: a stream of batches over WebDataset shards.

    ``Dataset(ctx, options)`` with a :class:`DatasetOptions` (see :func:`dataset_options`),
    or ``Dataset(ctx, shards="...", batch_size=4, ...)`` with fields by name. Worker
    threads start here. Raises InvalidArgumentError, FormatError (a bad brace
    expression), LcmdIOError (no shard found, naming it)."""

    _destroy_ = "lcmd_dataset_destroy"

    def __init__(self, ctx: Context, options: Optional[DatasetOptions] = None, **fields: Any) -> None:
        if options is None:
            if "shards" not in fields:
                raise TypeError("Dataset: give options or shards=")
            options = dataset_options(fields.pop("shards"), **fields)
        elif fields:
            raise TypeError("Dataset: give options or fields, not both")
        self.options = options
        out = ctypes.c_void_p()
        _lib.call("lcmd_dataset_create", ctx.ptr, ctypes.byref(options), ctypes.byref(out))
        super().__init__(out.value, parents=(ctx,))

    def next(self) -> Optional[Batch]:
        """The next batch, or None at the end of the stream. Raises LcmdIOError when the
        stream ended without any shard read (naming the first failing one)."""
        out = ctypes.c_void_p()
        st = _lib.call("lcmd_dataset_next", self.ptr, ctypes.byref(out), allow=(Status.END_OF_STREAM,))
        if st == Status.END_OF_STREAM:
            return None
        return Batch._wrap(out.value, owned=True)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[Batch]:
        """Yields batches until the end of the stream (each one owned by the caller)."""
        while True:
            b = self.next()
            if b is None:
                return
            yield b

    def skip(self, n: int) -> int:
        """Discards the next ``n`` batches (resume: n = the checkpoint's micro-steps) and
        returns how many were discarded (fewer when the stream ended first)."""
        done = ctypes.c_int64()
        _lib.call("lcmd_dataset_skip", self.ptr, n, ctypes.byref(done), allow=(Status.END_OF_STREAM,))
        return done.value

    def stats(self) -> Dict[str, int]:
        """The stream's counters (``lcmd_dataset_stats``) as a dict."""
        st = new(DatasetStats)
        _lib.call("lcmd_dataset_get_stats", self.ptr, ctypes.byref(st))
        d = st.to_dict()
        d.pop("struct_size")
        return d
