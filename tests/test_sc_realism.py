"""SC decode-time realism: R times the texture branch's detail on synthesized pixels, nothing else."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from gcodec.bitstream.container import unpack
from gcodec.bitstream.errors import InputError
from gcodec.codec import sc_codec
from gcodec.codec.api import Codec
from gcodec.codec.registry import resolve_model
from gcodec.models.sc import SCConfig, SCModel

from .conftest import save_tiny_model
from .test_sc_codec import ROAD, SKY, TINY_SC, TREE, _one_line_error, labels, photo, run, weights  # noqa: F401

TINY_SC_TEX = {**TINY_SC, "texture_width": 1}


@pytest.fixture
def sc_tex(weights) -> sc_codec.LoadedSC:
    torch.manual_seed(1)
    save_tiny_model(SCModel(SCConfig.from_dict(TINY_SC_TEX)), {"name": "tiny-sc-tex", "kind": "sc", "config": TINY_SC_TEX},
                    weights)
    return sc_codec.load_sc(resolve_model("tiny-sc-tex", kind="sc"), torch.device("cpu"))


def test_realism_scales_texture_on_synthesized_pixels_only(sc_tex, photo, labels):
    c = unpack(sc_codec.compress(sc_tex, photo, labels, [SKY, ROAD, TREE]))
    parts = sc_codec.decode_parts(sc_tex, c)
    synth = ~sc_codec.preserved_pixels(parts.heat, *labels.shape)
    assert 0.1 < synth.mean() < 0.9
    out = {r: sc_codec.decompress(sc_tex, c, realism=r).astype(np.int16) for r in (None, 0.0, 0.5, 1.0)}
    assert np.array_equal(out[None], out[1.0])  # the default is the branch as trained
    for r in (0.0, 0.5):
        assert np.array_equal(out[r][~synth], out[1.0][~synth])  # preserved pixels never move
    full = out[1.0][synth] - out[0.0][synth]
    assert np.abs(full).mean() > 1  # the branch adds visible detail at R = 1
    half = out[0.5][synth] - out[0.0][synth]
    assert np.abs(half - full / 2).mean() < 0.1 * np.abs(full).mean()  # and half of it at R = 0.5
    # R = 0 is the generator's own image: the model decoded without a branch
    plain = SCModel(SCConfig.from_dict(TINY_SC)).eval()
    plain.load_state_dict({k: v for k, v in sc_tex.model.state_dict().items() if not k.startswith("texture.")})
    no_branch = sc_codec.LoadedSC(sc_tex.ref, plain, sc_tex.tables, sc_tex.device, sc_tex.class_names)
    assert np.array_equal(sc_codec.decompress(no_branch, c).astype(np.int16), out[0.0])


def test_realism_needs_a_texture_branch(sc_tex, photo, labels):
    sc = sc_codec.load_sc(resolve_model("tiny-sc", kind="sc"), torch.device("cpu"))
    c = unpack(sc_codec.compress(sc, photo, labels, [SKY]))
    assert np.array_equal(sc_codec.decompress(sc, c, realism=0.0), sc_codec.decompress(sc, c))
    with pytest.raises(InputError, match="needs a texture branch"):
        sc_codec.decompress(sc, c, realism=0.5)
    with pytest.raises(InputError, match="must be in"):
        Codec(torch.device("cpu")).decode(sc_codec.compress(sc_tex, photo, labels, [SKY]), realism=1.5)


def test_cli_decode_realism_on_sc_files(sc_tex, photo, labels, tmp_path):
    img, lab = tmp_path / "photo.png", tmp_path / "labels.png"
    Image.fromarray(photo).save(img)
    Image.fromarray(labels).save(lab)
    for model in ("tiny-sc-tex", "tiny-sc"):
        r = run("encode", img, "-m", model, "--semantic", lab, "--synthesize", "sky,tree", "-o", tmp_path / f"{model}.gcodec")
        assert r.exit_code == 0, r.output
    outs = {}
    for r_value in ("0", "1"):
        outs[r_value] = tmp_path / f"tex{r_value}.png"
        r = run("decode", tmp_path / "tiny-sc-tex.gcodec", "--realism", r_value, "-o", outs[r_value])
        assert r.exit_code == 0, r.output
    assert outs["0"].read_bytes() != outs["1"].read_bytes()
    bad = tmp_path / "bad.png"
    _one_line_error(run("decode", tmp_path / "tiny-sc.gcodec", "--realism", "0.5", "-o", bad), "texture branch")
    _one_line_error(run("decode", tmp_path / "tiny-sc-tex.gcodec", "--realism", "2", "-o", bad), "[0, 1]")
    assert not bad.exists()
