"""The layered generative image codec: a VVC intra base, texture latents and a detail generator.

- `base`: the VVC base stream, coded at scale 1, 1/2 or 1/4 of the image.
- `codec`: loading a detail model, `compress()` and `decompress()`.
- `rate`: rate control (`--bpp`, `--size`) by search over QP, scale and latent budget.
- `gains`, `grain`: the encoder's per-image band gains and fine grain (models with band gains).
- `cache`: base decodes of training crops, built once per run folder.
"""
