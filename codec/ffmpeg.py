"""The ffmpeg binary bundled in the imageio-ffmpeg wheel: one picture in, one stream out, and back.

The layered codec's VVC base (codec/layered/base.py), video I/O (codec/video_io.py) and the
classical baselines of the evaluation harness (codec/eval/classical.py) all run ffmpeg
through here.

Colour: RGB -> Y'CbCr BT.601 limited range (what decoders assume for untagged streams) and
back with the same matrix, both by ffmpeg's swscale with accurate rounding. Every encoder
runs on one thread so timings are comparable and the shared CPU is not flooded.
"""

from __future__ import annotations

import functools
import re
import subprocess

import numpy as np

SWS_FLAGS = "lanczos+accurate_rnd+full_chroma_int"
VVC_PIX_FMT = "yuv420p10le"  # the only pixel format libvvenc in this ffmpeg accepts


@functools.lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """The ffmpeg binary bundled in the imageio-ffmpeg wheel."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


@functools.lru_cache(maxsize=2)
def _ffmpeg_list(kind: str) -> frozenset[str]:
    """Names from `ffmpeg -encoders` or `-decoders` (kind), e.g. {'libx265', 'hevc', ...}."""
    out = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", f"-{kind}"], capture_output=True, text=True, check=True
    ).stdout
    names = set()
    for line in out.splitlines():
        m = re.match(r"^\s*[VAS][A-Z.]{5}\s+(\S+)\s", line)
        if m:
            names.add(m.group(1))
    return frozenset(names)


def ffmpeg_has_encoder(name: str) -> bool:
    return name in _ffmpeg_list("encoders")


def ffmpeg_has_decoder(name: str) -> bool:
    return name in _ffmpeg_list("decoders")


def run_ffmpeg(args: list[str], stdin: bytes) -> bytes:
    proc = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", *args],
        input=stdin,
        capture_output=True,
    )
    if proc.returncode != 0:
        tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
        raise RuntimeError(f"ffmpeg failed ({proc.returncode}): {' | '.join(tail)}")
    return proc.stdout


def _parse_ppm(data: bytes) -> np.ndarray:
    """Parse one binary PPM (P6, maxval 255) as written by ffmpeg's ppm encoder."""
    m = re.match(rb"P6\s+(\d+)\s+(\d+)\s+(\d+)\s", data)
    if m is None or int(m.group(3)) != 255:
        raise RuntimeError("ffmpeg did not return an 8-bit PPM image")
    w, h = int(m.group(1)), int(m.group(2))
    pix = np.frombuffer(data, dtype=np.uint8, count=h * w * 3, offset=m.end())
    return pix.reshape(h, w, 3).copy()


def pad_edge(image: np.ndarray, multiple: int) -> tuple[np.ndarray, int, int]:
    """`image` edge-padded to multiples of `multiple`, and the rows and columns added."""
    h, w = image.shape[:2]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        image = np.pad(image, ((0, ph), (0, pw), (0, 0)), mode="edge")
    return image, ph, pw


def encode_picture(image: np.ndarray, pix_fmt: str, codec_args: list[str], muxer: str) -> bytes:
    """One uint8 RGB picture coded in `pix_fmt` by `codec_args`, as the raw stream of `muxer`."""
    h, w = image.shape[:2]
    vf = f"scale=flags={SWS_FLAGS}:out_color_matrix=bt601:out_range=tv,format={pix_fmt}"
    return run_ffmpeg(
        ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-i", "pipe:0",
         "-vf", vf, "-frames:v", "1", *codec_args, "-threads", "1", "-f", muxer, "pipe:1"],
        image.tobytes(),
    )


def decode_picture(data: bytes, demuxer: str, decoder: str | None = None) -> np.ndarray:
    """The first picture of a `demuxer` stream as uint8 RGB; RuntimeError if ffmpeg fails."""
    vf = f"scale=flags={SWS_FLAGS}:in_color_matrix=bt601:in_range=tv,format=rgb24"
    dec = ["-c:v", decoder] if decoder else []
    out = run_ffmpeg(
        ["-f", demuxer, *dec, "-i", "pipe:0", "-frames:v", "1", "-vf", vf,
         "-f", "image2pipe", "-c:v", "ppm", "pipe:1"],
        data,
    )
    return _parse_ppm(out)
