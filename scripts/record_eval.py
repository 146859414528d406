"""Record shipped models' eval-set means in their model cards: each GC model's from
`gcodec eval --out FILE`, or an SC model's no-synthesis row from `gcodec eval-sc` (eval_sc.json).
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
from gcodec.codec.registry import resolve_model


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
        for point in entry["curve"]:
            ref = resolve_model(point["setting"], kind="gc")
            card = load_card(ref.path)
            card["eval"] = {"bpp": point["bpp"], "psnr": point["psnr"], "ms_ssim": point["ms_ssim"],
                            "texture_retention": point.get("texture_retention"), "images": n_images,
                            "command": args.command}
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


if __name__ == "__main__":
    main()
