"""Video codec round trips, determinism across thread counts/devices, errors, `eval-video`."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from gcodec.bitstream.container import unpack
from gcodec.bitstream.errors import FormatError, GcodecError, InputError, TruncatedError
from gcodec.codec.eval.metrics import psnr
from gcodec.codec.eval.video import markdown_table, merge_results
from gcodec.codec.video_codec import (VideoOptions, compress_frames, compress_video, decompress_video,
                                      describe_video, frame_slice, is_video_path, write_video)
from gcodec.codec.video_io import read_video

CLIP = Path(__file__).parent / "fixtures" / "clip_carphone_64x48.mp4"
FAST = dict(bpp=1.0, epochs=40, progress=False, device="cpu")


@pytest.fixture(scope="module")
def clip() -> tuple[np.ndarray, float]:
    return read_video(str(CLIP))


@pytest.fixture(scope="module")
def encoded(clip: tuple[np.ndarray, float]) -> dict[str, bytes]:
    frames, fps = clip
    return {m: compress_frames(frames, fps, VideoOptions(method=m, **FAST)).data
            for m in ("supermask", "dense", "sparse")}


def test_fixture_reads(clip: tuple[np.ndarray, float]) -> None:
    frames, fps = clip
    assert frames.shape == (8, 48, 64, 3) and frames.dtype == np.uint8
    assert abs(fps - 29.97) < 0.01
    assert is_video_path(str(CLIP)) and not is_video_path("x.png")


@pytest.mark.parametrize("method", ["supermask", "dense", "sparse"])
def test_round_trip(method: str, clip: tuple[np.ndarray, float], encoded: dict[str, bytes]) -> None:
    frames, fps = clip
    data = encoded[method]
    out, fps2 = decompress_video(data, "cpu")
    assert out.shape == frames.shape and out.dtype == np.uint8
    assert abs(fps2 - fps) < 1e-3
    # it learned the clip: better than flat grey (supermask clearly; the tiny dense nets barely, in 80 steps)
    grey = np.full_like(frames, 128)
    p = np.mean([psnr(a, b) for a, b in zip(frames, out)])
    assert p > np.mean([psnr(a, b) for a, b in zip(frames, grey)]) + (3 if method == "supermask" else 0.3), p
    info = describe_video(unpack(data))
    assert info["method"] == method and info["frames"] == 8 and (info["width"], info["height"]) == (64, 48)
    assert sum(info["bits"].values()) + info["bits_container_overhead"] == 8 * len(data)
    assert info["bpp"] == pytest.approx(8 * len(data) / (8 * 48 * 64))


def test_supermask_is_much_smaller_per_weight(encoded: dict[str, bytes]) -> None:
    sm, dn = (describe_video(unpack(encoded[m])) for m in ("supermask", "dense"))
    assert sm["bits"]["levels"] / sm["network"]["weights"] < 1.9  # ~1.65 bits per weight at 0.5/0.8/0.95
    assert dn["bits"]["weights"] / dn["network"]["weights"] > 4


def test_supermask_head_trained_or_masked(clip: tuple[np.ndarray, float], encoded: dict[str, bytes]) -> None:
    frames, fps = clip
    trained = unpack(encoded["supermask"])
    info = describe_video(trained)
    assert info["head"] == "trained" and info["bits"]["head"] > 0
    masked_data = compress_frames(frames, fps, VideoOptions(method="supermask", head="masked", **FAST)).data
    masked = describe_video(unpack(masked_data))
    assert masked["head"] == "masked" and "head" not in masked["bits"]
    assert masked["network"]["weights"] > masked["bits"]["levels"] / 1.9 > 0  # every layer's levels are stored
    out, _ = decompress_video(masked_data, "cpu")
    assert np.mean([psnr(a, b) for a, b in zip(frames, out)]) > 20
    # only a supermask file may carry a head section
    dense = unpack(encoded["dense"])
    with pytest.raises(FormatError, match="head"):
        decompress_video(replace(dense, sections=dense.sections + ((6, trained.section(6)),)), "cpu")


def test_decode_same_frames_across_thread_counts(encoded: dict[str, bytes]) -> None:
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        a, _ = decompress_video(encoded["supermask"], "cpu")
        torch.set_num_threads(2)
        b, _ = decompress_video(encoded["supermask"], "cpu")
    finally:
        torch.set_num_threads(threads)
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 1


def test_decode_in_a_fresh_process_matches(encoded: dict[str, bytes], tmp_path: Path) -> None:
    """The weights regenerate from the seed in another interpreter: same frames."""
    src = tmp_path / "v.gcodec"
    src.write_bytes(encoded["supermask"])
    code = ("import sys,torch,numpy as np; torch.set_num_threads(2);"
            "from gcodec.codec.video_codec import decompress_video;"
            "f,_=decompress_video(open(sys.argv[1],'rb').read(),'cpu'); np.save(sys.argv[2], f)")
    subprocess.run([sys.executable, "-c", code, str(src), str(tmp_path / "f.npy")], check=True)
    a, _ = decompress_video(encoded["supermask"], "cpu")
    assert np.abs(np.load(tmp_path / "f.npy").astype(int) - a.astype(int)).max() <= 1


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_decode_gpu_matches_cpu(encoded: dict[str, bytes]) -> None:
    a, _ = decompress_video(encoded["supermask"], "cpu")
    b, _ = decompress_video(encoded["supermask"], "cuda")
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 1


def test_frame_slice(encoded: dict[str, bytes]) -> None:
    full, _ = decompress_video(encoded["dense"], "cpu")
    part, _ = decompress_video(encoded["dense"], "cpu", frame_slice("2:5"))
    np.testing.assert_array_equal(part, full[2:5])
    with pytest.raises(InputError):
        frame_slice("a:b")
    with pytest.raises(InputError):
        decompress_video(encoded["dense"], "cpu", slice(20, 30))


def test_corrupted_and_truncated_files(encoded: dict[str, bytes]) -> None:
    data = encoded["supermask"]
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x40
    with pytest.raises(FormatError):
        decompress_video(bytes(flipped), "cpu")
    for cut in (5, len(data) // 2, len(data) - 1):
        with pytest.raises(TruncatedError):
            decompress_video(data[:cut], "cpu")


def test_corrupt_input_videos(tmp_path: Path) -> None:
    raw = CLIP.read_bytes()
    cases = {"trunc.mp4": raw[: len(raw) // 2], "garbage.mp4": b"\0not a video" * 50, "empty.mp4": b""}
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(InputError) as e:
            compress_video(str(tmp_path / name), VideoOptions(**FAST))
        assert "\n" not in str(e.value)
    with pytest.raises(InputError):
        read_video(str(tmp_path / "missing.mp4"))


def test_options_are_checked(clip: tuple[np.ndarray, float]) -> None:
    frames, fps = clip
    for bad in (dict(method="nope"), dict(bpp=0), dict(epochs=1, time_budget=1), dict(device="cuda:99x"),
                dict(head="nope"), dict(method="dense", head="masked")):
        with pytest.raises(GcodecError):
            compress_frames(frames, fps, VideoOptions(**{**FAST, **bad}))


def test_resize_max_frames_and_folder(tmp_path: Path) -> None:
    frames, fps = read_video(str(CLIP), max_frames=3, resize=(32, 24))
    assert frames.shape == (3, 24, 32, 3)
    write_video(frames, fps, str(tmp_path / "frames"))
    again, _ = read_video(str(tmp_path / "frames"))
    np.testing.assert_array_equal(again, frames)  # PNG folder: lossless
    write_video(frames, fps, str(tmp_path / "o.mp4"))
    back, fps2 = read_video(str(tmp_path / "o.mp4"))
    assert back.shape == frames.shape and abs(fps2 - fps) < 0.05
    assert np.mean([psnr(a, b) for a, b in zip(frames, back)]) > 35
    with pytest.raises(InputError):
        write_video(frames, fps, str(tmp_path / "o.mp4"))  # exists, no force


def test_eval_video_cli(tmp_path: Path) -> None:
    out = tmp_path / "ev"
    proc = subprocess.run(
        [sys.executable, "-m", "gcodec.cli", "eval-video", "--data", str(CLIP), "--bpp", "0.5,1.5", "--epochs", "2",
         "--methods", "supermask,supermask-masked,dense", "--anchors", "x264", "--max-frames", "4", "--out", str(out), "--quiet"],
        capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    res = json.loads((out / "results.json").read_text())[0]
    assert set(res["codecs"]) == {"gcodec-supermask", "gcodec-supermask-masked", "gcodec-dense", "x264"}
    assert res["seed"] == 1
    assert all(p["bpp"] > 0 and p["psnr"] > 5 for e in res["codecs"].values() for p in e["points"])
    assert (out / "rd.png").stat().st_size > 1000
    bad = subprocess.run([sys.executable, "-m", "gcodec.cli", "eval-video", "--data", str(CLIP), "--methods", "x"],
                         capture_output=True, text=True)
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "unknown method" in bad.stderr
    # an unknown anchor or a thread count of 0 is refused before any encode, not after the NeRV fits
    for args, msg in ((["--anchors", "''"], "unknown anchor"), (["--threads", "0"], "--threads must be >= 1")):
        bad = subprocess.run([sys.executable, "-m", "gcodec.cli", "eval-video", "--data", str(CLIP), *args,
                              "--out", str(tmp_path / "none")], capture_output=True, text=True)
        assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and msg in bad.stderr
        assert not (tmp_path / "none").exists()


def test_parse_anchors() -> None:
    from gcodec.codec.eval.video import parse_anchors

    assert parse_anchors("x264, x265") == ["x264", "x265"]
    assert parse_anchors("none") == [] and parse_anchors("") == []
    with pytest.raises(InputError, match="x266"):
        parse_anchors("x264,x266")


def test_merge_results_replaces_points_and_keeps_budgets_apart() -> None:
    def run(codecs: dict, epochs: float = 100) -> list[dict]:
        return [{"video": "/a/clip.mp4", "width": 8, "height": 6, "frames": 3, "epochs": epochs,
                 "time_budget_s": None, "codecs": codecs}]

    def pts(*bpp_psnr: tuple[float, float]) -> dict:
        return {"points": [{"target_bpp": b, "bpp": b, "psnr": p, "ms_ssim": None} for b, p in bpp_psnr]}

    first = run({"gcodec-supermask": pts((0.1, 30.0)), "gcodec-sparse": pts((0.2, 20.0)),
                 "x264": pts((0.05, 28.0), (0.2, 32.0))})
    again = run({"gcodec-sparse": pts((0.05, 24.0), (0.2, 28.0))})
    more = run({"gcodec-supermask": pts((0.03, 25.0))})  # another target bpp: added, not replacing
    other = [{**run({"gcodec-supermask": pts((0.1, 1.0))})[0], "width": 16}]  # another size: kept apart
    longer = run({"gcodec-supermask": pts((0.1, 2.0))}, epochs=200)  # another budget: kept apart
    seeded = [{**run({"gcodec-supermask": pts((0.1, 3.0))})[0], "seed": 2}]  # another seed: kept apart
    merged = merge_results([first, again, more, other, longer, seeded])
    assert len(merged) == 4
    m = merged[0]
    assert [p["psnr"] for p in m["codecs"]["gcodec-supermask"]["points"]] == [30.0, 25.0]
    assert [p["psnr"] for p in m["codecs"]["gcodec-sparse"]["points"]] == [24.0, 28.0]
    assert m["matched"][0]["gcodec-sparse"]["psnr"] == pytest.approx(26.0)  # halfway in log(bpp)
    assert m["matched"][0]["x264"]["psnr"] == pytest.approx(30.0)
    assert math.isnan(m["matched"][0]["x264"]["ms_ssim"])  # JSON null stays "no value"
    table = markdown_table(merged).splitlines()
    assert table[0].count("|") == 6 and all(line.count("|") == 6 for line in table)  # one column set
    assert "clip 8x6x3, 200 ep | 0.1 | 0.1000: 2.00 | - | -" in table[-2]
    assert "clip 8x6x3, 100 ep, seed 2 | 0.1 | 0.1000: 3.00 | - | -" in table[-1]


def test_sparse_pruning_spares_layers_with_small_weights() -> None:
    """One threshold on raw magnitudes would empty the layers whose fan-in is large."""
    from gcodec.codec.video_codec import _global_prune
    from gcodec.models.nerv import Nerv, make_config
    from gcodec.models.supermask import DenseWeight

    cfg = make_config(4, 32, 32, 8)
    torch.manual_seed(0)
    model = Nerv(cfg, lambda i, _n, shape, fan_in: DenseWeight(torch.randn(shape) / fan_in))
    _global_prune(model, 0.5)
    kept = [float(m.mask.mean()) for m in model.weights]
    assert all(0.3 < k < 0.7 for k in kept), kept


def test_bf16_encode_from_the_cli_decodes_like_any_other(tmp_path: Path) -> None:
    from .test_cli import run

    out = tmp_path / "c.gcodec"
    r = run("encode", str(CLIP), "-o", str(out), "--bpp", "1.0", "--epochs", "5", "--bf16", "--device", "cpu", "--json")
    assert r.exit_code == 0, r.output
    frames, _ = decompress_video(out.read_bytes(), "cpu")
    assert frames.shape == (8, 48, 64, 3)
    r = run("encode", str(CLIP.parent / "photo_200x168.png"), "-o", str(tmp_path / "p.gcodec"), "--bf16")
    assert r.exit_code == 1 and "videos only" in r.stderr and not (tmp_path / "p.gcodec").exists()


def test_biases_are_stored_at_six_bits_within_half_a_step() -> None:
    from gcodec.codec.video_codec import BIAS_QMAX, _quantize_biases
    from gcodec.models.nerv import Nerv, make_config
    from gcodec.models.supermask import FixedWeight

    cfg = make_config(4, 32, 32, 8)
    model = Nerv(cfg, lambda i, _n, shape, _f: FixedWeight(torch.zeros(shape)))
    torch.manual_seed(0)
    with torch.no_grad():
        for b in model.biases:
            b.normal_(0.0, 0.1)
    q, scales = _quantize_biases(model)
    assert BIAS_QMAX == 31 and q.min() >= -31 and q.max() <= 31
    pos = 0
    for b, s in zip(model.biases, scales.astype(np.float32)):
        n = b.numel()
        err = np.abs(q[pos : pos + n] * s - b.detach().numpy())
        assert err.max() <= 0.5 * s * 1.01 and np.abs(q[pos : pos + n]).max() >= 30
        pos += n


def test_auto_picks_by_the_epochs_a_supermask_fit_gets(clip: tuple[np.ndarray, float]) -> None:
    from gcodec.codec.video_plan import AUTO_SUPERMASK_MIN_EPOCHS, auto_method

    assert auto_method(AUTO_SUPERMASK_MIN_EPOCHS) == "supermask"
    assert auto_method(AUTO_SUPERMASK_MIN_EPOCHS * 0.99) == "dense"
    frames, fps = clip
    for epochs, expect in ((2, "dense"), (AUTO_SUPERMASK_MIN_EPOCHS, "supermask")):
        r = compress_frames(frames, fps, VideoOptions(method="auto", **{**FAST, "epochs": epochs}))
        assert r.method == expect and describe_video(unpack(r.data))["method"] == expect
    # the default method is auto, and it settles a time budget by timing a supermask step
    r = compress_frames(frames, fps, VideoOptions(bpp=1.0, time_budget=1.0, progress=False, device="cpu"))
    assert r.method in ("supermask", "dense") and describe_video(unpack(r.data))["method"] == r.method


def test_a_time_budget_covers_the_whole_encode(clip: tuple[np.ndarray, float]) -> None:
    import time

    frames, fps = clip
    started = time.perf_counter() - 1.0  # as if reading the video had taken a second
    r = compress_frames(frames, fps, VideoOptions(method="dense", bpp=1.0, time_budget=3.0, progress=False,
                                                  device="cpu"), started=started)
    assert 3.0 * 0.8 < r.seconds < 3.0 * 1.05 + 0.3, r.seconds  # one tiny step past the deadline at most
    assert r.steps > 0 and r.history[-1][0] < 2.0  # training got what the first second left


def test_a_masked_head_means_the_supermask(clip: tuple[np.ndarray, float]) -> None:
    from gcodec.codec.video_codec import check_options

    with pytest.raises(InputError, match="masked head needs --method supermask"):
        check_options(VideoOptions(head="masked", method="dense"))
    frames, fps = clip
    r = compress_frames(frames, fps, VideoOptions(head="masked", **{**FAST, "epochs": 1}))  # auto, 1 epoch
    assert r.method == "supermask" and describe_video(unpack(r.data))["head"] == "masked"
