"""Fuzz seeds (small valid files of every payload kind, made with tiny random models) and
the fuzz oracle: decode any bytes and classify the outcome.

Used by tests/test_fuzz.py and scripts/fuzz.py. The weights folder passed to `make_seeds`
must be GCODEC_WEIGHTS while the seeds are decoded (the files name their models).
"""

from __future__ import annotations

import os
import resource
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gcodec.bitstream.container import PayloadKind, pack, peek_kind, unpack
from gcodec.bitstream.errors import GcodecError
from gcodec.bitstream.planes import split_planes
from gcodec.bitstream.vvc_params import MAX_LUMA_SAMPLES
from gcodec.codec.api import Codec

from .conftest import FIXTURES, make_tiny_gc, make_tiny_layered

KINDS = ("gc", "sc", "labelmap", "video", "layered")
H, W = 40, 56  # seed size: not a multiple of 16, so crops and padding are exercised


@dataclass(frozen=True)
class Seed:
    name: str  # e.g. "gc-ctx", "video-sparse"
    kind: str  # one of KINDS
    data: bytes


def _photo() -> np.ndarray:
    return np.asarray(Image.open(FIXTURES / "photo_200x168.png").convert("RGB"))[60 : 60 + H, 70 : 70 + W].copy()


def _camvid() -> tuple[np.ndarray, np.ndarray]:
    """A CamVid crop with many classes and its label map, cropped the same."""
    img = np.asarray(Image.open(FIXTURES / "camvid_0016E5_07959.jpg").convert("RGB"))
    lab = np.asarray(Image.open(FIXTURES / "labelmap_camvid_0016E5_07959.png"))
    return img[150 : 150 + H, 200 : 200 + W].copy(), lab[150 : 150 + H, 200 : 200 + W].copy()


def _gc_seeds(wdir: Path) -> list[Seed]:
    from gcodec.bitstream import context_model as cm
    from gcodec.codec import gc_codec
    from gcodec.codec.context_tables import image_symbols, write_with_context_tables
    from gcodec.codec.registry import resolve_model

    make_tiny_gc(wdir)
    make_tiny_gc(wdir / "src", name="tiny-ctx")  # the same net as "tiny"; context tables added below
    photo = _photo()
    gc = gc_codec.load_gc(resolve_model("tiny", kind="gc"), torch.device("cpu"))
    src = resolve_model(str(wdir / "src" / "tiny-ctx.safetensors"), kind="gc")
    lat = [image_symbols(gc, photo), image_symbols(gc, photo[::-1].copy())]
    tables = cm.tables_from_counts(cm.count_contexts(lat, gc.cfg.channels, gc.cfg.levels))
    write_with_context_tables(src, tables, wdir / "tiny-ctx.safetensors", {"data": "fuzz seed"})
    ctx = gc_codec.load_gc(resolve_model("tiny-ctx", kind="gc"), torch.device("cpu"))
    assert ctx.context_tables is not None
    plain = gc_codec.compress(gc, photo)
    c = unpack(plain)  # a fine grain section (tag 3), as files written with a detail stage carry
    grainy = pack(replace(c, sections=c.sections + ((gc_codec.SECTION_FINE_GRAIN, b"\x60"),)))
    return [Seed("gc", "gc", plain), Seed("gc-ctx", "gc", gc_codec.compress(ctx, photo)),
            Seed("gc-grain", "gc", grainy), *_planes_seeds("gc", plain)]


def _planes_seeds(kind: str, data: bytes) -> list[Seed]:
    """`data` with a source-planes section (bitstream/planes.py): grey + a label-map-coded alpha, and
    an LZMA2-coded alpha, so the mutations reach both alpha decoders."""
    from gcodec.bitstream.planes import FLAG_ALPHA, FLAG_GRAY, _alpha_candidates, with_planes

    yy, xx = np.mgrid[:H, :W]
    soft = np.clip(255 * (1.2 - np.hypot(yy - H / 2, xx - W / 2) / 20), 0, 255).astype(np.uint8)
    labelmap_code = _alpha_candidates(np.where(soft > 127, 255, 0).astype(np.uint8))[0]
    lzma_code = _alpha_candidates(soft)[1]
    return [Seed(f"{kind}-grey-alpha", kind, with_planes(data, bytes([FLAG_GRAY | FLAG_ALPHA]) + labelmap_code)),
            Seed(f"{kind}-alpha-lzma", kind, with_planes(data, bytes([FLAG_ALPHA]) + lzma_code))]


