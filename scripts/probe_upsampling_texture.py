"""Does the generator's up-sampling decide whether synthesized texture comes out as a mosaic?

A toy of SC's synthesized regions: a generator whose input is constant (one class, no latents)
plus the same noise inputs as `--noise 4 --noise-up` (4 channels at 1/16, one image after each of
four x2 up-sampling stages, scales starting at models.sc.NOISE_UP_INIT), trained with the texture
statistics loss alone (models/texture_loss.py) to draw one CamVid class in 128 px crops. It is
trained twice, identical but for the up-sampling: 3x3 stride-2 transposed convolutions (the GC/SC
generator's) or nearest-neighbour x2 then a 3x3 convolution (resize-convolution). Prints, per
variant, tile repetition at 8 and 16 px (codec.eval.metrics.tile_repetition; photos 0.01-0.05) and
texture retention against the class's real crops, and writes a PNG of samples.

    python scripts/probe_upsampling_texture.py --camvid ../shared/data/camvid/train --seconds 480 \
        --out docs/upsampling_probe.jpg
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from gcodec.codec.eval.metrics import texture_energy, tile_repetition
from gcodec.models.layers import norm_layer, up_block
from gcodec.models.sc import NOISE_UP_INIT
from gcodec.models.texture_loss import texture_stats_loss

CROP = 128
CLASSES = {"sky": 0, "building": 1, "road": 3, "tree": 5}


def class_crops(folder: Path, class_id: int, count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Random CROP-px crops (images in [-1, 1], masks of the class) whose pixels are mostly the class."""
    rng = np.random.default_rng(seed)
    files = sorted((folder / "images").iterdir())
    images, masks = [], []
    while len(images) < count:
        f = files[rng.integers(len(files))]
        lab = np.asarray(Image.open(folder / "labels" / (f.stem + ".png")))
        y, x = rng.integers(lab.shape[0] - CROP), rng.integers(lab.shape[1] - CROP)
        m = lab[y: y + CROP, x: x + CROP] == class_id
        if m.mean() < 0.7:
            continue
        img = np.asarray(Image.open(f).convert("RGB"))[y: y + CROP, x: x + CROP]
        images.append(torch.from_numpy(img.copy()).permute(2, 0, 1).float() / 127.5 - 1)
        masks.append(torch.from_numpy(m.copy()).float()[None])
    return torch.stack(images), torch.stack(masks)


class ToyGenerator(nn.Module):
    def __init__(self, resize: bool, w: int = 8) -> None:
        super().__init__()
        self.const = nn.Parameter(torch.randn(1, 16 * w, 1, 1))
        self.head = nn.Sequential(nn.Conv2d(16 * w + 4, 16 * w, 3, padding=1, padding_mode="reflect"),
                                  norm_layer("channel", 16 * w), nn.ReLU())
        chans = [16 * w, 8 * w, 4 * w, 2 * w, w]
        self.up = nn.ModuleList()
        for cin, cout in zip(chans, chans[1:]):
            if resize:
                self.up.append(nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                                             nn.Conv2d(cin, cout, 3, padding=1), norm_layer("channel", cout), nn.ReLU()))
            else:  # the GC/SC generator's own up-sampling stage
                self.up.append(up_block(cin, cout, "channel"))
        self.scales = nn.ParameterList([nn.Parameter(torch.full((1, c, 1, 1), NOISE_UP_INIT)) for c in chans[1:]])
        self.tail = nn.Conv2d(w, 3, 7, padding=3, padding_mode="reflect")

    def forward(self, n: int, gen: torch.Generator) -> torch.Tensor:
        side = CROP // 16

        def signs(c: int, s: int) -> torch.Tensor:
            return torch.randint(0, 2, (n, c, s, s), generator=gen).float() * 2 - 1

        h = self.head(torch.cat([self.const.expand(n, -1, side, side), signs(4, side)], 1))
        for k, (stage, scale) in enumerate(zip(self.up, self.scales)):
            h = stage(h)
            h = h + scale * signs(1, side * 2 ** (k + 1))
        return torch.tanh(self.tail(h))


def to_uint8(x: torch.Tensor) -> np.ndarray:
    return ((x.clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()


def measure(samples: torch.Tensor, real: torch.Tensor) -> dict[str, float]:
    full = np.ones((CROP, CROP), bool)
    fake_u8, real_u8 = [to_uint8(s) for s in samples], [to_uint8(r) for r in real]
    e_real = np.mean([texture_energy(r) for r in real_u8])
    return {"tile8": float(np.mean([tile_repetition(s, full, 8) for s in fake_u8])),
            "tile16": float(np.mean([tile_repetition(s, full, 16) for s in fake_u8])),
            "texture": float(np.mean([texture_energy(s) for s in fake_u8]) / e_real),
            "tile16_real": float(np.mean([tile_repetition(r, full, 16) for r in real_u8]))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--camvid", default="../shared/data/camvid/train", help="CamVid-layout folder")
    ap.add_argument("--cls", default="tree", choices=sorted(CLASSES))
    ap.add_argument("--seconds", type=float, default=480, help="training time per variant")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--out", default="upsampling_probe.png")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    train_x, train_m = class_crops(Path(args.camvid), CLASSES[args.cls], 256, seed=0)
    test_x, _ = class_crops(Path(args.camvid), CLASSES[args.cls], 16, seed=1)
    rows = [np.concatenate([to_uint8(x) for x in test_x[:4]], 1)]
    for resize in (False, True):
        name = "resize-convolution" if resize else "transposed convolution"
        torch.manual_seed(0)
        gen_model, noise = ToyGenerator(resize), torch.Generator().manual_seed(0)
        opt = torch.optim.Adam(gen_model.parameters(), lr=2e-3)
        start, steps = time.time(), 0
        while time.time() - start < args.seconds:
            idx = torch.randint(len(train_x), (args.batch,), generator=noise)
            loss = texture_stats_loss(gen_model(args.batch, noise), train_x[idx], train_m[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            steps += 1
        with torch.no_grad():
            samples = gen_model(16, torch.Generator().manual_seed(1))
        m = measure(samples, test_x)
        print(f"{name}: {steps} steps, last loss {loss.item():.3f}, tile repetition 8 px {m['tile8']:.3f}, "
              f"16 px {m['tile16']:.3f} (real crops {m['tile16_real']:.3f}), texture retention {m['texture']:.3f}",
              flush=True)
        rows.append(np.concatenate([to_uint8(s) for s in samples[:4]], 1))
    Image.fromarray(np.concatenate(rows, 0)).resize((4 * CROP * 2, len(rows) * CROP * 2), Image.NEAREST).save(args.out)
    print(f"wrote {args.out} (rows: real {args.cls} crops, transposed convolution, resize-convolution)")


if __name__ == "__main__":
    main()
