"""`gcodec info` (what a file holds) and `gcodec models` (what is shipped)."""

from __future__ import annotations

import json

import click

from ..bitstream.errors import GcodecError
from .main import cli


@cli.command()
@click.argument("file")
@click.option("--json", "as_json", is_flag=True)
def info(file: str, as_json: bool) -> None:
    """Show what a .gcodec file holds."""
    from ..codec.api import describe
    from ..codec.image_io import read_bytes

    try:
        d = describe(read_bytes(file))
    except GcodecError as e:
        raise type(e)(str(e) if str(e).startswith(file) else f"{file}: {e}") from None
    if as_json:
        click.echo(json.dumps(d))
        return
    size = "x".join(str(v) for v in reversed(d["size"][-2:])) + (f", {d['size'][0]} frames" if len(d["size"]) == 3 else "")
    click.echo(f"{file}: {d['kind']}, {size}, {d['bytes']} bytes, {d['bpp']:.4f} bpp")
    if d["model"]:
        click.echo(f"  model   {d['model']} ({d['model_digest']})")
    click.echo(f"  header  {d['header_bytes']} bytes")
    names = d.get("section_names", {})
    for tag, n in d["section_bytes"].items():
        grid = f" (on a {d['map_tolerance']}-px grid)" if names.get(tag) == "map" and "map_tolerance" in d else ""
        click.echo(f"  {names[tag]:<7} {n} bytes{grid}" if tag in names else f"  section {tag}: {n} bytes")
    if "video" in d:
        v = d["video"]
        click.echo(f"  video   {v['frames']} frames at {v['fps']:.3g} fps, method {v['method']}, "
                   f"{v['network']['weights']} weights" + (f", seed {v['seed']}" if v.get("seed") is not None else "")
                   + (f", {v['head']} head" if v.get("head") else ""))
    if "layered" in d:
        ly = d["layered"]
        click.echo(f"  base    {ly['base_codec']}, QP {ly['qp']}, scale {ly['scale']}: {ly['base_bytes']} bytes"
                   + (f" (+{ly['base_bytes_implied']} of parameter sets rebuilt at decode)" if ly["base_bytes_implied"] else ""))
        click.echo(f"  latents {ly['latent_channels']} channels: {ly['latent_bytes']} bytes")
        if "band_gains" in ly:
            click.echo(f"  detail  band gains {', '.join(f'{g:g}' for g in ly['band_gains'])}, "
                       f"fine grain {ly['grain']:.3g} (code {ly['grain_code']})")
    if "fine_grain" in d:
        click.echo(f"  detail  fine grain {d['fine_grain']['gain']:.3g} (code {d['fine_grain']['code']}), "
                   "added up to the detail stage's default --realism")
    if "synthesized_class_ids" in d:
        synth = d.get("synthesized_classes") or d["synthesized_class_ids"]
        click.echo(f"  synthesized {', '.join(map(str, synth)) if synth else 'none'}; "
                   f"preserved boxes {d['preserved_boxes'] or 'none'}")


@cli.command()
@click.option("--json", "as_json", is_flag=True)
def models(as_json: bool) -> None:
    """List the shipped models with their measured rate and quality."""
    from ..codec.registry import DEFAULT_IMAGE_MODEL, shipped_models

    rows = []
    for m in shipped_models():
        v = m.card.get("validation", {})
        e = m.card.get("eval", {})
        rows.append({"name": m.name, "kind": m.kind, "default": m.name == DEFAULT_IMAGE_MODEL,
                     "mb": round(m.path.stat().st_size / 1e6, 1), "validation": v, "eval": e,
                     **({"base_codec": m.card.get("base_codec"), "default_realism": m.card.get("default_realism")}
                        if m.kind == "layered" else {}),
                     **({"gc_model": m.card.get("gc_model", {}).get("name")} if m.kind == "codegan" else {}),
                     **({"base_model": m.card.get("base_model"), "default_realism": m.card.get("default_realism")}
                        if m.kind == "detail" else {})})
    if as_json:
        click.echo(json.dumps(rows))
        return
    width = max([12] + [len(r["name"]) + 2 for r in rows])
    click.echo(f"{'name':<{width}} {'kind':<13} {'MB':>5}  measured")
    for r in rows:
        e, v = r["eval"], r["validation"]
        if r["kind"] == "detail":  # a stage has no rate of its own: it decodes its base model's files
            meas = f"--realism for {r['base_model']} files (default R {r['default_realism']:g})"
        elif e:
            meas = f"{e.get('label', 'eval set')}: {e['bpp']:.4f} bpp, PSNR {e['psnr']:.2f} dB, MS-SSIM {e['ms_ssim']:.4f}"
        elif "val_psnr" in v:
            meas = f"validation: {v.get('val_bpp_ideal', float('nan')):.4f} bpp, PSNR {v['val_psnr']:.2f} dB, MS-SSIM {v['val_msssim']:.4f}"
        elif "mIoU" in v:
            meas = f"validation: mIoU {100 * v['mIoU']:.2f}"
        elif r["kind"] == "codegan":  # a code sampler has no rate or quality of its own
            meas = f"samples codes for {r['gc_model']} (gcodec sample --source codegan)"
        else:
            meas = ""
        click.echo(f"{r['name'] + (' *' if r['default'] else ''):<{width}} {r['kind']:<13} {r['mb']:>5}  {meas}")