def _sc_seeds(wdir: Path) -> list[Seed]:
    from gcodec.bitstream import context_model as cm
    from gcodec.codec import sc_codec
    from gcodec.codec.context_tables import sc_image_symbols, write_with_context_tables
    from gcodec.codec.registry import resolve_model

    from .test_sc_codec import make_tiny_sc

    make_tiny_sc(wdir)
    make_tiny_sc(wdir / "src", name="tiny-sc-ctx")  # the same net as "tiny-sc"; context tables added below
    sc = sc_codec.load_sc(resolve_model("tiny-sc", kind="sc"), torch.device("cpu"))
    image, labels = _camvid()
    lat = [sc_image_symbols(sc, image, labels), sc_image_symbols(sc, image[::-1].copy(), labels[::-1].copy())]
    tables = cm.tables_from_counts(cm.count_contexts(lat, sc.cfg.channels, sc.cfg.levels))
    src = resolve_model(str(wdir / "src" / "tiny-sc-ctx.safetensors"), kind="sc")
    write_with_context_tables(src, tables, wdir / "tiny-sc-ctx.safetensors", {"data": "fuzz seed"})
    ctx = sc_codec.load_sc(resolve_model("tiny-sc-ctx", kind="sc"), torch.device("cpu"))
    # classes 3 and 10 synthesized (half the cells), a preserved box over some of them: every
    # section has content, and the heatmap mixes coded and skipped cells
    ids, boxes = [3, 10], [(30, 28, 10, 8)]
    return [Seed("sc", "sc", sc_codec.compress(sc, image, labels, ids, boxes)),
            Seed("sc-ctx", "sc", sc_codec.compress(ctx, image, labels, ids, boxes)),
            Seed("sc-plain", "sc", sc_codec.compress(sc, image, labels)),
            Seed("sc-grid-map", "sc", sc_codec.compress(sc, image, labels, ids, map_tolerance=4)),
            *_planes_seeds("sc", sc_codec.compress(sc, image, labels))[:1]]


def _labelmap_seeds() -> list[Seed]:
    from gcodec.codec import labelmap_codec

    return [Seed("labelmap", "labelmap", labelmap_codec.compress(_camvid()[1]))]


def _video_seeds() -> list[Seed]:
    from gcodec.codec.video_codec import VideoOptions, compress_frames
    from gcodec.codec.video_io import read_video

    frames, fps = read_video(str(FIXTURES / "clip_carphone_64x48.mp4"))
    clip = np.ascontiguousarray(frames[:3, :32, :40])
    fast = dict(bpp=1.0, epochs=2, progress=False, device="cpu")
    seeds = [Seed(f"video-{m}", "video", compress_frames(clip, fps, VideoOptions(method=m, **fast)).data)
             for m in ("supermask", "dense", "sparse")]
    masked = compress_frames(clip, fps, VideoOptions(method="supermask", head="masked", **fast)).data
    return seeds + [Seed("video-masked", "video", masked)]


def _layered_seeds(wdir: Path) -> list[Seed]:
    from gcodec.codec.layered.codec import compress_at, load_layered
    from gcodec.codec.registry import resolve_model

    make_tiny_layered(wdir)
    make_tiny_layered(wdir, "tiny-sharp", sharpen=True)
    lm = load_layered(resolve_model("tiny-layered", kind="layered"), torch.device("cpu"))
    sharp = load_layered(resolve_model("tiny-sharp", kind="layered"), torch.device("cpu"))
    return [Seed("layered", "layered", compress_at(lm, _photo(), scale=4, qp=40)),
            Seed("layered-k1", "layered", compress_at(lm, _photo()[:33, :40], scale=2, qp=50, channels=1)),
            # band gains and a fine grain byte (byte 1, bits 7 and 5)
            Seed("layered-gains", "layered", compress_at(sharp, _photo(), scale=4, qp=40))]


def make_seeds(wdir: Path, kinds: Iterable[str] = KINDS) -> list[Seed]:
    """Write tiny models into `wdir` and return valid files of the requested kinds."""
    kinds = set(kinds)
    if unknown := kinds - set(KINDS):
        raise ValueError(f"unknown seed kinds {sorted(unknown)}; choose from {KINDS}")
    wdir.mkdir(parents=True, exist_ok=True)
    seeds: list[Seed] = []
    if "gc" in kinds:
        seeds += _gc_seeds(wdir)
    if "sc" in kinds:
        seeds += _sc_seeds(wdir)
    if "labelmap" in kinds:
        seeds += _labelmap_seeds()
    if "video" in kinds:
        seeds += _video_seeds()
    if "layered" in kinds:
        seeds += _layered_seeds(wdir)
    return seeds


def model_ids(wdir: Path) -> list[tuple[str, bytes]]:
    """(id, digest) of every model in the folder: header mutations switch a file to another model."""
    from gcodec.codec.model_store import load_card
    from gcodec.codec.registry import ModelRef

    cards = [(p, load_card(p)) for p in sorted(wdir.glob("*.safetensors"))]
    return [(ref.name, ref.digest) for ref in (ModelRef(card.get("name", p.stem), p, card) for p, card in cards)]


