"""Exceptions raised for liblcmd status codes.

Every failing call raises a subclass of :class:`LcmdError` chosen by its
``lcmd_status``; the exception carries the status, the C function's name and the
library's thread-local detail message (``lcmd_last_error()``), read right after the
failing call on the same thread. Classes that have a natural Python counterpart also
derive from it (``IOError``, ``MemoryError``, ``ValueError``, ...), so generic
``except OSError`` code keeps working.
"""
from __future__ import annotations

from typing import Dict, Optional, Type

from ._structs import Status

__all__ = [
    "LcmdError", "InvalidArgumentError", "LcmdIOError", "FormatError", "OutOfMemoryError",
    "DeviceError", "UnsupportedError", "EndOfStream", "NumericError", "CommError",
    "InternalError", "error_for_status",
]


class LcmdError(Exception):
    """Base of every liblcmd failure.

    Attributes: ``status`` (a :class:`lcmd.Status`), ``function`` (the C function that
    failed, or ``""``) and ``message`` (``lcmd_last_error()`` at the time of failure).
    """

    status: Status = Status.ERR_INTERNAL

    def __init__(self, message: str, status: Optional[int] = None, function: str = "") -> None:
        if status is not None:
            try:
                self.status = Status(status)
            except ValueError:
                self.status = status  # type: ignore[assignment]
        self.message = message
        self.function = function
        super().__init__(message)

    def __str__(self) -> str:
        name = self.status.name if isinstance(self.status, Status) else str(self.status)
        head = f"{self.function}: " if self.function and not self.message.startswith(self.function) else ""
        return f"{head}{self.message or '(no detail)'} [{name}]"


class InvalidArgumentError(LcmdError, ValueError):
    """LCMD_ERR_INVALID_ARGUMENT: NULL handle, bad struct_size, bad shape or value."""
    status = Status.ERR_INVALID_ARGUMENT


class LcmdIOError(LcmdError, OSError):
    """LCMD_ERR_IO: a file could not be opened, read or written (the message names it)."""
    status = Status.ERR_IO

    def __init__(self, message: str, status: Optional[int] = None, function: str = "") -> None:
        LcmdError.__init__(self, message, status, function)

    def __str__(self) -> str:  # OSError would format (errno, strerror) otherwise
        return LcmdError.__str__(self)


class FormatError(LcmdError, ValueError):
    """LCMD_ERR_FORMAT: a file or buffer is malformed."""
    status = Status.ERR_FORMAT


class OutOfMemoryError(LcmdError, MemoryError):
    """LCMD_ERR_OUT_OF_MEMORY: host or device allocation failed."""
    status = Status.ERR_OUT_OF_MEMORY


class DeviceError(LcmdError, RuntimeError):
    """LCMD_ERR_DEVICE: a CUDA, cuBLAS or cuDNN call failed, or no device."""
    status = Status.ERR_DEVICE


class UnsupportedError(LcmdError, NotImplementedError):
    """LCMD_ERR_UNSUPPORTED: a valid request this build or version cannot do."""
    status = Status.ERR_UNSUPPORTED


class EndOfStream(LcmdError):
    """LCMD_END_OF_STREAM where the binding expected more (streams usually report it
    by returning ``None`` or stopping iteration instead)."""
    status = Status.END_OF_STREAM


class NumericError(LcmdError, ArithmeticError):
    """LCMD_ERR_NUMERIC: NaN or Inf where a finite value is required."""
    status = Status.ERR_NUMERIC


class CommError(LcmdError, RuntimeError):
    """LCMD_ERR_COMM: multi-process communication failed."""
    status = Status.ERR_COMM


class InternalError(LcmdError, RuntimeError):
    """LCMD_ERR_INTERNAL: a broken invariant inside liblcmd (a bug), or an unknown code."""
    status = Status.ERR_INTERNAL


_BY_STATUS: Dict[int, Type[LcmdError]] = {
    cls.status: cls for cls in (
        InvalidArgumentError, LcmdIOError, FormatError, OutOfMemoryError, DeviceError,
        UnsupportedError, EndOfStream, NumericError, CommError, InternalError,
    )
}


def error_for_status(status: int, message: str, function: str = "") -> LcmdError:
    """The exception object for a non-OK ``status`` (InternalError for unknown codes)."""
    cls = _BY_STATUS.get(int(status), InternalError)
    return cls(message, status, function)
