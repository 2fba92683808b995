"""The context (device, CPU threads, seed, log callback) and library-wide queries.

Every other handle is made from a :class:`Context`; the binding keeps the context alive
while they exist, and ``Context.close()`` first closes every handle made from it.
"""
from __future__ import annotations

import ctypes
from typing import Callable, Optional

from . import _lib
from ._handle import Handle
from ._structs import LOG_FN, ContextOptions, LogLevel, Status, new

__all__ = [
    "Context", "LogCallback", "version", "version_string", "status_string", "last_error",
    "clear_error", "build_has_cuda", "cuda_device_count",
]

#: A Python log callback: ``fn(level, message)``. It runs on the thread that made the
#: liblcmd call (or a dataset worker thread) and must not call back into liblcmd;
#: exceptions it raises are swallowed.
LogCallback = Callable[[LogLevel, str], None]


def version() -> int:
    """``lcmd_version()``: MAJOR*10000 + MINOR*100 + PATCH of the loaded library."""
    return int(_lib.lib.lcmd_version())


def version_string() -> str:
    """``lcmd_version_string()``: "MAJOR.MINOR.PATCH" of the loaded library."""
    return _lib.lib.lcmd_version_string().decode()


def status_string(status: int) -> str:
    """``lcmd_status_string()``: the short English name of a status code."""
    return _lib.lib.lcmd_status_string(int(status)).decode()


def last_error() -> str:
    """``lcmd_last_error()``: the calling thread's last detail message ("" when none).
    Exceptions already carry it; this is for code that calls the C functions directly."""
    return _lib.last_error()


def clear_error() -> None:
    """``lcmd_clear_error()``: clears the calling thread's detail message."""
    _lib.lib.lcmd_clear_error()


def build_has_cuda() -> bool:
    """``lcmd_build_has_cuda()``: whether the loaded library has the CUDA backend."""
    return bool(_lib.lib.lcmd_build_has_cuda())


def cuda_device_count() -> int:
    """``lcmd_cuda_device_count()``: usable CUDA devices (0 without CUDA). Never raises."""
    return int(_lib.lib.lcmd_cuda_device_count())


class Context(Handle):
    """``lcmd_context``: a device, a CPU thread count, a seed and a log callback.

    ``Context(device="cpu", num_threads=0, seed=0, log=None, log_level=LogLevel.INFO)``.
    ``log=None`` keeps the library's default (WARN and above to stderr). Raises
    InvalidArgumentError (unknown device, negative threads), UnsupportedError (CUDA asked
    of a CPU-only build), DeviceError (no such CUDA device)."""

    _destroy_ = "lcmd_context_destroy"

    def __init__(self, device: str = "cpu", num_threads: int = 0, seed: int = 0,
                 log: Optional[LogCallback] = None, log_level: int = LogLevel.INFO) -> None:
        opts = new(ContextOptions, device=device, num_threads=num_threads, seed=seed,
                   log_level=int(log_level))
        self._log_fn = None
        if log is not None:
            def trampoline(_user: Optional[int], level: int, message: Optional[bytes]) -> None:
                try:
                    log(LogLevel(level), (message or b"").decode("utf-8", "replace"))
                except Exception:
                    pass
            self._log_fn = LOG_FN(trampoline)  # kept alive as long as the context
            opts.log_fn = self._log_fn
        out = ctypes.c_void_p()
        _lib.call("lcmd_context_create", ctypes.byref(opts), ctypes.byref(out))
        super().__init__(out.value)

    @property
    def device(self) -> str:
        """Canonical device name: "cpu" or "cuda:N"."""
        return _lib.lib.lcmd_context_device(self.ptr).decode()

    @property
    def num_threads(self) -> int:
        """CPU threads the context uses (>= 1)."""
        return int(_lib.lib.lcmd_context_num_threads(self.ptr))

    @property
    def seed(self) -> int:
        """Seed of the context's RNG."""
        return int(_lib.lib.lcmd_context_seed(self.ptr))

    def log(self, level: int, message: str) -> None:
        """Sends ``message`` to the context's log at ``level`` (``lcmd_context_log``)."""
        _lib.lib.lcmd_context_log(self.ptr, int(level), message.encode("utf-8"))

    def self_check(self, report_size: int = 1 << 16) -> str:
        """Runs every op of the context's backend against a reference and returns the
        report (one line per op). Raises NumericError naming the first op that disagrees."""
        buf = ctypes.create_string_buffer(report_size)
        _lib.call("lcmd_context_self_check", self.ptr, buf, report_size)
        return buf.value.decode("utf-8", "replace")
