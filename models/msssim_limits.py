"""The smallest image side MS-SSIM accepts, shared by losses, training options and metrics."""

# pytorch_msssim uses 5 scales with an 11-tap window: each side must exceed (11 - 1) * 2**4 = 160 px.
MS_SSIM_MIN_SIDE = 161
