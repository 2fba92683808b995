"""Shared fixtures of the binding's tests: paths of the repository's tiny fixtures, a
CPU context, and a demo teacher + shards written once per session into a tmp dir."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
BINDING = HERE.parent
REPO = BINDING.parents[1]
FIXTURES = REPO / "tests" / "fixtures"

if str(BINDING) not in sys.path:  # so that plain `pytest bindings/python/tests` works
    sys.path.insert(0, str(BINDING))

import lcmd  # noqa: E402


@pytest.fixture(scope="session")
def fixtures() -> Path:
    """tests/fixtures of the repository."""
    return FIXTURES


@pytest.fixture
def ctx():
    """A CPU context with 2 threads, closed after the test."""
    with lcmd.Context(num_threads=2, seed=0, log_level=lcmd.LogLevel.ERROR) as c:
        yield c


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory) -> Path:
    """A folder with ``teacher/`` (the demo pipeline) and ``shards/`` (2 x 16 samples at 32 px)."""
    root = tmp_path_factory.mktemp("demo")
    with lcmd.Context(num_threads=2, log_level=lcmd.LogLevel.ERROR) as c:
        lcmd.demo.write_teacher(c, root / "teacher")
    lcmd.demo.write_shards(root / "shards", num_shards=2, samples_per_shard=16, resolution=32)
    return root
