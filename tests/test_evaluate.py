"""The RD harness: spec parsing, evaluate() end to end on two tiny images, JSON, table and plot."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gcodec.bitstream.errors import InputError
from gcodec.codec.eval.images import evaluate, parse_codec_spec
from gcodec.codec.eval.report import format_table
from gcodec.codec.eval.metrics import psnr
from gcodec.codec.eval.protocol import CodecOutput


def smooth_image(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Gradients plus mild noise (generated, so the tests need no data files)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.stack([128 + 80 * np.sin(yy / (7 + 3 * c) + xx / (11 + c)) for c in range(3)], axis=-1)
    img += rng.normal(0, 5, size=img.shape)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


class Posterize:
    """A toy 'learned' codec: keeps the top bits of each value; reports a byte count, not bytes."""

    name = "gcodec:toy"
    settings = [2, 4]  # bits kept, lowest rate first

    def __init__(self) -> None:
        self.calls = 0

    def run(self, image: np.ndarray, bits: int) -> tuple[int, np.ndarray]:
        self.calls += 1
        shift = 8 - bits
        dec = ((image >> shift) << shift) + (1 << shift >> 1)
        return image.size * bits // 8, dec.astype(np.uint8)


@pytest.fixture
def two_images(tmp_path: Path) -> list[Path]:
    paths = []
    for i, (h, w) in enumerate([(170, 165), (40, 48)]):  # one big enough for MS-SSIM, one not
        p = tmp_path / f"img{i}.png"
        Image.fromarray(smooth_image(h, w, seed=i)).save(p)
        paths.append(p)
    return paths


def test_parse_codec_spec() -> None:
    assert parse_codec_spec("gcodec:gc-c4, avif,webp,jpeg") == ["gcodec:gc-c4", "avif", "webp", "jpeg"]
    with pytest.raises(InputError, match="unknown codec"):
        parse_codec_spec("avif,heif")
    with pytest.raises(InputError, match="twice"):
        parse_codec_spec("jpeg,jpeg")
    with pytest.raises(InputError, match="names no model"):
        parse_codec_spec("gcodec:")
    with pytest.raises(InputError):
        parse_codec_spec(" , ")
    assert parse_codec_spec("mine,jpeg", extra_names=["mine"]) == ["mine", "jpeg"]


def test_unknown_codec_fails_before_any_work(two_images: list[Path]) -> None:
    toy = Posterize()
    with pytest.raises(InputError, match="unknown codec"):
        evaluate(two_images, ["gcodec:toy", "nope"], None, None, extra_codecs={"gcodec:toy": toy}, progress=False)
    with pytest.raises(InputError, match="no model was passed"):
        evaluate(two_images, ["gcodec:other"], None, None, progress=False)
    assert toy.calls == 0


def test_evaluate_end_to_end(two_images: list[Path], tmp_path: Path) -> None:
    toy = Posterize()
    out_json, out_png = tmp_path / "r" / "rd.json", tmp_path / "r" / "rd.png"
    res = evaluate(two_images, ["jpeg", "gcodec:toy"], out_json, out_png,
                   extra_codecs={"gcodec:toy": toy}, progress=False)
    assert toy.calls == 2 * len(toy.settings)

    saved = json.loads(out_json.read_text())  # strict JSON: nan/inf were converted
    assert set(saved["codecs"]) == {"jpeg", "gcodec:toy"}
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out_png.stat().st_size > 10_000

    jpeg = saved["codecs"]["jpeg"]
    assert len(jpeg["per_image"]) == 2 * len(jpeg["settings"])
    assert len(jpeg["curve"]) == len(jpeg["settings"])
    for row in jpeg["per_image"]:
        assert row["encode_s"] >= 0 and row["decode_s"] >= 0
        h, w = (170, 165) if row["image"] == "img0.png" else (40, 48)
        assert row["bpp"] == pytest.approx(8 * row["bytes"] / (h * w))
        assert (row["ms_ssim"] is None) == (row["image"] == "img1.png")
    first = jpeg["curve"][0]
    rows0 = [r for r in jpeg["per_image"] if r["setting"] == first["setting"]]
    assert first["bpp"] == pytest.approx(np.mean([r["bpp"] for r in rows0]))
    assert first["psnr"] == pytest.approx(np.mean([r["psnr"] for r in rows0]))
    assert first["n"] == 2 and first["n_ms_ssim"] == 1
    assert jpeg["curve"][0]["bpp"] < jpeg["curve"][-1]["bpp"]

    toy_rows = saved["codecs"]["gcodec:toy"]["per_image"]
    img1 = np.asarray(Image.open(two_images[1]))
    r = next(r for r in toy_rows if r["image"] == "img1.png" and r["setting"] == 4)
    assert r["bytes"] == img1.size * 4 // 8
    assert r["bpp"] == pytest.approx(12.0)
    assert r["psnr"] == pytest.approx(psnr(Posterize().run(img1, 4)[1], img1))
    assert r["encode_s"] is None and r["seconds"] > 0

    table = format_table(res, bpp_range=(0.01, 20.0))
    assert "jpeg" in table and "gcodec:toy" in table and "PSNR (dB) at equal rate" in table
    assert "no setting in range" in format_table(res, bpp_range=(0.0001, 0.0002))


def test_codec_output_accepted_and_shape_checked(two_images: list[Path]) -> None:
    class Bad:
        settings = [1]

        def run(self, image: np.ndarray, s: int) -> CodecOutput:
            return CodecOutput(num_bytes=10, decoded=image[:-1])

    with pytest.raises(InputError, match="decoded shape"):
        evaluate(two_images, ["bad"], None, None, extra_codecs={"bad": Bad()}, progress=False)

    class Exact:
        settings = [1]

        def run(self, image: np.ndarray, s: int) -> CodecOutput:
            return CodecOutput(num_bytes=3, decoded=image.copy(), encode_s=0.5, decode_s=0.25)

    res = evaluate(two_images, ["exact"], None, None, extra_codecs={"exact": Exact()}, progress=False)
    pt = res["codecs"]["exact"]["curve"][0]
    assert math.isinf(pt["psnr"]) and pt["ms_ssim"] == pytest.approx(1.0)
    assert pt["texture_retention"] == pytest.approx(1.0)
    assert pt["encode_s"] == 0.5 and pt["decode_s"] == 0.25


def test_progress_run_prints_table_and_plot_range(two_images: list[Path], tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from gcodec.codec.eval.plots import plot_rd

    res = evaluate(two_images[:1], ["gcodec:toy"], None, None, extra_codecs={"gcodec:toy": Posterize()},
                   progress=True, bpp_range=(1.0, 8.0))
    out = capsys.readouterr().out
    assert "gcodec:toy" in out and "MS-SSIM at equal rate" in out
    png = plot_rd(res, tmp_path / "p.png", bpp_range=(1.0, 8.0), title="toy")
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_resume_skips_finished_runs(two_images: list[Path], tmp_path: Path) -> None:
    log = tmp_path / "runs.jsonl"
    toy = Posterize()
    first = evaluate(two_images, ["gcodec:toy"], None, None, extra_codecs={"gcodec:toy": toy},
                     progress=False, resume=log)
    assert toy.calls == 4 and len(log.read_text().splitlines()) == 4
    # a kill mid-write leaves a broken last line: it is ignored and that run is redone
    lines = log.read_text().splitlines()
    log.write_text("\n".join(lines[:3]) + "\n" + lines[3][:20])
    again = Posterize()
    second = evaluate(two_images, ["gcodec:toy"], None, None, extra_codecs={"gcodec:toy": again},
                      progress=False, resume=log)
    assert again.calls == 1 and second["meta"]["resumed_runs"] == 3
    for a, b in zip(first["codecs"]["gcodec:toy"]["curve"], second["codecs"]["gcodec:toy"]["curve"]):
        for k in ("bpp", "psnr", "texture_retention", "n"):
            assert a[k] == pytest.approx(b[k])
    third = Posterize()
    evaluate(two_images, ["gcodec:toy"], None, None, extra_codecs={"gcodec:toy": third}, progress=False, resume=log)
    assert third.calls == 0
