"""Scheduler configs, noise schedule, DDIM solver, LCM sampler against the reference
timesteps of tests/fixtures/scheduler/lcm_timesteps.json."""
from __future__ import annotations

import json

import numpy as np
import pytest

import lcmd


def cfg(fixtures, name):
    return lcmd.load_scheduler_config(fixtures / "scheduler" / f"config_{name}.json")


def test_config_load(fixtures):
    c = cfg(fixtures, "sd15")
    assert c.num_train_timesteps == 1000
    assert c.beta_schedule == lcmd.BetaSchedule.SCALED_LINEAR
    v = cfg(fixtures, "sd2_v")
    assert v.prediction_type == lcmd.PredictionType.V_PREDICTION
    base = lcmd.scheduler_config(num_train_timesteps=500)
    p = lcmd.parse_scheduler_config('{"beta_end": 0.02}', base=base)
    assert p.num_train_timesteps == 500 and p.beta_end == 0.02
    assert base.beta_end == pytest.approx(0.012)  # the base is not changed


def test_lcm_timesteps_match_reference(fixtures):
    cases = json.loads((fixtures / "scheduler" / "lcm_timesteps.json").read_text())
    configs = {}
    checked = errors = 0
    quiet = lcmd.Context(num_threads=1, log_level=lcmd.LogLevel.OFF)  # off-grid warnings
    for case in cases:
        name = case["config"]
        if name not in configs:
            configs[name] = cfg(fixtures, name)
        with lcmd.LCMScheduler(configs[name], quiet) as s:
            def run():
                if "custom" in case:
                    return s.set_custom_timesteps(case["custom"], case["original"], case["strength"])
                return s.set_timesteps(case["n"], case["original"], case["strength"])
            if "error" in case or not case["timesteps"]:
                # diffusers raises, or keeps nothing (liblcmd refuses an empty schedule)
                with pytest.raises(lcmd.InvalidArgumentError):
                    run()
                errors += 1
            else:
                got = run()
                assert got.dtype == np.int64
                assert got.tolist() == case["timesteps"], case
                assert s.num_timesteps == len(case["timesteps"])
                checked += 1
    quiet.close()
    assert checked > 100 and errors > 0


def test_noise_schedule(fixtures):
    with lcmd.NoiseSchedule(cfg(fixtures, "sd15")) as ns:
        assert ns.num_timesteps == 1000
        ac = ns.alphas_cumprod()
        assert ac.shape == (1000,) and np.all(np.diff(ac) < 0)
        betas = ns.betas()
        np.testing.assert_allclose(np.cumprod(1 - betas), ac, rtol=1e-5)
        a, s = ns.alpha_sigma()
        np.testing.assert_allclose(a * a + s * s, 1, rtol=1e-5)

        rng = np.random.default_rng(0)
        x0 = rng.standard_normal((2, 4, 8, 8), dtype=np.float32)
        eps = rng.standard_normal((2, 4, 8, 8), dtype=np.float32)
        t = np.array([10, 900])
        xt = ns.add_noise(x0, eps, t)
        want = a[t][:, None, None, None] * x0 + s[t][:, None, None, None] * eps
        np.testing.assert_allclose(xt, want, rtol=1e-5, atol=1e-6)
        # an epsilon model that predicts the true noise gives back x0
        np.testing.assert_allclose(ns.predicted_origin(eps, t, xt), x0, rtol=1e-3, atol=1e-4)
        np.testing.assert_allclose(ns.predicted_noise(eps, t, xt), eps)
        # in place
        out = xt.copy()
        assert ns.add_noise(x0, eps, t, out=out) is out
        bad = x0.copy()
        bad[0, 0, 0, 0] = np.nan
        with pytest.raises(lcmd.NumericError):
            ns.add_noise(bad, eps, t)
        with pytest.raises(lcmd.InvalidArgumentError):
            ns.add_noise(x0, eps, [0, 1000])
        # device variants on a CPU context take host arrays
        with lcmd.Context(num_threads=1) as c:
            dev = np.empty_like(x0)
            ns.add_noise_device(c, x0, eps, t, 2, 4 * 8 * 8, dev)
            np.testing.assert_allclose(dev, xt, rtol=1e-6, atol=1e-6)


def test_ddim_solver(fixtures):
    with lcmd.NoiseSchedule(cfg(fixtures, "sd15")) as ns, lcmd.DDIMSolver(ns, 50) as d:
        assert d.num_timesteps == 50
        ts = d.timesteps()
        np.testing.assert_array_equal(ts, np.round(np.arange(1, 51) * 20) - 1)
        at, prev = d.alphas_cumprod()
        assert at.shape == prev.shape == (50,)
        assert d.interval(3) == (ts[3], ts[3] - 20)
        x0 = np.ones((2, 16), np.float32)
        eps = np.zeros((2, 16), np.float32)
        out = d.step(x0, eps, [0, 10])
        np.testing.assert_allclose(out[1], np.sqrt(prev[10]), rtol=1e-6)
        with lcmd.Context(num_threads=1) as c:
            dev = np.empty_like(x0)
            d.step_device(c, x0, eps, np.array([0, 10]), 2, 16, dev)
            np.testing.assert_allclose(dev, out, rtol=1e-6)


def test_boundary_and_guidance():
    c_skip, c_out = lcmd.boundary_scalings([0, 10, 999], 10.0)
    u = 10.0 * np.array([0, 10, 999])
    np.testing.assert_allclose(c_skip, 0.25 / (u * u + 0.25), rtol=1e-6)
    np.testing.assert_allclose(c_out, u / np.sqrt(u * u + 0.25), rtol=1e-6)
    emb = lcmd.guidance_scale_embedding(np.array([4.0, 8.0], np.float32), 256)
    assert emb.shape == (2, 256) and np.isfinite(emb).all()


def test_lcm_sampling_steps(fixtures):
    with lcmd.Context(seed=3, num_threads=1) as c:
        s = lcmd.LCMScheduler(cfg(fixtures, "sd15"), c)
        ts = s.set_timesteps(4)
        assert ts.tolist() == [999, 759, 499, 259]
        x = np.random.default_rng(1).standard_normal((1, 4, 8, 8), dtype=np.float32)
        for i, t in enumerate(ts):
            assert s.step_index == i
            prev, den = s.step(np.zeros_like(x), int(t), x, return_denoised=True)
            assert prev.shape == x.shape and np.isfinite(prev).all()
            x = prev
        np.testing.assert_array_equal(prev, den)  # the last step returns the denoised sample
        with pytest.raises(lcmd.InvalidArgumentError):
            s.step(np.zeros_like(x), 259, x)  # every step taken
