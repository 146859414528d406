"""Record shipped models' eval-set means in their model cards: each GC model's from
`gcodec eval --out FILE` (its R = 0 curve; curves NAME-R<r> at other R go to the GC model's detail
stage, under "eval" keyed by R), or an SC model's no-synthesis row from `gcodec eval-sc`
(eval_sc.json; an eval-sc run at R > 0 also records its synthesis rows in the SC model's detail stage).
A layered model (curves `layered[:NAME]-R<r>`) gets every curve under "eval_curves" and, as its
"eval" line, the point at --bpp 0.05 and the card's default realism.

    python scripts/record_eval.py results.json --command "gcodec eval --data ... --out results.json"
    python scripts/record_eval.py results/sc/eval_sc.json --command "gcodec eval-sc --data ... -o results/sc"

Only the JSON card changes (an "eval" entry); the weights and their sha256 do not.
`gcodec models` and `gcodec encode --bpp` then use these measured numbers.
"""

from __future__ import annotations

import argparse
import json

from gcodec.codec.model_store import load_card, write_card
from gcodec.codec.registry import ModelRef, resolve_model
from gcodec.codec.stage.stage import stage_for


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("--command", required=True, help="the gcodec eval command that wrote RESULTS")
    args = ap.parse_args()
    res = json.load(open(args.results))
    n_images = len(res["images"])
    if "codecs" not in res:  # eval-sc: the SC model with every latent coded
        ref = resolve_model(res["model"], kind="sc")
        row = res["summary"]["none"]
        if res.get("realism"):
            keep = ("bpp", "psnr", "ms_ssim", "psnr_preserved", "texture_synth", "tile_repeat_synth",
                    "cell_edges_synth", "miou_vs_original", "miou_vs_original_synth")
            rows = {s: {k: res["summary"][s].get(k) for k in keep} for s in ("sky+tree+road", "box")}
            _record_stage(ref, f"{res['realism']:g}", {**rows, "label": f"{res['folder']}, synthesized settings"},
                          n_images, args.command)
        card = load_card(ref.path)
        card["eval"] = {"bpp": row["bpp"], "psnr": row["psnr"], "ms_ssim": row["ms_ssim"], "images": n_images,
                        "label": f"{res['folder']}, no synthesis", "command": args.command}
        write_card(ref.path, card)
        print(f"{ref.name}: {row['bpp']:.4f} bpp, PSNR {row['psnr']:.2f}, MS-SSIM {row['ms_ssim']:.4f}")
        return
    layered: dict[str, dict[str, list]] = {}
    for name, entry in res["codecs"].items():
        if name.startswith("layered"):
            model_spec, r = name.rsplit("-R", 1)
            layered.setdefault(model_spec, {})[r] = entry["curve"]
        if not name.startswith("gcodec"):
            continue
        realism = name.rsplit("-R", 1)[1] if "-R" in name else "0"
        for point in entry["curve"]:
            ref = resolve_model(point["setting"], kind="gc")
            values = {"bpp": point["bpp"], "psnr": point["psnr"], "ms_ssim": point["ms_ssim"],
                      "texture_retention": point.get("texture_retention")}
            if realism != "0":
                _record_stage(ref, realism, values, n_images, args.command)
                continue
            card = load_card(ref.path)
            card["eval"] = {**values, "images": n_images, "command": args.command}
            write_card(ref.path, card)
            print(f"{ref.name}: {point['bpp']:.4f} bpp, PSNR {point['psnr']:.2f}, MS-SSIM {point['ms_ssim']:.4f}")
    for spec, curves in layered.items():
        from gcodec.codec.registry import DEFAULT_IMAGE_MODEL

        ref = resolve_model(spec.split(":", 1)[1] if ":" in spec else DEFAULT_IMAGE_MODEL, kind="layered")
        card = load_card(ref.path)
        keep = ("setting", "bpp", "psnr", "ms_ssim", "texture_retention")
        card["eval_curves"] = {r: [{k: p.get(k) for k in keep} for p in c] for r, c in curves.items()}
        default = f"{card.get('default_realism', 0.0):g}"
        point = next((p for p in curves.get(default, []) if p["setting"] == 0.05), None)
        if point is not None:
            card["eval"] = {"bpp": point["bpp"], "psnr": point["psnr"], "ms_ssim": point["ms_ssim"],
                            "texture_retention": point.get("texture_retention"), "images": n_images,
                            "label": f"eval set, --bpp 0.05, R={default}", "command": args.command}
        card["eval_command"] = args.command
        write_card(ref.path, card)
        print(f"{ref.name}: curves at R = {', '.join(curves)}" + (f"; default R {default}" if point else ""))


def _record_stage(base: ModelRef, realism: str, values: dict, n_images: int, command: str) -> None:
    """The detail stage of `base`'s card gains eval[R<realism>] (R 'default': the stage's default R)."""
    stage = stage_for(base)
    if stage is None:
        raise SystemExit(f"{base.name} has no detail stage installed to record R = {realism} in")
    card = load_card(stage.path)
    entry = card.get("eval") if card.get("eval", {}).get("command") == command else None
    entry = entry or {"images": n_images, "command": command}
    entry[f"R{realism}"] = values
    card["eval"] = entry
    write_card(stage.path, card)
    print(f"{stage.name}: R = {realism} recorded")


if __name__ == "__main__":
    main()
