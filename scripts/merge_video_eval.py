"""Merge `gcodec eval-video` runs into one table, one JSON and one RD plot.

    python scripts/merge_video_eval.py RUN_DIR... --plot docs/video_rd.png --json all.json

Each RUN_DIR holds a results.json. Runs of the same video at the same size and training
budget merge point by point, a later run's point (codec, target bpp) replacing an earlier
one's (e.g. a re-run with `--methods sparse --anchors none`); other budgets stay separate rows.
Videos need separate runs when they are resized differently, hence this script.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from gcodec.codec.eval.video import markdown_table, merge_results, plot_video_rd, write_json


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", help="eval-video output folders, in order of precedence (last wins)")
    ap.add_argument("--plot", required=True, help="RD plot to write (.png)")
    ap.add_argument("--json", default=None, help="merged results to write")
    args = ap.parse_args()
    runs = []
    for d in args.runs:
        path = Path(d) / "results.json"
        if not path.is_file():
            raise SystemExit(f"error: {path} not found")
        runs.append(json.loads(path.read_text()))
    results = merge_results(runs)
    plot_video_rd(results, Path(args.plot))
    if args.json:
        write_json(results, Path(args.json))
    print(markdown_table(results))


if __name__ == "__main__":
    main()
