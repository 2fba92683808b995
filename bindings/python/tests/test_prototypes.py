"""Every exported lcmd_ function is declared in the binding with argtypes and restype,
and every struct mirror has the size the library's own *_init() reports."""
from __future__ import annotations

import ctypes
import re
import shutil
import subprocess

import pytest

import lcmd
from lcmd import _structs

from conftest import REPO


def exported_functions() -> set:
    """Names of the `T lcmd_*` dynamic symbols of the loaded library (nm -D), falling
    back to the declarations of include/lcmd/*.h when nm is absent."""
    nm = shutil.which("nm")
    if nm:
        out = subprocess.run([nm, "-D", "--defined-only", lcmd.library_path], check=True,
                             capture_output=True, text=True).stdout
        return {line.split()[-1] for line in out.splitlines()
                if re.match(r"^\S+\s+T\s+lcmd_", line)}
    return header_functions()


def header_functions() -> set:
    names = set()
    for h in (REPO / "include" / "lcmd").glob("*.h"):
        names.update(re.findall(r"LCMD_API\s[^;{]*?\b(lcmd_\w+)\s*\(", h.read_text()))
    return names


def test_every_export_is_declared():
    exported = exported_functions()
    assert len(exported) > 100
    missing = sorted(exported - set(lcmd.PROTOTYPES))
    assert not missing, f"exported but not declared in lcmd._lib.PROTOTYPES: {missing}"


def test_every_header_function_is_declared():
    missing = sorted(header_functions() - set(lcmd.PROTOTYPES))
    assert not missing, f"in include/lcmd but not declared: {missing}"


def test_declarations_are_applied():
    for name, (restype, argtypes) in lcmd.PROTOTYPES.items():
        fn = getattr(lcmd.lib, name)
        assert fn.argtypes == argtypes, name
        assert fn.restype == restype, name
        assert fn.argtypes is not None, name


def test_no_stale_declarations():
    stale = sorted(set(lcmd.PROTOTYPES) - exported_functions())
    assert not stale, f"declared but not exported: {stale}"


STRUCTS = [c for c in vars(_structs).values()
           if isinstance(c, type) and issubclass(c, _structs._Versioned) and c is not _structs._Versioned]


@pytest.mark.parametrize("cls", STRUCTS, ids=lambda c: c.__name__)
def test_struct_size_matches_library(cls):
    obj = lcmd.new(cls)
    # *_init() writes sizeof(the C struct): equal means the mirror has the same layout size
    assert obj.struct_size == ctypes.sizeof(cls), cls.__name__
    if cls._init_:
        assert cls._init_ in lcmd.PROTOTYPES


def test_every_init_function_has_a_mirror():
    inits = {n for n in lcmd.PROTOTYPES if n.endswith("_init")}
    mirrored = {c._init_ for c in STRUCTS if c._init_}
    assert inits == mirrored


def test_enum_values():
    assert lcmd.Status.END_OF_STREAM == 7 and lcmd.Status.ERR_INTERNAL == 10
    for s in lcmd.Status:
        assert lcmd.status_string(s) != "unknown status"
    assert lcmd.status_string(99) == "unknown status"
