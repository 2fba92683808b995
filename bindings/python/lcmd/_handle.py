"""The base class of every wrapped liblcmd handle: ownership, lifetimes and cleanup.

A :class:`Handle` holds one C pointer. It either *owns* it (and calls the C destroy
function once, in :meth:`Handle.close`, on ``with`` exit or when garbage-collected), or
*borrows* it from another handle (a pipeline's UNet, a trainer's student), in which
case closing it only forgets the pointer.

Lifetimes follow the C rules automatically: a handle keeps a strong reference to the
handles it depends on (its context, a borrowed teacher, the pipeline that owns it), so
Python never frees those first; and every handle records its dependents, so that an
explicit ``close()`` of a context, pipeline or trainer first closes everything that
still uses it (newest first). Using a closed handle raises ``ValueError``.
"""
from __future__ import annotations

import weakref
from typing import Any, Callable, Iterable, List, Optional, TypeVar

from . import _lib

__all__ = ["Handle"]

H = TypeVar("H", bound="Handle")


class Handle:
    """A liblcmd handle (see the module docstring). Subclasses set ``_destroy_`` to the
    C destroy function's name."""

    _destroy_: str = ""

    def __init__(self, ptr: int, *, owned: bool = True, parents: Iterable["Handle"] = ()) -> None:
        if not ptr:
            raise ValueError(f"{type(self).__name__}: NULL handle")
        self._ptr: Optional[int] = int(ptr)
        self._owned = owned
        self._parents: List[Handle] = []
        self._children: "weakref.WeakValueDictionary[int, Handle]" = weakref.WeakValueDictionary()
        self._next_child = 0
        for p in parents:
            self._attach(p)

    @classmethod
    def _wrap(cls: "type[H]", ptr: int, *, owned: bool, parents: Iterable["Handle"] = ()) -> H:
        """Wraps a pointer the library returned, without running the subclass's
        constructor (which creates a new C object)."""
        obj = cls.__new__(cls)
        Handle.__init__(obj, ptr, owned=owned, parents=parents)
        return obj

    # ---------------------------------------------------------------- lifetimes

    def _attach(self, parent: "Handle") -> None:
        """Makes this handle depend on ``parent``: ``parent`` stays alive while this one
        is, and ``parent.close()`` closes this one first."""
        parent._check()
        self._parents.append(parent)
        parent._children[parent._next_child] = self
        parent._next_child += 1

    def _check(self) -> int:
        if self._ptr is None:
            raise ValueError(f"{type(self).__name__} is closed")
        return self._ptr

    @property
    def ptr(self) -> int:
        """The C pointer as an integer (for passing to other C code). Raises ValueError
        when closed. The handle keeps ownership."""
        return self._check()

    @property
    def closed(self) -> bool:
        """True after :meth:`close` (or after a parent closed it)."""
        return self._ptr is None

    def close(self) -> None:
        """Closes every handle that depends on this one, then destroys this one (if
        owned). Idempotent; never raises."""
        ptr, self._ptr = self._ptr, None
        if ptr is None:
            return
        children = [c for _, c in sorted(self._children.items(), key=lambda kv: -kv[0])]
        for child in children:
            child.close()
        self._children.clear()
        if self._owned and self._destroy_:
            fn = getattr(_lib.lib, self._destroy_, None) if _lib is not None else None
            if fn is not None:
                fn(ptr)
        self._parents = []

    def __enter__(self: H) -> H:
        self._check()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: the module may be half torn down
            pass

    def __repr__(self) -> str:
        state = "closed" if self._ptr is None else hex(self._ptr)
        return f"<lcmd.{type(self).__name__} {state}{'' if self._owned else ' borrowed'}>"
