"""Record each shipped GC model's eval-set means (from `gcodec eval --out FILE`) in its model card.

    python scripts/record_eval.py results.json --command "gcodec eval --data ... --out results.json"

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
    for name, entry in res["codecs"].items():
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


if __name__ == "__main__":
    main()
