"""The Python API (`import gcodec`), its Pillow plugin and `python -m gcodec`, on tiny random models."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

import gcodec
from gcodec.bitstream.container import unpack
from gcodec.codec import gc_codec

from .conftest import FIXTURES


def test_zeros_round_trip_and_info(tiny_weights):
    data = gcodec.encode(np.zeros((64, 64, 3), np.uint8), model="tiny")
    out = gcodec.decode(data)
    assert out.shape == (64, 64, 3) and out.dtype == np.uint8
    d = gcodec.info(data)
    assert (d["kind"], d["size"], d["model"], d["bytes"]) == ("gc-image", [64, 64], "tiny", len(data))


def test_numpy_pil_and_path_inputs_agree(tiny_weights, photo, photo_path, tmp_path):
    data = gcodec.encode(photo, model="tiny")
    assert gcodec.encode(Image.fromarray(photo), model="tiny") == data
    assert gcodec.encode(photo_path, model="tiny") == data
    assert gcodec.encode(str(photo_path), model="tiny") == data
    f = tmp_path / "a.gcodec"
    f.write_bytes(data)
    out = gcodec.decode(data)
    assert out.shape == photo.shape
    assert np.array_equal(gcodec.decode(f), out) and np.array_equal(gcodec.decode(str(f)), out)
    assert gcodec.info(f) == gcodec.info(data)
    grey = photo[:, :, 1]  # grey input is coded as R = G = B, plus a flag that gives back one channel
    as_rgb = gcodec.encode(np.repeat(grey[:, :, None], 3, 2), model="tiny")
    grey_file = gcodec.encode(grey, model="tiny")
    assert unpack(grey_file).sections == (*unpack(as_rgb).sections, (16, b"\x01"))  # + the source-planes flag
    assert gcodec.decode(grey_file).shape == grey.shape and gcodec.decode(as_rgb).shape == photo.shape


def test_label_maps_are_lossless():
    labels = np.random.default_rng(0).integers(0, 4, (48, 64), dtype=np.uint8)
    data = gcodec.encode(labels, kind="labelmap")
    assert np.array_equal(gcodec.decode(data), labels) and gcodec.info(data)["kind"] == "labelmap"
    assert gcodec.encode(Image.fromarray(labels), kind="labelmap") == data
    with pytest.raises(gcodec.InputError, match="without a model"):
        gcodec.encode(labels, kind="labelmap", model="tiny")


def test_layered_rate_control_and_realism(layered_weights, photo, tmp_path):
    data = gcodec.encode(photo, model="tiny-layered", bpp=0.1)
    assert abs(8 * len(data) / (photo.shape[0] * photo.shape[1]) / 0.1 - 1) <= 0.05
    r0, r1 = gcodec.decode(data, realism=0.0), gcodec.decode(data, realism=1)
    assert r0.shape == photo.shape and not np.array_equal(r0, r1)
    f = tmp_path / "l.gcodec"
    f.write_bytes(data)
    with Image.open(f) as im:
        im.realism = 1.0
        assert np.array_equal(np.asarray(im), r1)
    with pytest.raises(gcodec.InputError, match="realism"):
        gcodec.decode(data, realism=1.5)
    with pytest.raises(gcodec.InputError, match="bpp and --size need a layered model"):
        gcodec.encode(photo, model="tiny", bpp=0.1)


def test_threads_share_one_model_and_match_sequential(tiny_weights, photo, monkeypatch):
    loads = []
    real_load = gc_codec.load_gc
    monkeypatch.setattr(gc_codec, "load_gc", lambda ref, dev: loads.append(ref) or real_load(ref, dev))
    images = [photo, photo[::-1], photo[:, ::-1], np.ascontiguousarray(photo[:96, :128])]
    with ThreadPoolExecutor(4) as pool:
        parallel = list(pool.map(lambda im: gcodec.encode(im, model="tiny"), images))
        decoded = list(pool.map(gcodec.decode, parallel))
    assert len(loads) == 1  # the model cache is locked: four threads, one load
    assert parallel == [gcodec.encode(im, model="tiny") for im in images]
    assert all(np.array_equal(a, gcodec.decode(d)) for a, d in zip(decoded, parallel))


@pytest.mark.parametrize("call,error,match", [
    (lambda: gcodec.encode(np.zeros((32, 32, 3), np.uint8), model="tiny", refin=3), gcodec.InputError, "refin"),
    (lambda: gcodec.encode(np.zeros((32, 32, 3), np.float32), model="tiny"), gcodec.InputError, "uint8"),
    (lambda: gcodec.encode(np.zeros((32, 32, 5), np.uint8), model="tiny"), gcodec.InputError, "shape"),  # 4: RGBA
    (lambda: gcodec.encode(b"png bytes", model="tiny"), gcodec.InputError, "bytes"),
    (lambda: gcodec.encode(np.zeros((32, 32, 3), np.uint8), model="nope"), gcodec.InputError, "unknown model"),
    (lambda: gcodec.encode(np.zeros((32, 32, 3), np.uint8), model="tiny", refine=-1), gcodec.InputError, "refine"),
    (lambda: gcodec.encode(FIXTURES / "missing.png", model="tiny"), gcodec.InputError, "no such file"),
    (lambda: gcodec.decode(b"GIF89a not ours"), gcodec.FormatError, "not a gcodec file"),
    (lambda: gcodec.decode(12), gcodec.InputError, "bytes or a path"),
    (lambda: gcodec.decode(b"", device="tpu"), gcodec.InputError, "unknown device"),
])
def test_bad_input_raises_one_line_gcodec_errors(tiny_weights, call, error, match):
    with pytest.raises(error, match=match) as e:
        call()
    assert isinstance(e.value, gcodec.GcodecError) and "\n" not in str(e.value)


def test_damaged_files(tiny_weights):
    data = gcodec.encode(np.zeros((32, 32, 3), np.uint8), model="tiny")
    with pytest.raises(gcodec.TruncatedError):
        gcodec.decode(data[:-6])
    with pytest.raises(gcodec.FormatError, match="checksum"):
        gcodec.decode(data[:-5] + bytes([data[-5] ^ 1]) + data[-4:])
    with pytest.raises(gcodec.UnsupportedError, match="version"):
        gcodec.info(data[:3] + b"\x09" + data[4:])


def test_pillow_open_and_save(tiny_weights, photo, tmp_path):
    f = tmp_path / "photo.gcodec"
    Image.fromarray(photo).save(f, model="tiny")
    assert f.read_bytes() == gcodec.encode(photo, model="tiny")
    with Image.open(f) as im:
        assert (im.format, im.mode, im.size) == ("GCODEC", "RGB", (photo.shape[1], photo.shape[0]))
        assert im.get_format_mimetype() == "image/x-gcodec"
        assert np.array_equal(np.asarray(im), gcodec.decode(f))
    labels = np.random.default_rng(1).integers(0, 3, (40, 56), dtype=np.uint8)
    Image.fromarray(labels).save(tmp_path / "labels.gcodec", kind="labelmap")
    with Image.open(tmp_path / "labels.gcodec") as im:
        assert im.mode == "L" and np.array_equal(np.asarray(im), labels)
    with pytest.raises(gcodec.InputError, match="quality"):
        Image.fromarray(photo).save(tmp_path / "bad.gcodec", model="tiny", quality=80)
    assert not (tmp_path / "bad.gcodec").exists()  # Pillow removes what a failed save created
    (tmp_path / "broken.gcodec").write_bytes(f.read_bytes()[:-9])
    with pytest.raises(gcodec.TruncatedError):
        Image.open(tmp_path / "broken.gcodec")


def test_videos_decode_to_frames_but_do_not_open_in_pillow(tmp_path):
    from gcodec.codec.video_codec import VideoOptions, compress_frames

    frames = np.random.default_rng(2).integers(0, 255, (2, 32, 32, 3), dtype=np.uint8)
    data = compress_frames(frames, 25.0, VideoOptions(bpp=1.0, epochs=1, progress=False, device="cpu")).data
    assert gcodec.decode(data).shape == frames.shape and gcodec.info(data)["video"]["fps"] == 25.0
    (tmp_path / "v.gcodec").write_bytes(data)
    with pytest.raises(gcodec.UnsupportedError, match="video"):
        Image.open(tmp_path / "v.gcodec")


def test_python_m_gcodec_and_a_light_import():
    r = subprocess.run([sys.executable, "-m", "gcodec", "--help"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "encode" in r.stdout
    code = "import sys, gcodec; assert 'torch' not in sys.modules; print(gcodec.__version__)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip(), r.stderr
