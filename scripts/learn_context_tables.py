"""Learn context-model tables for shipped GC or SC models and write NEW weights files with them.

For each model: encode every training photo (shrunk to --max-side on the long side;
an SC model reads a CamVid-layout folder, each photo with its label map),
count (context, symbol) pairs, freeze them into integer tables
(gcodec.bitstream.context_model), and write OUT/NAME.safetensors + NAME.json: the
original tensors and card plus `entropy.context_tables` and a "context_model" card entry.
The shipped files are never touched.

Usage: python scripts/learn_context_tables.py --out /work/results/ctx_weights \
           [--models gc-c3 gc-c6 gc-c10] [--train ../shared/data/images/train]
       python scripts/learn_context_tables.py --out /work/results/ctx_weights \
           --models sc-camvid-c6 --train ../shared/data/camvid/train
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import torch

from gcodec.codec.context_tables import learn_context_tables, write_with_context_tables
from gcodec.codec.gc_codec import load_gc
from gcodec.codec.sc_codec import load_sc
from gcodec.codec.registry import resolve_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="folder for the new weights files")
    ap.add_argument("--models", nargs="+", default=["gc-c3", "gc-c6", "gc-c10"])
    ap.add_argument("--train", default="../shared/data/images/train",
                    help="training photos (SC models: a folder with images/ and labels/)")
    ap.add_argument("--data-note", default="", help="what the training folder holds, for the card")
    ap.add_argument("--max-side", type=int, default=768, help="shrink larger photos to this long side (0: never)")
    ap.add_argument("--prior-weight", type=float, default=8.0, help="pseudo-counts from the channel marginal")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cache", default=None, help="folder to keep/reuse the training latents (per weights sha256)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    out = Path(args.out)
    for name in args.models:
        ref = resolve_model(name)
        if ref.kind not in ("gc", "sc"):
            raise SystemExit(f"{name} is a {ref.kind} model; context tables are for gc and sc models")
        model = (load_sc if ref.kind == "sc" else load_gc)(ref, torch.device("cpu"))
        tables, info = learn_context_tables(model, args.train, args.max_side, args.prior_weight, cache_dir=args.cache)
        card = {"data": args.data_note or str(Path(args.train).resolve()), "command": command,
                "learned_from": f"{ref.path.name} (sha256 {ref.card.get('sha256', '?')[:16]}...)", **info}
        written = write_with_context_tables(ref, tables, out / ref.path.name, card)
        print(f"{name}: {info['images']} images, {info['symbols']} symbols; training bits/symbol "
              f"static {info['train_bits_per_symbol_static']} -> context {info['train_bits_per_symbol_context']}; "
              f"wrote {out / ref.path.name} ({written['bytes']} bytes)", flush=True)


if __name__ == "__main__":
    main()
