"""Encoder-side latent refinement: fit one image's quantized latents to that image.

The encoder is amortized: one forward pass guesses latents for any image. Refinement
starts from that guess and runs gradient steps on the continuous latents through the
straight-through quantizer and the frozen generator, minimizing the distortion the
model was trained on (MSE + MS-SSIM), as in Campos et al., "Content adaptive
optimization for neural image compression" (CVPR-W 2019). Only the encoder changes: the
symbols are coded as before and any decoder reads them unchanged.

Each step's loss is the exact loss of that step's hard symbols (the forward pass is
quantized), so the best step seen is kept and the result is never worse than the
encoder's own guess under this objective.
"""

from __future__ import annotations

import math

import torch
from pytorch_msssim import ms_ssim
from tqdm import tqdm

from .gc import GCModel
from .msssim_limits import MS_SSIM_MIN_SIDE

MSE_WEIGHT = 100.0  # on images in [0, 1]
MSSSIM_WEIGHT = 5.0


def refinement_loss(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Distortion of images in [-1, 1] (cropped to the real size): 100 * MSE + 5 * (1 - MS-SSIM)."""
    a, b = (x_hat + 1) / 2, (x + 1) / 2
    loss = MSE_WEIGHT * torch.mean((a - b) ** 2)
    if min(x.shape[-2:]) >= MS_SSIM_MIN_SIDE:
        loss = loss + MSSSIM_WEIGHT * (1 - ms_ssim(a, b, data_range=1.0))
    return loss


def refine_symbols(model: GCModel, x: torch.Tensor, height: int, width: int, steps: int,
                   lr: float = 0.05, progress: bool = False) -> torch.Tensor:
    """Symbols (1, C, h, w) for the padded image x (1, 3, H', W') after `steps` refinement steps.

    The loss covers only the top-left height x width pixels (the image, not its padding).
    Adam on the continuous latents with a cosine decay of `lr`; measured on gc-c6 and two eval
    photos, 15 steps gave +0.35 dB and 30 steps +0.44 to +0.47 dB at 2-3% more bits.
    """
    with torch.no_grad():
        y0 = model.encoder(x)
    best_symbols = model.quantizer.symbols(y0)
    if steps <= 0:
        return best_symbols
    target = x[..., :height, :width]
    y = y0.clone().requires_grad_(True)
    opt = torch.optim.Adam([y], lr=lr)
    best_loss = math.inf
    for i in tqdm(range(steps + 1), desc="refine", disable=not progress, leave=False):
        y_hat, symbols, _ = model.quantizer(y)
        loss = refinement_loss(model.generator(y_hat)[..., :height, :width], target)
        if loss.item() < best_loss:  # the loss of these exact symbols
            best_loss, best_symbols = loss.item(), symbols.detach().clone()
        if i == steps:
            break
        # Gradients for y only: the model's weights stay untouched (it may be shared by threads).
        (y.grad,) = torch.autograd.grad(loss, [y])
        opt.step()
        for g in opt.param_groups:
            g["lr"] = lr * 0.5 * (1 + math.cos(math.pi * (i + 1) / steps))
    return best_symbols
