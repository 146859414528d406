"""Rate-distortion evaluation: every codec at every setting on every image, as EVAL.md says.

`evaluate()` measures, per image and setting: whole-file bytes, bpp, RGB PSNR, MS-SSIM,
texture retention and encode/decode seconds; then averages them over the images into one
dataset curve per codec (mean bpp, PSNR, MS-SSIM, texture retention per setting). Classical
codecs come from `classical.CODECS`; gcodec's own models plug in through `extra_codecs`
(name -> object with `settings` and `run(image, setting)`, see `protocol.Codec`).

Run from the shell (one thread, a progress bar):
    python -m gcodec.codec.eval.images DIR_OR_IMAGES... --codecs avif,hevc,av1 --json out.json --plot out.png
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from ...bitstream.errors import GcodecError, InputError
from ..ffmpeg import ffmpeg_exe
from ..image_io import IMAGE_SUFFIXES
from . import classical
from .metrics import bpp, ms_ssim, ms_ssim_reason, psnr, texture_retention
from .protocol import Codec, as_output
from .report import format_table, json_safe, save_json

GCODEC_PREFIX = "gcodec:"


# ---------------------------------------------------------------- codec names


def parse_codec_spec(spec: str, extra_names: Iterable[str] = ()) -> list[str]:
    """Split "gcodec:gc-c4,avif,webp" into names; InputError for an unknown, unavailable or repeated name.

    Classical names must be in `classical.CODECS` and runnable here. `gcodec:<model>` names are
    accepted as written (the caller resolves the model and passes it in `extra_codecs`), and so
    is any name in `extra_names`.
    """
    extra = set(extra_names)
    names = [p.strip() for p in spec.split(",") if p.strip()]
    if not names:
        raise InputError(f"no codec names in {spec!r}")
    seen: set[str] = set()
    for n in names:
        if n in seen:
            raise InputError(f"codec {n!r} is listed twice")
        seen.add(n)
        if n in extra:
            continue
        if n.startswith(GCODEC_PREFIX):
            if not n[len(GCODEC_PREFIX):]:
                raise InputError(f"codec {n!r} names no model: write gcodec:MODEL, e.g. gcodec:gc-c4")
            continue
        reason = classical.unavailable_reason(n)  # raises InputError for unknown names
        if reason is not None:
            raise InputError(reason)
    return names


def _resolve_codecs(codecs: Sequence[str], extra_codecs: Mapping[str, Any] | None) -> dict[str, Any]:
    """Name -> codec object for every requested name, all checked before any work starts."""
    extra = dict(extra_codecs or {})
    for name, c in extra.items():
        if callable(c) and not hasattr(c, "run"):
            raise InputError(f"extra codec {name!r} must have .settings and .run(image, setting), not be a bare function")
        if not hasattr(c, "run") or not hasattr(c, "settings") or len(list(c.settings)) == 0:
            raise InputError(f"extra codec {name!r} needs a non-empty .settings list and a .run(image, setting) method")
    resolved: dict[str, Any] = {}
    for name in codecs:
        if name in resolved:
            raise InputError(f"codec {name!r} is listed twice")
        if name in extra:
            resolved[name] = extra[name]
        elif name.startswith(GCODEC_PREFIX):
            raise InputError(f"codec {name!r} was requested but no model was passed for it in extra_codecs")
        else:
            resolved[name] = classical.get_codec(name)
    if not resolved:
        raise InputError("no codecs to evaluate")
    return resolved


# ---------------------------------------------------------------- images


def list_images(paths: Iterable[Path | str]) -> list[Path]:
    """Files as given, directories expanded to their image files (sorted by name)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(q for q in p.iterdir() if q.suffix.lower() in IMAGE_SUFFIXES))
        elif p.is_file():
            out.append(p)
        else:
            raise InputError(f"{p}: no such file or directory")
    if not out:
        raise InputError("no images to evaluate")
    return out


