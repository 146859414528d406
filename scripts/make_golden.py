"""Regenerate the golden files in tests/golden/ and their MANIFEST.json (issue 21, item 3).

    python scripts/make_golden.py                  # encode all four files again, then the manifest
    python scripts/make_golden.py --manifest-only  # keep the files; recompute the decoded hashes
    python scripts/make_golden.py --print          # print the decoded hashes of the committed files
    python scripts/make_golden.py --only NAME      # encode only this file (repeatable), keep the others

One small file per payload kind that the shipped models decode: a GC image (gc-c6), an SC
image (sc-camvid-c6, sky and tree synthesized; once with a lossless map, once with its map
on a 4-px grid), a label map, a video (supermask NeRV; it
carries its own weights), a layered image (the shipped `layered` model, decoded at its default R), and
a gc-c6 image of a grey source with an alpha plane (the source-planes section, tag 16).

Re-encoding reproduces the committed bytes on the machine that made them (every fit is seeded),
but another CPU or torch may write different ones; after an intended change to a decoder use
--manifest-only, and re-encode only when the format or a shipped model changes. Decoding is on the CPU with one torch thread, as tests/test_golden.py
does; --print in two fresh processes (and with --threads 2) is how bit-stability was checked.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.test_golden: the one decode the test and this script share

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from gcodec.bitstream.container import FORMAT_VERSION, PayloadKind, unpack  # noqa: E402
from tests.test_golden import GOLDEN, KIND_NAMES, TILE, decode_golden, output_sha256, tile_hashes  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"
GC_CROP = (slice(60, 108), slice(70, 134))  # photo_200x168.png rows, columns: 64x48
SC_CROP = (slice(80, 144), slice(192, 288))  # camvid_0016E5_07959: 96x64, sky/tree synthesized in 46% of cells
LABEL_CROP = (slice(120, 240), slice(160, 320))  # 160x120 of the same map, eleven classes


def _crop(c: tuple[slice, slice]) -> str:
    return f"[{c[0].start}:{c[0].stop}, {c[1].start}:{c[1].stop}]"
VIDEO = dict(method="supermask", bpp=0.5, epochs=60, seed=1)  # the 8-frame 64x48 fixture clip
LAYERED_CROP = (slice(40, 104), slice(40, 136))  # photo_200x168.png: 96x64
LAYERED = dict(scale=2, qp=40)


def _gc() -> bytes:
    from gcodec.codec import gc_codec
    from gcodec.codec.registry import resolve_model

    photo = np.asarray(Image.open(FIXTURES / "photo_200x168.png").convert("RGB"))
    gc = gc_codec.load_gc(resolve_model("gc-c6", kind="gc"), torch.device("cpu"))
    return gc_codec.compress(gc, np.ascontiguousarray(photo[GC_CROP]))


def _camvid() -> tuple[np.ndarray, np.ndarray]:
    image = np.asarray(Image.open(FIXTURES / "camvid_0016E5_07959.jpg").convert("RGB"))
    labels = np.asarray(Image.open(FIXTURES / "labelmap_camvid_0016E5_07959.png"))
    return image, labels


def _sc(map_tolerance: int = 0) -> bytes:
    from gcodec.codec import sc_codec, sc_selection
    from gcodec.codec.registry import resolve_model

    image, labels = _camvid()
    sc = sc_codec.load_sc(resolve_model("sc-camvid-c6", kind="sc"), torch.device("cpu"))
    ids = sc_selection.parse_classes("sky,tree", sc.class_names)
    return sc_codec.compress(sc, np.ascontiguousarray(image[SC_CROP]), np.ascontiguousarray(labels[SC_CROP]), ids,
                             map_tolerance=map_tolerance)


def _labelmap() -> bytes:
    from gcodec.codec import labelmap_codec

    return labelmap_codec.compress(np.ascontiguousarray(_camvid()[1][LABEL_CROP]))


def _video() -> bytes:
    from gcodec.codec.video_codec import VideoOptions, compress_video

    return compress_video(str(FIXTURES / "clip_carphone_64x48.mp4"), VideoOptions(progress=False, device="cpu", **VIDEO))


def _layered(model: str = "layered", implied: bool = False, grain: int | None = None) -> bytes:
    """`implied`: the base's VVC parameter sets left out, as encoders write since 2026-12-07;
    without it, the whole stream, as files written before. `grain`: a fine grain code (models with
    band gains; a byte encoders write since 2026-12-07), None: no grain byte, as files written before."""
    from gcodec.bitstream.container import pack
    from gcodec.bitstream.layered import SECTION, pack_payload, unpack_payload
    from gcodec.codec.layered import codec as layered_codec
    from gcodec.codec.registry import resolve_model

    photo = np.asarray(Image.open(FIXTURES / "photo_200x168.png").convert("RGB"))
    lm = layered_codec.load_layered(resolve_model(model, kind="layered"), torch.device("cpu"))
    c = unpack(layered_codec.compress_at(lm, np.ascontiguousarray(photo[LAYERED_CROP]), **LAYERED))
    p = replace(unpack_payload(c.section(SECTION), c.size), grain=grain)
    section = pack_payload(p, c.size, imply_parameter_sets=implied)
    return pack(replace(c, sections=((SECTION, section),)))


def _gc_planes() -> bytes:
    from gcodec.bitstream.planes import Planes
    from gcodec.codec.api import Codec
    from gcodec.codec.image_io import read_bytes, read_image

    # the grey + alpha fixture: a grey photo crop with a cut-out alpha plane (label-map coded)
    src = read_image(read_bytes(str(FIXTURES / "inputs" / "grey_alpha_binary.png")))
    return Codec(device=torch.device("cpu")).encode_image(src.rgb, "gc-c6", planes=Planes(src.gray, src.alpha))


FILES = {  # name -> (maker, how it was made)
    "gc-c6.gcodec": (_gc, f"gc-c6 (context tables) on tests/fixtures/photo_200x168.png{_crop(GC_CROP)}"),
    "sc-camvid-c6.gcodec": (_sc, f"sc-camvid-c6 on tests/fixtures/camvid_0016E5_07959.jpg{_crop(SC_CROP)} with "
                                 f"labelmap_camvid_0016E5_07959.png cropped the same; --synthesize sky,tree"),
    "sc-camvid-c6-grid4.gcodec": (lambda: _sc(4), "as sc-camvid-c6.gcodec, with --map-tolerance 4 (SC section 5)"),
    "labelmap.gcodec": (_labelmap, f"tests/fixtures/labelmap_camvid_0016E5_07959.png{_crop(LABEL_CROP)}"),
    "video.gcodec": (_video, f"tests/fixtures/clip_carphone_64x48.mp4, VideoOptions({VIDEO})"),
    "layered.gcodec": (_layered, f"layered (all latent channels) on tests/fixtures/photo_200x168.png"
                                 f"{_crop(LAYERED_CROP)}, {LAYERED}; decoded at the card's default R"),
    "layered-s.gcodec": (lambda: _layered("layered-s"), "as layered.gcodec with layered-s (band gains), decoded at "
                                                        "its default R"),
    "layered-s-implied.gcodec": (lambda: _layered("layered-s", implied=True),
                                 "as layered-s.gcodec with the base's VVC parameter sets left out (byte 1, bit 6)"),
    "layered-s-grain.gcodec": (lambda: _layered("layered-s", implied=True, grain=120),
                               "as layered-s-implied.gcodec with fine grain code 120 (byte 1, bit 5)"),
    "gc-c6-grey-alpha.gcodec": (_gc_planes, "gc-c6 on tests/fixtures/inputs/grey_alpha_binary.png (grey, binary "
                                            "alpha): the source-planes section, tag 16"),
}


def manifest_entry(name: str, how: str) -> dict:
    data = (GOLDEN / name).read_bytes()
    c = unpack(data)
    out = decode_golden(data)
    tiles = tile_hashes(out)
    return {
        "kind": KIND_NAMES[int(c.kind)], "payload_kind": int(c.kind), "format_version": data[3],
        "size": list(c.size), "model": c.model_id or None, "model_digest": c.model_digest.hex() if c.model_id else None,
        "bytes": len(data), "file_sha256": hashlib.sha256(data).hexdigest(),
        "made_by": f"python scripts/make_golden.py: {how}",
        "decoded": {"shape": list(out.shape), "dtype": str(out.dtype), "sha256": output_sha256(out),
                    # label maps decode with integers only: exact everywhere
                    "tolerance_tiles": 0 if c.kind == PayloadKind.LABEL_MAP else max(1, len(tiles.split()) // 50),
                    "tiles": tiles},
    }


def write_manifest() -> dict:
    manifest = {
        "about": "Golden files: each must decode to decoded.sha256 (SHA-256 of the C-order uint8 output; "
                 "video: all frames, T x H x W x 3). Checked by tests/test_golden.py; regenerated by "
                 "python scripts/make_golden.py (--manifest-only keeps the files).",
        "decode": "CPU, torch.set_num_threads(1), float32, torch " + torch.__version__ + " on x86-64 with AVX-512. "
                  "Bit-identical across fresh processes and with 1 and 2 threads, so the exact bytes are hashed. "
                  "Other instruction sets pick other float kernels and can move a rare value by 1 (measured: "
                  "oneDNN at AVX2, 1 of 18,432 SC values; at SSE4.1, 1 of 73,728 video values), so where "
                  "sha256 differs, at most tolerance_tiles of the " + str(TILE) + "x" + str(TILE) + " tile "
                  "hashes (per frame, raster order, first 8 hex digits) may differ.",
        "format_version": FORMAT_VERSION,
        "files": {name: manifest_entry(name, how) for name, (_, how) in FILES.items()},
    }
    (GOLDEN / "MANIFEST.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--manifest-only", action="store_true")
    ap.add_argument("--print", action="store_true", help="print the decoded hashes of the committed files")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--only", action="append", choices=sorted(FILES), help="encode only this file (repeatable)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    os.environ.pop("GCODEC_WEIGHTS", None)  # the shipped models, always
    if args.print:
        for name in FILES:
            print(name, output_sha256(decode_golden((GOLDEN / name).read_bytes())))
        return 0
    if not args.manifest_only:
        GOLDEN.mkdir(exist_ok=True)
        for name, (make, _) in FILES.items():
            if not args.only or name in args.only:
                (GOLDEN / name).write_bytes(make())
    for name, entry in write_manifest()["files"].items():
        print(f"{name}: {entry['bytes']} bytes, {entry['size']}, decoded {entry['decoded']['sha256'][:16]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
