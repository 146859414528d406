"""`gcodec eval-sc`: an SC model in the paper's three selective-generation settings."""

from __future__ import annotations

from pathlib import Path

import click

from ..bitstream.errors import InputError
from .main import cli


@cli.command("eval-sc")
@click.option("--data", required=True, type=click.Path(exists=True, file_okay=False),
              help="CamVid-layout folder: images/ and labels/ (or a root holding val/).")
@click.option("--model", "-m", default="sc-camvid-c6-grid3", show_default=True, help="SC model.")
@click.option("--seg-model", default="seg-camvid", show_default=True, help="Segmentation network for mIoU.")
@click.option("--gc-model", default="gc-c6", show_default=True,
              help="GC model measured on the same pixels for reference ('none' to skip).")
@click.option("--box-fraction", default=0.5, show_default=True,
              help="The preserved box: centred, this fraction of each side.")
@click.option("--limit", type=int, default=None, help="Only the first N images.")
@click.option("--figure-image", default=None, help="Stem of the image shown in the figure (default: the first).")
@click.option("--out", "-o", default="results/sc", show_default=True, help="Folder for eval_sc.json and the figure.")
@click.option("--resume", is_flag=True, help="Keep per-image results under OUT/cache and reuse them on a rerun.")
@click.option("--device", default="auto", show_default=True)
@click.option("--threads", type=int, default=1, show_default=True, help="torch CPU threads.")
@click.option("--refine", type=int, default=0, show_default=True, metavar="STEPS",
              help="Encode SC and GC images with STEPS of latent refinement.")
@click.option("--map-tolerance", type=int, default=None, metavar="PX",
              help="Code the label map on a PX-pixel grid (0: lossless) [default: the model's].")
@click.option("--realism", type=float, default=None, metavar="R",
              help="Decode SC files at R with the model's detail stage (0: the generator's own decode) "
                   "[default: the stage's default R; 0 without a stage].")
def eval_sc(data: str, model: str, seg_model: str, gc_model: str, box_fraction: float, limit: int | None,
            figure_image: str | None, out: str, resume: bool, device: str, threads: int, refine: int,
            map_tolerance: int | None, realism: float | None) -> None:
    """bpp (map / latents), PSNR and MS-SSIM overall and on preserved pixels, and semantic
    preservation mIoU, for: no synthesis; sky+tree+road synthesized; one box preserved."""
    import torch

    from ..codec.eval.sc import camvid_pairs, evaluate_sc, format_table, write_figure, write_json
    from ..codec.device import pick_device
    from ..codec.gc_codec import load_gc
    from ..codec.layered.codec import check_realism
    from ..codec.registry import resolve_model
    from ..codec.api import Codec
    from ..codec.sc_codec import check_map_tolerance, load_sc
    from ..codec.segment import load_segmenter

    if threads < 1:
        raise InputError(f"--threads must be >= 1, got {threads}")
    if limit is not None and limit < 1:
        raise InputError(f"--limit must be >= 1, got {limit}")
    if refine < 0:
        raise InputError(f"--refine must be >= 0, got {refine}")
    if map_tolerance is not None:
        check_map_tolerance(map_tolerance)
    if realism is not None:
        check_realism(realism)
    if not 0 < box_fraction <= 1:
        raise InputError(f"--box-fraction must be in (0, 1], got {box_fraction}")
    torch.set_num_threads(threads)
    pairs = camvid_pairs(data)[:limit]
    if figure_image and figure_image not in {p.stem for p, _ in pairs}:
        raise InputError(f"--figure-image {figure_image}: no such image among the evaluated ones")
    dev = pick_device(device)
    sc = load_sc(resolve_model(model, kind="sc"), dev)
    detail = Codec(dev).detail(sc.ref, realism)  # R > 0 without a stage: one line now, not after the first image
    seg = load_segmenter(resolve_model(seg_model, kind="segmentation").path, dev)
    gc = None if gc_model == "none" else load_gc(resolve_model(gc_model, kind="gc"), dev)
    out_dir = Path(out)
    result = evaluate_sc(sc, seg, data, box_fraction, gc, limit, figure_image,
                         cache_dir=out_dir / "cache" if resume else None, refine_steps=refine,
                         map_tolerance=sc.default_map_tolerance if map_tolerance is None else map_tolerance,
                         detail=detail)
    click.echo(format_table(result))
    write_json(result, out_dir / "eval_sc.json")
    fig_path = out_dir / "sc_figure.png"
    write_figure(result["figure"], fig_path)
    click.echo(f"wrote {out_dir / 'eval_sc.json'} and {fig_path}")