def load_rgb(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as im:
            return np.ascontiguousarray(np.asarray(im.convert("RGB"), dtype=np.uint8))
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise InputError(f"{path}: not a readable image ({e.__class__.__name__})") from None


# ---------------------------------------------------------------- evaluation


def _mean(values: Sequence[float | None]) -> float | None:
    """Mean over the finite-or-inf values (None/nan skipped); None when there are none."""
    xs = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return float(np.mean(xs)) if xs else None


def _codec_info(name: str, codec: Any) -> dict[str, Any]:
    if isinstance(codec, classical.ClassicalCodec):
        return {"kind": "classical", "setting_name": codec.setting_name, "counted": codec.counted}
    return {
        "kind": "extra",
        "setting_name": getattr(codec, "setting_name", "setting"),
        "counted": getattr(codec, "counted", "bytes returned by the codec's run()"),
    }


def _measure(codec: Any, name: str, image: np.ndarray, setting: Any) -> dict[str, Any]:
    h, w = image.shape[:2]
    t0 = time.perf_counter()
    out = as_output(codec.run(image, setting), name)
    total = time.perf_counter() - t0
    if out.decoded.shape != image.shape:
        raise InputError(f"codec {name!r} at setting {setting!r} decoded shape {out.decoded.shape}, expected {image.shape}")
    with np.errstate(all="ignore"):
        ms = ms_ssim(out.decoded, image) if ms_ssim_reason(h, w) is None else math.nan
    return {
        "bytes": int(out.num_bytes),
        "bpp": bpp(out.num_bytes, h, w),
        "psnr": psnr(out.decoded, image),
        "ms_ssim": ms,
        "texture_retention": texture_retention(out.decoded, image),
        "encode_s": out.encode_s,
        "decode_s": out.decode_s,
        "seconds": total,
    }


def _curve(settings: Sequence[Any], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    curve = []
    for s in settings:
        rs = [r for r in rows if r["setting"] == s]
        curve.append({
            "setting": s,
            "n": len(rs),
            "n_ms_ssim": sum(1 for r in rs if r["ms_ssim"] is not None and not math.isnan(r["ms_ssim"])),
            **{k: _mean([r[k] for r in rs]) for k in
               ("bpp", "bytes", "psnr", "ms_ssim", "texture_retention", "encode_s", "decode_s", "seconds")},
        })
    return curve


def _run_key(path: Path, codec: str, setting: Any) -> str:
    return json.dumps([str(Path(path).resolve()), codec, json_safe(setting)])


def _load_resume(path: Path) -> dict[str, dict[str, Any]]:
    """Finished runs from a resume file; a last line cut off by a kill is ignored."""
    done: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return done
    for line in path.read_text().splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        row = rec["row"]
        for k in ("psnr", "ms_ssim", "texture_retention"):
            v = row.get(k)
            row[k] = math.nan if v is None else float(v)  # back from JSON's null / "inf"
        done[rec["key"]] = row
    return done


def _versions() -> dict[str, str]:
    import PIL

    v = {"python": platform.python_version(), "pillow": PIL.__version__, "numpy": np.__version__}
    try:
        import subprocess

        first = subprocess.run([ffmpeg_exe(), "-hide_banner", "-version"],
                               capture_output=True, text=True).stdout.splitlines()
        v["ffmpeg"] = first[0] if first else "unknown"
    except (OSError, RuntimeError):
        v["ffmpeg"] = "not found"
    return v


def evaluate(
    images: list[Path],
    codecs: list[str],
    out_json: Path | None = None,
    plot: Path | None = None,
    extra_codecs: dict[str, Callable[..., Any] | Codec] | None = None,
    progress: bool = True,
    *,
    bpp_range: tuple[float, float] = (0.01, 0.2),
    resume: Path | None = None,
) -> dict[str, Any]:
    """Run every codec at every setting on every image; return (and optionally save) the results.

    With `progress`, shows a tqdm bar on stderr and prints `format_table(results, bpp_range)` at the end.

    Result layout: {"meta": {...}, "images": [{"name", "path", "height", "width"}],
    "codecs": {name: {"settings", "setting_name", "counted", "kind", "per_image": [row, ...],
    "curve": [point, ...]}}}. A row holds image, setting, bytes, bpp, psnr, ms_ssim,
    texture_retention, encode_s, decode_s (None when the codec cannot split them) and seconds
    (the whole run() call). A curve point holds the means of those over the images at one
    setting. MS-SSIM is nan for an image with a side < 161 px and left out of the mean.

    `resume`: a JSON-lines file that gets one line per finished (image, codec, setting) run;
    runs already in it are taken from it instead of being redone, so a long sweep that was
    killed goes on where it stopped. It keys runs by image path, codec name and setting only:
    delete it when a codec's definition changes.
    """
    resolved = _resolve_codecs(codecs, extra_codecs)  # all names checked before any work
    paths = [Path(p) for p in images]
    if not paths:
        raise InputError("no images to evaluate")
    arrays = [load_rgb(p) for p in paths]  # unreadable images fail here, before any coding
    settings = {n: list(c.settings) for n, c in resolved.items()}
    total = len(arrays) * sum(len(s) for s in settings.values())

    rows: dict[str, list[dict[str, Any]]] = {n: [] for n in resolved}
    done = _load_resume(Path(resume)) if resume is not None else {}
    n_resumed = 0
    t_start = time.time()
    bar = tqdm(total=total, desc="evaluate", unit="run", disable=not progress, file=sys.stderr)
    log = None
    if resume is not None:
        log = open(resume, "a")
        if log.tell() > 0 and not Path(resume).read_bytes().endswith(b"\n"):
            log.write("\n")  # end a line a kill cut short, so the next record starts clean
    try:
        for path, image in zip(paths, arrays):
            for name, codec in resolved.items():
                bar.set_postfix_str(f"{path.name} {name}", refresh=False)
                for s in settings[name]:
                    key = _run_key(path, name, s)
                    row = done.get(key)
                    if row is not None:
                        row = dict(row, setting=s)  # the caller's setting object, not its JSON form
                        n_resumed += 1
                    else:
                        row = {"image": path.name, "setting": s, **_measure(codec, name, image, s)}
                        if log is not None:
                            log.write(json.dumps({"key": key, "row": json_safe(row)}, allow_nan=False) + "\n")
                            log.flush()
                    rows[name].append(row)
                    bar.update(1)
    finally:
        bar.close()
        if log is not None:
            log.close()

    results: dict[str, Any] = {
        "meta": {
            "definition": "bpp = 8*bytes/(H*W) of the whole file; PSNR RGB 8-bit over all pixels; "
                          "MS-SSIM pytorch_msssim data_range=255; texture retention E(dec)/E(orig), "
                          "E = mean (gray - GaussianBlur1.5(gray))^2; curves are means over images (EVAL.md)",
            "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(t_start)),
            "seconds": time.time() - t_start,
            "resumed_runs": n_resumed,  # taken from the resume file; "seconds" covers only the rest
            "versions": _versions(),
        },
        "images": [{"name": p.name, "path": str(p), "height": a.shape[0], "width": a.shape[1]}
                   for p, a in zip(paths, arrays)],
        "codecs": {
            name: {**_codec_info(name, codec), "settings": settings[name], "per_image": rows[name],
                   "curve": _curve(settings[name], rows[name])}
            for name, codec in resolved.items()
        },
    }
    if out_json is not None:
        save_json(results, Path(out_json))
    if plot is not None:
        from .plots import plot_rd

        plot_rd(results, Path(plot))
    if progress:  # interactive runs end with the readable table; library callers use format_table
        print(format_table(results, bpp_range))
    return results


# ---------------------------------------------------------------- command line


def _main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m gcodec.codec.eval.images", description=__doc__.splitlines()[0])
    ap.add_argument("images", nargs="+", help="image files or directories of images")
    ap.add_argument("--codecs", default="jpeg,webp,avif,avif-ds2,avif-ds4,hevc,av1,vvc",
                    help="comma-separated classical codec names (see classical.CODECS)")
    ap.add_argument("--json", type=Path, default=None, help="write results here")
    ap.add_argument("--plot", type=Path, default=None, help="write the RD plot (PNG) here")
    ap.add_argument("--bpp-range", type=float, nargs=2, default=(0.01, 0.2), metavar=("LO", "HI"))
    ap.add_argument("--resume", type=Path, default=None,
                    help="JSON-lines file of finished runs: reused if present, appended to as runs finish")
    args = ap.parse_args(argv)
    try:
        import torch

        torch.set_num_threads(1)  # MS-SSIM is the only torch user here; the CPU is shared
        names = parse_codec_spec(args.codecs)
        res = evaluate(list_images(args.images), names, args.json, args.plot, bpp_range=tuple(args.bpp_range),
                       resume=args.resume)
    except GcodecError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"\n{len(res['images'])} images, {sum(len(e['per_image']) for e in res['codecs'].values())} runs "
          f"in {res['meta']['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
