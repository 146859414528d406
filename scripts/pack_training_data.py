"""Pack the shared training data small enough to travel to a rented GPU (< 64 MiB).

    python scripts/pack_training_data.py ../shared/data .gpu_data

Writes OUT/gc/*.jpg (the 675 training photos, long side <= 560 px, JPEG q85) and
OUT/camvid/{train,val}/{images,labels} (CamVid images re-encoded at JPEG q85,
label PNGs copied unchanged). The shipped GC/SC/segmentation models were trained
on exactly this pack; their model cards say so.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from PIL import Image
from tqdm import tqdm

LONG_SIDE = 560
QUALITY = 85


def main(shared: str, out: str) -> None:
    src, dst = Path(shared), Path(out)
    (dst / "gc").mkdir(parents=True, exist_ok=True)
    for f in tqdm(sorted((src / "images/train").iterdir()), desc="photos"):
        im = Image.open(f).convert("RGB")
        scale = min(1.0, LONG_SIDE / max(im.size))
        if scale < 1:
            im = im.resize((round(im.width * scale), round(im.height * scale)), Image.LANCZOS)
        im.save(dst / "gc" / (f.stem + ".jpg"), quality=QUALITY)
    for split in ("train", "val"):
        for part in ("images", "labels"):
            (dst / "camvid" / split / part).mkdir(parents=True, exist_ok=True)
        for f in tqdm(sorted((src / "camvid" / split / "images").iterdir()), desc=f"camvid {split}"):
            Image.open(f).save(dst / "camvid" / split / "images" / f.name, quality=QUALITY)
        for f in sorted((src / "camvid" / split / "labels").iterdir()):
            shutil.copyfile(f, dst / "camvid" / split / "labels" / f.name)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
