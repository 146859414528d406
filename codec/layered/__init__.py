"""The layered generative image codec: a VVC intra base, texture latents and a detail generator.

- `base`: the VVC base stream, coded at scale 1, 1/2 or 1/4 of the image.
- `payload`: the layered-image container section, byte by byte (bitstream/FORMAT.md).
- `codec`: loading a detail model, `compress()` and `decompress()`.
- `rate`: rate control (`--bpp`, `--size`) by search over QP, scale and latent budget.
- `cache`: base decodes of training crops, built once per run folder.
"""
