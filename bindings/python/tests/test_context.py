"""Context, version, errors carrying the library's message, handle lifetimes, RNG."""
from __future__ import annotations

import gc

import numpy as np
import pytest

import lcmd


def test_version():
    assert lcmd.version_string() == "%d.%d.%d" % (lcmd.version() // 10000, lcmd.version() // 100 % 100,
                                                  lcmd.version() % 100)
    assert lcmd.version() // 10000 == 0


def test_build_queries():
    assert isinstance(lcmd.build_has_cuda(), bool)
    assert lcmd.cuda_device_count() >= 0
    if not lcmd.build_has_cuda():
        assert lcmd.cuda_device_count() == 0


def test_context_properties(ctx):
    assert ctx.device == "cpu"
    assert ctx.num_threads == 2
    assert ctx.seed == 0
    with lcmd.Context(seed=1234, num_threads=1) as c:
        assert c.seed == 1234 and c.num_threads == 1


def test_options_defaults():
    o = lcmd.new(lcmd.ContextOptions)
    assert o.device == b"cpu" and o.num_threads == 0 and o.log_level == lcmd.LogLevel.INFO
    with pytest.raises(AttributeError):
        lcmd.new(lcmd.ContextOptions, no_such_field=1)


def test_bad_device_raises_with_message():
    with pytest.raises(lcmd.InvalidArgumentError) as ei:
        lcmd.Context(device="tpu:0")
    e = ei.value
    assert e.status == lcmd.Status.ERR_INVALID_ARGUMENT
    assert "tpu:0" in e.message and "tpu:0" in str(e)
    assert e.function == "lcmd_context_create"
    assert isinstance(e, ValueError) and isinstance(e, lcmd.LcmdError)
    assert "tpu:0" in lcmd.last_error()
    lcmd.clear_error()
    assert lcmd.last_error() == ""


def test_cuda_on_cpu_build():
    if lcmd.build_has_cuda():
        pytest.skip("CUDA build")
    with pytest.raises(lcmd.UnsupportedError):
        lcmd.Context(device="cuda:0")


def test_missing_file_names_the_path(ctx, tmp_path):
    missing = tmp_path / "no-such-unet"
    with pytest.raises(lcmd.LcmdIOError) as ei:
        lcmd.UNet(ctx, missing)
    assert str(missing) in str(ei.value)
    assert ei.value.status == lcmd.Status.ERR_IO
    assert isinstance(ei.value, OSError)
    with pytest.raises(lcmd.LcmdIOError, match="nothing-here"):
        lcmd.load_scheduler_config(tmp_path / "nothing-here.json")


def test_format_error(tmp_path):
    with pytest.raises(lcmd.FormatError, match="my-label"):
        lcmd.parse_scheduler_config("{not json", label="my-label")
    with pytest.raises(lcmd.UnsupportedError, match="sigmoid"):
        lcmd.parse_scheduler_config('{"beta_schedule": "sigmoid"}')


def test_log_callback():
    seen = []
    with lcmd.Context(log=lambda level, msg: seen.append((level, msg)), log_level=lcmd.LogLevel.DEBUG) as c:
        c.log(lcmd.LogLevel.WARN, "hello from python")
    assert (lcmd.LogLevel.WARN, "hello from python") in seen


def test_close_and_with():
    c = lcmd.Context()
    assert not c.closed
    c.close()
    c.close()  # idempotent
    assert c.closed
    with pytest.raises(ValueError, match="closed"):
        _ = c.device
    with lcmd.Context() as c2:
        pass
    assert c2.closed


def test_parent_close_closes_dependents(fixtures):
    c = lcmd.Context(num_threads=1)
    sched = lcmd.LCMScheduler(ctx=c)
    u = lcmd.UNet(c, fixtures / "unet" / "sd15")
    c.close()
    assert sched.closed and u.closed


def test_garbage_collection_is_safe(fixtures):
    c = lcmd.Context(num_threads=1)
    u = lcmd.UNet(c, fixtures / "unet" / "sd15")
    del c  # the UNet keeps the context alive
    gc.collect()
    assert u.info.in_channels == 4
    del u
    gc.collect()


def test_self_check(ctx):
    report = ctx.self_check()
    assert isinstance(report, str) and report


def test_rng():
    a = lcmd.rng_normal(7, 1, 0, 16)
    b = lcmd.rng_normal(7, 1, 1, 12)
    assert a.dtype == np.float32 and np.isfinite(a).all()
    np.testing.assert_array_equal(a[4:], b)  # offset counts blocks of 4
    u = lcmd.rng_uniform(7, 1, 0, 1000)
    assert (u >= 0).all() and (u < 1).all()
    out = np.empty(8, np.float32)
    assert lcmd.rng_uniform(1, 2, 3, 8, out=out) is out
    with pytest.raises(ValueError):
        lcmd.rng_uniform(1, 2, 3, 8, out=np.empty(8, np.float64))
    blk = lcmd.philox4x32_10([0, 0, 0, 0], [0, 0])
    assert blk.dtype == np.uint32 and blk.shape == (4,)
    # the published Philox4x32-10 known-answer vector for a zero counter and key
    assert [int(x) for x in blk] == [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]