# ---------------------------------------------------------------- the oracle

# A header may claim up to 2**28 pixels a frame and 65536 frames; a mutant claiming a big output
# can still be valid (e.g. latents cut to nothing read as symbol 0, which ANS codes in 0 bits), and
# synthesizing it would take minutes and gigabytes. Above this many output pixels (all frames) the
# oracle runs every check of decoding but not the synthesis (generator, NeRV rendering).
RENDER_MAX_PIXELS = 1 << 20


def validate_only(data: bytes, codec: Codec) -> None:
    """Everything decoding checks (container, model, every section), without the synthesis."""
    from gcodec.bitstream.errors import FormatError
    from gcodec.codec import gc_codec, labelmap_codec, sc_codec
    from gcodec.codec.layered import base, codec as layered
    from gcodec.codec.registry import resolve_model
    from gcodec.codec.video_decode import decoder_model

    c, _ = split_planes(unpack(data))  # the source planes decoded and checked
    if c.kind == PayloadKind.VIDEO:
        decoder_model(c, torch.device("cpu"))  # every section parsed, weights built
    elif c.kind == PayloadKind.LABEL_MAP:
        labelmap_codec.decompress(c)  # the walk is the check
    elif c.kind == PayloadKind.SC_IMAGE:
        sc_codec.decode_parts(codec.sc(resolve_model(c.model_id, kind="sc")), c)
    elif c.kind == PayloadKind.LAYERED_IMAGE:
        p, _ = layered.parse(codec.layered(resolve_model(c.model_id, kind="layered")), c)
        base.decode_base_small(p.base, *c.size, p.scale)
    else:
        gc = codec.gc(resolve_model(c.model_id, kind="gc"))
        if (c.model_id, c.model_digest) != (gc.ref.name, gc.ref.digest):  # as gc_codec.decompress
            raise FormatError("file was written by another model")
        gc_codec.decode_latents(gc, c)


def decode_any(data: bytes, codec: Codec) -> np.ndarray:
    """Decode a file of any kind on the CPU and check the output's shape against its header."""
    from gcodec.codec.video_codec import decompress_video

    if peek_kind(data) == PayloadKind.VIDEO:
        out, _ = decompress_video(data, "cpu")
    else:
        _, out = codec.decode(data)
    c = unpack(data)
    planes = split_planes(c)[1]
    channels = (1 if planes.gray else 3) + (planes.alpha is not None)  # 3 for videos (no planes)
    want = c.size if c.kind == PayloadKind.LABEL_MAP or channels == 1 else (*c.size, channels)
    if out.shape != tuple(want) or out.dtype != np.uint8:
        raise AssertionError(f"decoded {out.dtype} {out.shape}, header says {want}")
    return out


def claimed_pixels(data: bytes) -> int:
    """Output pixels the header claims (all frames); 0 when the container does not parse."""
    try:
        return int(np.prod(unpack(data).size, dtype=np.int64))
    except GcodecError:
        return 0


def allowed_seconds(data: bytes, limit: float = 1.0) -> float:
    """CPU seconds a case may take: `limit`, plus 4 s per 2**28 pixels the header claims (a label
    map at the limit walks 2**28 pixels; the other kinds' checks cost far less), plus for layered
    images 8 s per 2**26 pixels up to VVC's largest picture: a base whose parameter sets are
    implied is decoded at the size the header claims, as a genuine file of that size would be."""
    pixels = claimed_pixels(data)
    layered = pixels and peek_kind(data) == PayloadKind.LAYERED_IMAGE
    return limit + 4.0 * pixels / 2**28 + (8.0 * min(pixels, MAX_LUMA_SAMPLES) / 2**26 if layered else 0.0)


@dataclass(frozen=True)
class Outcome:
    result: str  # "decoded", "validated" (a big claimed output: checks only), a GcodecError name, "crash"
    seconds: float  # CPU seconds, this process and the subprocesses it waited for (ffmpeg)
    error: BaseException | None = None


def _cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def run_case(data: bytes, codec: Codec, render_max_pixels: int = RENDER_MAX_PIXELS) -> Outcome:
    """Decode `data` (or only validate it when it claims a big output); any exception that is not
    a GcodecError is a crash."""
    start = _cpu()
    try:
        if claimed_pixels(data) > render_max_pixels:
            validate_only(data, codec)
            result, err = "validated", None
        else:
            decode_any(data, codec)
            result, err = "decoded", None
    except GcodecError as e:
        result, err = type(e).__name__, e
    except Exception as e:  # noqa: BLE001 (anything else is what the fuzzer hunts)
        result, err = "crash", e
    return Outcome(result, _cpu() - start, err)


def peak_rss_mb() -> float:
    """Peak resident memory of this process and of its largest waited-for child (ffmpeg), MB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, child) / 1024
