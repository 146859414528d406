"""`gcodec sample` (uniform, prior, code GAN sources) and `gcodec train codegan` on tiny fixtures."""

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from gcodec.bitstream import context_model
from gcodec.bitstream.entropy import PRECISION

from .conftest import FIXTURES, make_tiny_gc
from .test_cli import run


def _images(folder):
    return {p.name: np.asarray(Image.open(p)) for p in sorted(folder.glob("*.png"))}


@pytest.mark.parametrize("source", ["uniform", "prior"])
def test_sample_writes_n_images_and_seeds_decide_them(tiny_weights, tmp_path, source):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for out, seed in ((a, 1), (b, 1), (c, 2)):
        r = run("sample", "-m", "tiny", "-n", "3", "-o", str(out), "--size", "64x48", "--seed", str(seed),
                "--source", source)
        assert r.exit_code == 0, r.output
    ia, ib, ic = _images(a), _images(b), _images(c)
    assert len(ia) == 3 and all(im.shape == (48, 64, 3) for im in ia.values())
    assert all(np.array_equal(ia[k], ib[k]) for k in ia)  # same seed, same images
    assert all(not np.array_equal(x, y) for x, y in zip(ia.values(), ic.values()))  # another seed, others
    frames = list(ia.values())
    assert not np.array_equal(frames[0], frames[1])  # the images of one run differ too


def test_context_sampling_follows_the_contexts():
    """Channel 1's phase-0 tables put almost all mass on the symbol channel 0 has there: a sampler
    that reads contexts in decode order copies it."""
    C, L = 2, 5
    t = np.full(context_model.table_shape(C, L), (1 << PRECISION) // L, dtype=np.int64)
    t[..., -1] += (1 << PRECISION) - t[0, 0, 0].sum()  # near uniform rows...
    S = context_model.spatial_values(L)
    for k in range(t.shape[2]):
        t[1, 0, k] = 1
        t[1, 0, k, k // S % L] = (1 << PRECISION) - (L - 1)  # ...but channel 1, phase 0 copies channel 0
    s = context_model.sample(t, (C, 8, 10), np.random.default_rng(0))
    assert s.shape == (C, 8, 10) and s.min() >= 0 and s.max() < L
    assert np.array_equal(s[1, ::2, ::2], s[0, ::2, ::2])
    assert len(np.unique(s[0])) > 1
    again = context_model.sample(t, (C, 8, 10), np.random.default_rng(0))
    assert np.array_equal(s, again)


@pytest.mark.parametrize("args, message", [
    (["-n", "0"], "-n must be at least 1"),
    (["--size", "100x64"], "multiple of 16"),
    (["--size", "64"], "WIDTHxHEIGHT"),
    (["--source", "magic"], "unknown --source"),
    (["--source", "codegan"], "has no code GAN"),
    (["-m", "no-such-model"], "unknown model"),
    (["--seed", "-1"], "--seed must not be negative"),
])
def test_sample_bad_input_is_one_line(tiny_weights, tmp_path, args, message):
    r = run("sample", "-m", "tiny", "-o", str(tmp_path / "out"), *args)
    assert r.exit_code == 1, r.output
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_train_codegan_resumes_exports_and_samples(tiny_weights, tmp_path):
    data = tmp_path / "photos"
    data.mkdir()
    for name in ("sample_481x321.jpg", "urban_023_crop_384.jpg", "photo_200x168.png"):
        shutil.copy(FIXTURES / name, data / name)
    out = tmp_path / "run"
    tiny = ["train", "codegan", "-m", "tiny", "--data", str(data), "--out", str(out), "--crop", "8",
            "--max-side", "192", "--width", "4", "--noise", "2", "--batch", "2", "--critic-steps", "1",
            "--val-count", "1"]
    r = run(*tiny, "--steps", "2")
    assert r.exit_code == 0, r.output
    assert (out / "codes.safetensors").is_file() and (out / "checkpoint.pt").is_file()
    r = run(*tiny, "--steps", "4")  # resumes at step 2, stops at 4
    assert r.exit_code == 0, r.output
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [rec["step"] for rec in log] == [2, 4]
    assert "cached codes" not in r.output  # the cache is computed once
    make_tiny_gc(tiny_weights, "other")
    r = run(*tiny, "--steps", "5", "-m", "other")  # a cache of another model's codes is refused
    assert r.exit_code == 1 and "caches codes of model 'tiny'" in r.stderr
    weights = tiny_weights / "tiny-codegan.safetensors"
    r = run("export", str(out), "-o", str(weights))
    assert r.exit_code == 0, r.output
    card = json.loads(weights.with_suffix(".json").read_text())
    assert card["kind"] == "codegan" and card["gc_model"]["name"] == "tiny" and card["training"]["steps"] == 4
    r = run("models")
    assert "tiny-codegan" in r.stdout and "samples codes for tiny" in r.stdout
    outs = []
    for seed in (3, 3):
        outs.append(tmp_path / f"s{len(outs)}")
        r = run("sample", "-m", "tiny", "--source", "codegan", "-n", "2", "-o", str(outs[-1]), "--size", "96x64",
                "--seed", str(seed))
        assert r.exit_code == 0, r.output
    i0, i1 = (_images(o) for o in outs)
    assert len(i0) == 2 and all(im.shape == (64, 96, 3) for im in i0.values())
    assert all(np.array_equal(i0[k], i1[k]) for k in i0)


def test_codegan_codes_follow_seed_and_index(tiny_weights):
    """Each (seed, index) draws its own noise. (Four training steps leave a code GAN's argmax at its
    biases, so this uses a generator with unit-variance weights, where the noise shows.)"""
    import torch

    from gcodec.codec.gc_codec import load_gc
    from gcodec.codec.registry import resolve_model
    from gcodec.codec.sampling import Sampler
    from gcodec.models.codegan import CodeGANConfig, CodeGenerator

    g = CodeGenerator(CodeGANConfig(channels=2, levels=5, noise=4, width=8))
    with torch.no_grad():
        for p in g.parameters():
            p.normal_()
    s = Sampler(load_gc(resolve_model("tiny"), torch.device("cpu")), "codegan", g)
    a, b, c = s.codes(4, 6, seed=1, index=0), s.codes(4, 6, seed=1, index=0), s.codes(4, 6, seed=2, index=0)
    assert a.shape == (2, 4, 6) and np.array_equal(a, b)
    assert not np.array_equal(a, c) and not np.array_equal(a, s.codes(4, 6, seed=1, index=1))


def test_train_codegan_bad_options(tiny_weights, tmp_path):
    r = run("train", "codegan", "-m", "tiny", "--data", str(FIXTURES), "--out", str(tmp_path / "r"), "--crop", "6")
    assert r.exit_code == 1 and "--crop must be a multiple of 4" in r.stderr
    assert not (tmp_path / "r").exists()
