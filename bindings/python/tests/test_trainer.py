"""Dataset batches and the trainer on the demo teacher and shards: steps with a finite
loss, checkpoint save and exact resume, export, lifetimes."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import lcmd


def open_dataset(ctx, demo_dir, **kw):
    fields = dict(resolution=32, batch_size=4, shuffle_buffer=0, shuffle_shards=0)
    fields.update(kw)
    return lcmd.Dataset(ctx, shards=demo_dir / "shards", **fields)


def test_demo_writers_refuse_bad_options(ctx, tmp_path):
    with pytest.raises(lcmd.InvalidArgumentError, match="resolution"):
        lcmd.demo.write_shards(tmp_path / "s", resolution=3)
    with pytest.raises(lcmd.LcmdIOError, match="missing-parent"):
        lcmd.demo.write_teacher(ctx, tmp_path / "missing-parent" / "t")


def test_dataset_batches(ctx, demo_dir):
    with open_dataset(ctx, demo_dir) as ds:
        n = 0
        for batch in ds:
            with batch:
                assert len(batch) == 4 and batch.resolution == 32
                img = batch.images()
                assert img.shape == (4, 3, 32, 32) and img.dtype == np.float32
                assert not img.flags.writeable
                assert img.min() >= -1 and img.max() <= 1
                assert all("background" in c for c in batch.captions)
                assert len(set(batch.keys)) == 4
                assert batch.original_size(0) == (32, 32)
                top, left, flipped = batch.crop(1)
                assert (top, left, flipped) == (0, 0, False)
                with pytest.raises(IndexError):
                    batch.caption(4)
                with pytest.raises(lcmd.InvalidArgumentError):
                    batch.crop(9)
            n += 1
        assert n == 8
        assert ds.next() is None  # and again at the end
        st = ds.stats()
        assert st["samples_read"] == 32 and st["batches"] == 8


def test_dataset_skip_and_copy(ctx, demo_dir):
    with open_dataset(ctx, demo_dir) as a, open_dataset(ctx, demo_dir) as b:
        assert a.skip(3) == 3
        for _ in range(3):
            b.next()
        ba, bb = a.next(), b.next()
        np.testing.assert_array_equal(ba.images(), bb.images())
        copy = ba.images(copy=True)
        ba.close()
        assert copy.flags.writeable and copy.shape == (4, 3, 32, 32)
        assert a.skip(100) == 4  # the stream ends first


def test_dataset_errors(ctx, tmp_path):
    with pytest.raises(lcmd.LcmdIOError, match="nowhere"):
        lcmd.Dataset(ctx, shards=str(tmp_path / "nowhere.tar"), resolution=32)
    with pytest.raises(lcmd.FormatError):
        lcmd.Dataset(ctx, shards=str(tmp_path / "x-{1..}.tar"))


@pytest.fixture
def teacher(ctx, demo_dir):
    with lcmd.Pipeline(ctx, demo_dir / "teacher") as p:
        yield p


def make_trainer(ctx, pipe, **fields):
    opts = dict(num_ddim_timesteps=50, learning_rate=1e-4, seed=5)
    opts.update(fields)
    tr = lcmd.Trainer(ctx, pipe.unet, pipe.scheduler_config(), **opts)
    tr.set_encoders(pipe.tokenizer(), pipe.text_encoder(), pipe.vae)
    return tr


def test_trainer_steps(ctx, demo_dir, teacher):
    with make_trainer(ctx, teacher) as tr, open_dataset(ctx, demo_dir, batch_size=2) as ds:
        for i in range(2):
            with ds.next() as batch:
                rep = tr.step(batch)
            assert np.isfinite(rep.loss) and rep.loss > 0 and np.isfinite(rep.grad_norm)
            assert rep.step == i + 1 and rep.optimizer_stepped == 1 and rep.skipped == 0
        # images + captions as arrays, with injected draws
        with ds.next() as batch:
            images, captions = batch.images(), batch.captions
        rep = tr.step(images, captions, ddim_indices=[3, 40], guidance=[6.0, 9.0])
        assert np.isfinite(rep.loss) and rep.step == 3
        # latents + embeddings
        ui = tr.student.info
        rng = np.random.default_rng(0)
        lat = rng.standard_normal((2, ui.in_channels, 16, 16)).astype(np.float32)
        emb = rng.standard_normal((2, 77, ui.cross_attention_dim)).astype(np.float32)
        rep = tr.step_latents(lat, emb, np.zeros_like(emb))
        assert np.isfinite(rep.loss) and rep.micro_steps == 4 and rep.samples_seen == 8
        assert tr.progress() == lcmd.Progress(4, 4, 8)
        assert tr.student.info.time_cond_proj_dim == 256 and tr.target.info.num_parameters > 0
        with pytest.raises(lcmd.NumericError):
            bad = lat.copy()
            bad[0, 0, 0, 0] = np.inf
            tr.step_latents(bad, emb, emb)
        with pytest.raises(ValueError):
            tr.step(images, captions[:1])


def test_checkpoint_resume_is_exact(ctx, demo_dir, teacher, tmp_path):
    out = tmp_path / "run"
    draws = dict(ddim_indices=[7, 21], guidance=[7.0, 12.0])
    with open_dataset(ctx, demo_dir, batch_size=2) as ds:
        batches = [ds.next() for _ in range(3)]
    data = [(b.images(copy=True), b.captions) for b in batches]
    with make_trainer(ctx, teacher) as tr:
        assert tr.resume(out) is False  # no checkpoint yet: start fresh
        tr.step(*data[0], **draws)
        tr.step(*data[1], **draws)
        path = tr.save_checkpoint(out, total_limit=2)
        assert Path(path) == out / "checkpoint-2" and (out / "checkpoint-2" / "trainer_state.json").exists()
        want = tr.step(*data[2], **draws).loss
        tr.export(tmp_path / "final")
    with make_trainer(ctx, teacher) as tr2:
        assert tr2.resume(out, "latest") is True
        assert tr2.progress() == lcmd.Progress(2, 2, 4)
        got = tr2.step(*data[2], **draws).loss
    assert got == want
    with make_trainer(ctx, teacher) as tr3:
        with pytest.raises(lcmd.LcmdIOError, match="checkpoint-99"):
            tr3.resume(out, "checkpoint-99")
    for sub in ("unet", "unet_target"):
        with lcmd.UNet(ctx, tmp_path / "final" / sub) as u:
            assert u.info.time_cond_proj_dim == 256


def test_closing_the_teacher_closes_the_trainer(ctx, demo_dir):
    p = lcmd.Pipeline(ctx, demo_dir / "teacher")
    tr = make_trainer(ctx, p)
    student = tr.student
    p.close()
    assert tr.closed and student.closed


def test_lr_multiplier():
    assert lcmd.lr_multiplier(lcmd.LRSchedule.CONSTANT, 10, 0, 100) == 1.0
    assert lcmd.lr_multiplier(lcmd.LRSchedule.CONSTANT_WITH_WARMUP, 5, 10, 100) == pytest.approx(0.5)
    assert lcmd.lr_multiplier(lcmd.LRSchedule.LINEAR, 100, 0, 100) == pytest.approx(0.0)
    assert np.isnan(lcmd.lr_multiplier(99, 1, 0, 10))  # type: ignore[arg-type]


def test_pretrain_reports_progress(ctx, demo_dir, tmp_path):
    import shutil
    teacher = tmp_path / "teacher"
    shutil.copytree(demo_dir / "teacher", teacher)
    seen = []
    loss = lcmd.demo.pretrain_teacher(ctx, teacher, demo_dir / "shards", steps=3, batch_size=2,
                                      progress=lambda done, steps, l: seen.append((done, steps, l)))
    assert [(d, s) for d, s, _ in seen] == [(1, 3), (2, 3), (3, 3)]
    assert all(np.isfinite(l) and l > 0 for _, _, l in seen)
    assert np.isfinite(loss)
