"""Tokenizer ids, text encoder, VAE, UNet forward/save/student and the pipeline folder,
on the repository's tiny fixtures."""
from __future__ import annotations

import json

import numpy as np
import pytest

import lcmd


@pytest.fixture
def pipe(ctx, fixtures):
    with lcmd.Pipeline(ctx, fixtures / "pipeline" / "tiny-sd") as p:
        yield p


def test_tokenizer_ids_match_reference(ctx, fixtures):
    corpus = json.loads((fixtures / "tokenizer" / "corpus_slow.json").read_text())
    with lcmd.Tokenizer(ctx, fixtures / "tokenizer" / "clip") as tok:
        assert tok.cleanup == lcmd.TextCleanup.FTFY
        assert tok.model_max_length == 77 and tok.vocab_size == 49408
        assert (tok.bos_id, tok.eos_id, tok.pad_id) == (49406, 49407, 49407)
        caps = [c["text"] for c in corpus["captions"][:20]]
        for cap, want in zip(caps, corpus["full"][:20]):
            ids = tok.encode(cap)
            assert ids.dtype == np.int32
            assert ids.tolist() == want, cap
        padded = tok.encode_padded(caps)
        assert padded.shape == (20, 77) and padded.dtype == np.int32
        assert padded.tolist() == corpus["padded"]["clip"][:20]
        long = tok.encode("word " * 200)
        assert long.size == 202  # no truncation in encode
        with pytest.raises(TypeError):
            tok.encode_padded("one string")
    with lcmd.Tokenizer(ctx, fixtures / "tokenizer" / "clip", cleanup=lcmd.TextCleanup.MINIMAL) as tok:
        assert tok.cleanup == lcmd.TextCleanup.MINIMAL


def test_tokenizer_missing_folder(ctx, tmp_path):
    with pytest.raises(lcmd.LcmdIOError, match=str(tmp_path)):
        lcmd.Tokenizer(ctx, tmp_path)


def test_pipeline_components(pipe):
    assert pipe.class_name == "StableDiffusionPipeline"
    assert not pipe.is_sdxl
    assert pipe.tokenizer(1) is None and pipe.text_encoder(1) is None
    tok, te, vae, unet = pipe.tokenizer(0), pipe.text_encoder(0), pipe.vae, pipe.unet
    assert pipe.unet is unet  # views are cached
    cfg = pipe.scheduler_config()
    assert cfg.num_train_timesteps == 1000 and cfg.set_alpha_to_one == 0

    ids = tok.encode_padded(["a photo of a cat", ""])
    info = te.info
    assert info.hidden_size == 12 and info.num_hidden_layers == 1
    out = te.forward(ids, hidden_layer=-1, pooled=True)
    assert out.last_hidden_state.shape == (2, 77, 12)
    assert out.hidden_states.shape == (2, 77, 12)
    assert out.pooled.shape == (2, info.pooled_dim)
    assert np.isfinite(out.last_hidden_state).all()
    np.testing.assert_array_equal(te(ids), out.last_hidden_state)

    vi = vae.info
    f = vi.downsample_factor
    img = np.linspace(-1, 1, 2 * 3 * 16 * 16, dtype=np.float32).reshape(2, 3, 16, 16)
    mean, logvar = vae.encode(img)
    assert mean.shape == (2, vi.latent_channels, 16 // f, 16 // f)
    z = vae.sample(mean, logvar, stream=1)
    zs = vae.scale_latents(z)
    np.testing.assert_allclose(zs, z * vi.scaling_factor, rtol=1e-6)
    np.testing.assert_allclose(vae.unscale_latents(zs), z, rtol=1e-5, atol=1e-6)
    vae.scale_latents(z, inplace=True)
    np.testing.assert_array_equal(z, zs)
    back = vae.decode(mean)
    assert back.shape == img.shape and np.isfinite(back).all()
    with pytest.raises(lcmd.InvalidArgumentError):
        vae.encode(np.zeros((1, 3, 15, 15), np.float32))

    ui = unet.info
    assert ui.cross_attention_dim == 12 and ui.time_cond_proj_dim == 0
    x = np.random.default_rng(0).standard_normal((2, ui.in_channels, 8, 8)).astype(np.float32)
    eps = unet(x, 500.0, out.last_hidden_state)
    assert eps.shape == (2, ui.out_channels, 8, 8) and np.isfinite(eps).all()
    # a non-contiguous float64 input is converted and gives the same result
    x64 = np.asfortranarray(x.astype(np.float64))
    np.testing.assert_allclose(unet(x64, [500.0, 500.0], out.last_hidden_state), eps, rtol=1e-6, atol=1e-6)
    with pytest.raises(lcmd.InvalidArgumentError):
        unet(x, 500.0, out.last_hidden_state, timestep_cond=np.zeros((2, 4), np.float32))


def test_pipeline_close_closes_views(ctx, fixtures):
    p = lcmd.Pipeline(ctx, fixtures / "pipeline" / "tiny-sd", load_text=False, load_vae=False)
    assert p.tokenizer() is None and p.vae is None
    u = p.unet
    p.close()
    assert u.closed
    with pytest.raises(ValueError):
        u.info


def test_unet_load_student_save(ctx, fixtures, tmp_path):
    with lcmd.UNet(ctx, fixtures / "unet" / "sd15") as teacher, \
         lcmd.UNet(ctx, fixtures / "unet" / "sd15", variant="fp16") as half:
        info = teacher.info
        assert info.num_parameters == half.info.num_parameters > 0
        student = lcmd.UNet.create_student(ctx, teacher, 16)
        si = student.info
        assert si.time_cond_proj_dim == 16
        b, h = 1, info.sample_size or 8
        x = np.zeros((b, info.in_channels, h, h), np.float32)
        ehs = np.zeros((b, 3, info.cross_attention_dim), np.float32)
        y = student(x, 10.0, ehs, timestep_cond=np.zeros((b, 16), np.float32))
        assert y.shape == (b, si.out_channels, h, h) and np.isfinite(y).all()
        student.save(tmp_path / "student", lcmd.WeightDType.F16, variant="fp16")
        with lcmd.UNet(ctx, tmp_path / "student", variant="fp16") as again:
            assert again.info.time_cond_proj_dim == 16
        student.close()
    with pytest.raises(lcmd.LcmdIOError, match="no-variant"):
        lcmd.UNet(ctx, fixtures / "unet" / "sd15", variant="no-variant")
