"""`gcodec eval`: rate-distortion of gcodec models against classical codecs."""

from __future__ import annotations

from pathlib import Path

import click

from ..bitstream.errors import InputError
from .main import cli

DEFAULT_CODECS = "gcodec,jpeg,webp,avif,avif-ds2,avif-ds4,hevc,av1,vvc"


@cli.command("eval")
@click.option("--data", required=True, multiple=True, type=click.Path(exists=True),
              help="Folder of images (or image files); repeatable.")
@click.option("--codecs", default=DEFAULT_CODECS, show_default=True,
              help="Comma list: gcodec (all shipped GC models), gcodec:NAME[+NAME], layered[:NAME] (rate-controlled "
                   "layered images, one curve per --realism), and classical codecs.")
@click.option("--out", "out_json", default=None, type=click.Path(dir_okay=False), help="Write results as JSON.")
@click.option("--plot", default=None, type=click.Path(dir_okay=False), help="Write the RD plot (PNG).")
@click.option("--max-images", default=0, help="Use only the first N images (0: all).")
@click.option("--bpp-range", default="0.01,0.2", show_default=True, help="Rates shown in the printed table.")
@click.option("--settings", "n_settings", default=0,
              help="Keep each classical codec's N lowest-rate settings (0: all); for quick low-rate sweeps.")
@click.option("--device", default="auto", show_default=True)
@click.option("--half", is_flag=True, help="Decode gcodec models in reduced precision.")
@click.option("--realism", "realisms", default="0", show_default=True,
              help="Layered curves: comma-separated decode realism values R in [0, 1], one curve per R.")
@click.option("--gc-realism", "gc_realisms", default=None,
              help="GC curves: comma-separated R values or 'default' (each stage's own R), one curve per value "
                   "as NAME-R<r> (each model needs a detail stage; default: one curve at each model's default decode).")
@click.option("--targets", default="0.02,0.03,0.05,0.08", show_default=True,
              help="Layered curves: comma-separated --bpp targets (the settings).")
@click.option("--resume", default=None, type=click.Path(dir_okay=False),
              help="A JSON-lines file of finished runs: kept up to date, and runs already in it are not redone.")
@click.option("--refine", type=int, default=0, show_default=True, metavar="STEPS",
              help="Also run each gcodec curve with STEPS of latent refinement (as NAME-refineSTEPS).")
def eval_(data: tuple[str, ...], codecs: str, out_json: str | None, plot: str | None, max_images: int,
          bpp_range: str, n_settings: int, device: str, half: bool, realisms: str, gc_realisms: str | None, targets: str, resume: str | None,
          refine: int) -> None:
    """Measure bytes, bpp, PSNR, MS-SSIM, texture retention and seconds per image and setting."""
    from dataclasses import replace

    from ..codec.eval import classical
    from ..codec.eval.images import evaluate, list_images, parse_codec_spec
    from ..codec.device import pick_device
    from ..codec.eval.gc_curves import gcodec_codecs
    from ..codec.layered.codec import check_realism

    try:
        lo, hi = (float(v) for v in bpp_range.split(","))
    except ValueError:
        raise InputError(f"--bpp-range must be two numbers like 0.01,0.2, got {bpp_range!r}") from None
    from ..codec.eval.layered_curves import layered_codecs

    try:
        r_values = [float(v) for v in realisms.split(",")]
        # "default": each model's stage at its own default R (the R a plain decode uses)
        gc_values = [None if v.strip() == "default" else float(v) for v in gc_realisms.split(",")] if gc_realisms else []
        t_values = tuple(float(v) for v in targets.split(","))
    except ValueError:
        raise InputError(f"--realism, --gc-realism (also 'default') and --targets take comma-separated numbers, got {realisms!r}, "
                         f"{gc_realisms!r}, {targets!r}") from None
    if not all(t > 0 for t in t_values):
        raise InputError(f"--targets must be positive, got {targets!r}")
    layered_names = [p.strip() for p in codecs.split(",") if p.strip().startswith("layered:")]
    names = parse_codec_spec(codecs, extra_names=["gcodec", "layered", *layered_names])
    if refine < 0:
        raise InputError(f"--refine must be >= 0, got {refine}")
    for r in r_values + gc_values:
        if r is not None:
            check_realism(r)
    gc_curves = gcodec_codecs(names, pick_device(device), half, refine, gc_values or None)
    layered = layered_codecs(names, pick_device(device), r_values, t_values)
    extra: dict = {**gc_curves, **layered}
    # a gcodec or layered spec stands for its curves (per R; each gcodec curve right before its refined twin)
    names = [m for n in names for m in ([c for c in extra if c == n or c.startswith(n + "-")]
                                        if n.split(":")[0] in ("gcodec", "layered") else [n])]
    if n_settings < 0:
        raise InputError(f"--settings must be >= 0, got {n_settings}")
    if n_settings:
        for n in names:
            if n not in extra:  # classical: settings are listed lowest rate first
                c = classical.get_codec(n)
                extra[n] = replace(c, settings=tuple(c.settings[:n_settings]))
    images = list_images(data)
    if max_images > 0:
        images = images[:max_images]
    for p in (out_json, plot):
        if p and not Path(p).parent.is_dir():
            raise InputError(f"folder of {p} does not exist")
    evaluate(images, names, Path(out_json) if out_json else None, Path(plot) if plot else None,
             extra_codecs=extra, progress=True, bpp_range=(lo, hi),
             resume=Path(resume) if resume else None)
