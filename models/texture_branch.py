"""Texture branch: class-conditioned, noise-driven detail for SC's synthesized pixels.

Fine-tuning the SC generator itself to draw texture (the texture statistics loss, a GAN) made it
paint a regular mosaic in synthesized regions: a generator already committed to drawing from
latents. A small fresh network trained from scratch on the same loss drew non-repeating texture
(scripts/probe_upsampling_texture.py). So texture comes from a separate branch, trained while the
rest of the SC model stays frozen (`gcodec train gc --texture-branch W`): latents, coded pixels and
the context tables are those of the model it extends.

The branch sees the label map, the generator's image (so detail follows local brightness and
colour) and its own +-1 noise: channels at 1/16 and one image after each of four x2 up-sampling
stages, as `--noise-up` gives the generator. Its output is high-passed (a 9x9 box blur subtracted),
so it adds detail without moving the generator's colours, and is added at synthesized pixels only.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layers import conv_block, resize_up_block, up_block

LATENT_NOISE = 4  # noise channels at 1/16
STAGES = 4  # x2 up-sampling stages, 1/16 -> 1
HIGH_PASS = 9  # box blur side subtracted from the output: detail finer than this is kept
SCALE_INIT = 0.1  # the noise scales' start (not 0: see models.sc.NOISE_UP_INIT)


def high_pass(x: torch.Tensor, side: int = HIGH_PASS) -> torch.Tensor:
    pad = side // 2
    return x - F.avg_pool2d(F.pad(x, (pad, pad, pad, pad), mode="replicate"), side, stride=1)


class TextureBranch(nn.Module):
    """c3s1-16w on (pooled one-hot map, pooled image, noise), u8w, u4w, u2w, uw with noise added
    after each, c7s1-3 on (features, one-hot map), tanh, high-pass."""

    def __init__(self, classes: int, w: int, norm: str, resize: bool = False) -> None:
        super().__init__()
        self.head = conv_block(classes + 3 + LATENT_NOISE, 16 * w, 3, 1, norm)
        chans = [16 * w // 2**k for k in range(STAGES + 1)]
        block = resize_up_block if resize else up_block
        self.up = nn.ModuleList([block(a, b, norm) for a, b in zip(chans, chans[1:])])
        self.noise_scales = nn.ParameterList([nn.Parameter(torch.full((1, c, 1, 1), SCALE_INIT)) for c in chans[1:]])
        self.tail = nn.Conv2d(w + classes, 3, 7, padding=3, padding_mode="reflect")

    def forward(self, image: torch.Tensor, onehot: torch.Tensor, synthesized: torch.Tensor,
                noise: list[torch.Tensor]) -> torch.Tensor:
        """image (N, 3, H, W) in [-1, 1] from the generator; onehot (N, K, H, W); synthesized
        (N, 1, H, W) of 0/1; noise: (N, LATENT_NOISE, H/16, W/16), then one (N, 1, H/2^(4-k), ...)
        per stage k. Returns the image with detail added at synthesized pixels."""
        side = 2**STAGES
        h = self.head(torch.cat([F.avg_pool2d(onehot, side), F.avg_pool2d(image, side), noise[0]], 1))
        for stage, scale, n in zip(self.up, self.noise_scales, noise[1:]):
            h = stage(h) + scale * n
        detail = high_pass(torch.tanh(self.tail(torch.cat([h, onehot.to(h.dtype)], 1))).float())
        return (image + detail * synthesized).clamp(-1, 1)
