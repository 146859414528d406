"""`gcodec eval-video`: gcodec's video methods vs x264/x265 at matched bpp."""

from __future__ import annotations

from pathlib import Path

import click

from ..bitstream.errors import InputError
from .main import cli


@cli.command("eval-video")
@click.option("--data", "videos", multiple=True, required=True, help="video file or frames folder (repeatable)")
@click.option("--bpp", "bpps", default="0.03,0.1", show_default=True, help="comma-separated target bpps")
@click.option("--methods", default="supermask,dense,sparse", show_default=True,
              help="comma-separated: supermask, supermask-masked (the paper's masked RGB head), dense, sparse, "
                   "auto (the default encoder's choice)")
@click.option("--time-budget", type=float, default=None, help="seconds per encode (equal for all methods)")
@click.option("--epochs", type=float, default=None, help="training epochs per encode (instead of --time-budget)")
@click.option("--max-frames", type=int, default=None)
@click.option("--resize", default=None, help="WxH applied to every video")
@click.option("--device", default="auto", show_default=True)
@click.option("--anchors", default="x264,x265", show_default=True, help="classical anchors, or 'none'")
@click.option("--out", "out_dir", default="eval-video", show_default=True, help="folder for results.json and rd.png")
@click.option("--threads", type=int, default=None, help="torch CPU threads")
@click.option("--quiet", is_flag=True, help="no progress bars")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=1, show_default=True,
              help="seed of the random weights and the training order (for run-to-run spread)")
def eval_video_cmd(videos: tuple[str, ...], bpps: str, methods: str, time_budget: float | None,
                   epochs: float | None, max_frames: int | None, resize: str | None, device: str,
                   anchors: str, out_dir: str, threads: int | None, quiet: bool, seed: int) -> None:
    """Encode each video with supermask, dense and sparse at the given bpps and compare with x264/x265."""
    import torch

    from ..codec.eval.video import (check_methods, evaluate_video, markdown_table, parse_anchors, plot_video_rd,
                                    write_json)
    from ..codec.video_io import parse_size

    try:
        targets = [float(b) for b in bpps.split(",") if b.strip()]
    except ValueError:
        raise InputError(f"--bpp expects comma-separated numbers, got {bpps!r}") from None
    if not targets or any(b <= 0 for b in targets):
        raise InputError("--bpp needs positive values")
    method_list = [m.strip() for m in methods.split(",") if m.strip()]
    check_methods(method_list)
    anchor_list = parse_anchors(anchors)
    if threads is not None and threads < 1:
        raise InputError(f"--threads must be >= 1, got {threads}")
    if time_budget is None and epochs is None:
        time_budget = 60.0
    if threads:
        torch.set_num_threads(threads)
    size = parse_size(resize) if resize else None
    results = []
    out = Path(out_dir)
    for v in videos:
        results.append(evaluate_video(v, targets, method_list, time_budget, epochs, max_frames, size, device,
                                      anchor_list, not quiet,
                                      log=lambda s: click.echo(s, err=True), seed=seed))
        write_json(results, out / "results.json")  # after every video: a long run keeps partial results
    plot_video_rd(results, out / "rd.png")
    table = markdown_table(results)
    (out / "table.md").write_text(table + "\n")
    click.echo(table)
    click.echo(f"wrote {out / 'results.json'} and {out / 'rd.png'}")
