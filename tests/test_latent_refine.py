"""Encoder-side latent refinement: lower distortion, same decoder, untouched model."""

import json

import numpy as np
import pytest
import torch

from gcodec.bitstream.container import unpack
from gcodec.codec import gc_codec
from gcodec.codec.registry import resolve_model
from gcodec.models.latent_refine import refine_symbols, refinement_loss

from .test_cli import run


def _setup(photo):
    gc = gc_codec.load_gc(resolve_model("tiny", kind="gc"), torch.device("cpu"))
    x = gc_codec.pad_to_multiple(gc_codec.to_tensor(photo, gc.device))
    return gc, x, photo.shape[0], photo.shape[1]


def _loss(gc, x, symbols, h, w) -> float:
    with torch.no_grad():
        return refinement_loss(gc.model.decode_symbols(symbols)[..., :h, :w], x[..., :h, :w]).item()


def test_zero_steps_is_the_encoder(tiny_weights, photo):
    gc, x, h, w = _setup(photo)
    assert torch.equal(refine_symbols(gc.model, x, h, w, 0), gc.model.encode_symbols(x))


def test_refinement_lowers_the_loss_and_leaves_the_model_alone(tiny_weights, photo):
    gc, x, h, w = _setup(photo)
    before = {k: v.clone() for k, v in gc.model.state_dict().items()}
    base = gc.model.encode_symbols(x)
    refined = refine_symbols(gc.model, x, h, w, 8)
    assert refined.shape == base.shape and not torch.equal(refined, base)
    assert _loss(gc, x, refined, h, w) < _loss(gc, x, base, h, w)
    assert all(torch.equal(v, before[k]) for k, v in gc.model.state_dict().items())
    assert all(p.grad is None for p in gc.model.parameters())


def test_refined_file_decodes_with_the_usual_decoder(tiny_weights, photo):
    gc, x, h, w = _setup(photo)
    c = unpack(gc_codec.compress(gc, photo, refine_steps=4))
    symbols = gc_codec.decode_latents(gc, c)
    assert np.array_equal(symbols, refine_symbols(gc.model, x, h, w, 4)[0].numpy())
    assert gc_codec.decompress(gc, c).shape == photo.shape


def test_eval_runs_each_gcodec_curve_with_a_refined_twin(tiny_weights, photo_path, tmp_path):
    out = tmp_path / "r.json"
    r = run("eval", "--data", str(photo_path), "--codecs", "gcodec:tiny", "--refine", "8", "--out", str(out))
    assert r.exit_code == 0, r.output
    codecs = json.loads(out.read_text())["codecs"]
    assert list(codecs) == ["gcodec:tiny", "gcodec:tiny-refine8"]
    plain, refined = (codecs[n]["per_image"][0] for n in codecs)
    assert refined["psnr"] != plain["psnr"]
