"""Reading and writing videos as uint8 (T, H, W, 3) arrays.

Containers (mp4, mkv, avi, y4m, ...) go through the ffmpeg binary shipped in the
imageio-ffmpeg wheel, run with `-xerror` so any decode error aborts; a folder of
images is read with PIL in name order. Every unreadable, corrupted or truncated
input becomes a one-line InputError.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import numpy as np
from PIL import Image

from ..bitstream.errors import InputError
from .ffmpeg import ffmpeg_exe
from .image_io import IMAGE_SUFFIXES, temp_beside, write_atomic
from .temp_outputs import publish, temporary

VIDEO_SUFFIXES = frozenset({".mp4", ".mkv", ".avi", ".y4m", ".mov", ".webm", ".m4v"})
MAX_VIDEO_BYTES = 8 << 30  # raw RGB frames held in memory


def is_video_path(path: str) -> bool:
    """A video file by suffix, or a folder holding image frames."""
    p = Path(path)
    if p.suffix.lower() in VIDEO_SUFFIXES:
        return True
    return p.is_dir() and any(f.suffix.lower() in IMAGE_SUFFIXES for f in p.iterdir())


def parse_size(text: str) -> tuple[int, int]:
    """'WxH' -> (W, H), both even is not required; InputError if malformed."""
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text or "")
    if not m or int(m.group(1)) < 1 or int(m.group(2)) < 1:
        raise InputError(f"--resize expects WxH with positive integers, got {text!r}")
    return int(m.group(1)), int(m.group(2))


def _ffmpeg_error(stderr: bytes) -> str:
    """ffmpeg's last message line (the one that says what failed)."""
    lines = [ln.strip() for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    return lines[-1] if lines else "unknown ffmpeg error"


def probe(path: str) -> tuple[int, int, float]:
    """(width, height, fps) of a video file; InputError if ffmpeg cannot open it."""
    proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", path], capture_output=True)
    text = proc.stderr.decode("utf-8", "replace")
    m = re.search(r"Stream #\S+.*?: Video: .*?(\d{2,5})x(\d{2,5})", text)
    if not m:
        if "moov atom not found" in text or "Invalid data" in text or "End of file" in text:
            raise InputError(f"{path}: not a readable video (corrupted or truncated: {_ffmpeg_error(proc.stderr)})")
        raise InputError(f"{path}: not a readable video ({_ffmpeg_error(proc.stderr)})")
    fps_m = re.search(r"([\d.]+) fps", text) or re.search(r"([\d.]+) tbr", text)
    fps = float(fps_m.group(1)) if fps_m else 25.0
    return int(m.group(1)), int(m.group(2)), fps


def _read_folder(path: Path, max_frames: int | None, resize: tuple[int, int] | None) -> np.ndarray:
    files = sorted(f for f in path.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
    if max_frames:
        files = files[:max_frames]
    frames = []
    for f in files:
        try:
            with Image.open(f) as im:
                im = im.convert("RGB")
                if resize:
                    im = im.resize(resize, Image.LANCZOS)
                frames.append(np.asarray(im))
        except (OSError, ValueError, SyntaxError) as e:
            raise InputError(f"{f}: not a readable image ({e.__class__.__name__})") from None
        if frames[-1].shape != frames[0].shape:
            raise InputError(f"{f}: size {frames[-1].shape[1]}x{frames[-1].shape[0]} differs from the first frame's")
    return np.stack(frames)


def read_video(path: str, max_frames: int | None = None, resize: tuple[int, int] | None = None) -> tuple[np.ndarray, float]:
    """uint8 frames (T, H, W, 3) and fps; resize=(W, H) scales with Lanczos."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{path}: no such file or folder")
    if max_frames is not None and max_frames < 1:
        raise InputError(f"--max-frames must be >= 1, got {max_frames}")
    if p.is_dir():
        if not is_video_path(path):
            raise InputError(f"{path}: folder holds no image frames")
        return _read_folder(p, max_frames, resize), 25.0
    w, h, fps = probe(path)
    if resize:
        w, h = resize
    args = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-xerror", "-i", path, "-an"]
    if max_frames:
        args += ["-frames:v", str(max_frames)]
    if resize:
        args += ["-vf", f"scale={w}:{h}:flags=lanczos"]
    args += ["-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:"]
    proc = subprocess.run(args, capture_output=True)
    frame_bytes = w * h * 3
    if proc.returncode != 0 or proc.stderr.strip():
        raise InputError(f"{path}: corrupted or truncated video ({_ffmpeg_error(proc.stderr)})")
    if len(proc.stdout) == 0 or len(proc.stdout) % frame_bytes:
        raise InputError(f"{path}: video decoded to {len(proc.stdout)} bytes, not whole {w}x{h} frames")
    frames = np.frombuffer(proc.stdout, np.uint8).reshape(-1, h, w, 3).copy()  # writable
    return frames, fps


def _move_frames(tmp: Path, out: Path) -> None:
    """A finished frames folder into place: renamed when `out` is new, else its files moved in (--force)."""
    if not out.exists():
        os.replace(tmp, out)
        return
    for f in sorted(tmp.iterdir()):
        os.replace(f, out / f.name)
    tmp.rmdir()


def write_video(frames: np.ndarray, fps: float, out_path: str, force: bool = False) -> None:
    """mp4/mkv/avi (x264, CRF 10, yuv444p when a side is odd), .y4m (raw), else a folder of PNGs."""
    frames = np.ascontiguousarray(frames, dtype=np.uint8)
    _, h, w, _ = frames.shape
    out = Path(out_path)
    suffix = out.suffix.lower()
    if suffix not in VIDEO_SUFFIXES:
        if out.exists() and not force and any(out.iterdir() if out.is_dir() else [out]):
            raise InputError(f"{out_path} exists (use --force to overwrite)")
        if not out.parent.is_dir():
            raise InputError(f"{out_path}: folder {out.parent} does not exist")
        with temporary(lambda: temp_beside(out, folder=True)) as tmp:  # frames appear all at once, or not at all
            for i, f in enumerate(frames):
                Image.fromarray(f).save(Path(tmp) / f"frame_{i:05d}.png")
            publish(tmp, lambda: _move_frames(Path(tmp), out))
        return
    if out.exists() and not force:
        raise InputError(f"{out_path} exists (use --force to overwrite)")
    if not out.parent.is_dir():
        raise InputError(f"{out_path}: folder {out.parent} does not exist")
    if suffix == ".y4m":
        codec = ["-pix_fmt", "yuv444p", "-strict", "-1"]
    elif suffix == ".webm":
        codec = ["-c:v", "libvpx-vp9", "-lossless", "1"]
    else:
        even = h % 2 == 0 and w % 2 == 0
        codec = ["-c:v", "libx264", "-preset", "medium", "-crf", "10",
                 "-pix_fmt", "yuv420p" if even else "yuv444p"]
    with temporary(lambda: temp_beside(out, folder=True)) as tmp:
        tmp_out = Path(tmp) / ("out" + suffix)
        args = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
                "-s", f"{w}x{h}", "-r", f"{fps:.6g}", "-i", "pipe:", *codec, str(tmp_out)]
        proc = subprocess.run(args, input=frames.tobytes(), capture_output=True)
        if proc.returncode != 0:
            raise InputError(f"{out_path}: ffmpeg could not write the video ({_ffmpeg_error(proc.stderr)})")
        write_atomic(str(out), tmp_out.read_bytes(), force=True)
