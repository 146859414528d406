"""The evaluation harness: how gcodec is measured against classical codecs.

Codecs do not depend on it, except that layered rate control scores its candidates with
`metrics` (as `gcodec decode -r` reports them).

- `protocol`: what the harness needs from a codec (`settings`, `run(image, setting)`).
- `classical`: JPEG, WebP, AVIF, HEVC, AV1 and VVC intra (and downscaled variants) as baselines.
- `gc_curves`, `layered_curves`: gcodec's GC and layered models as harness codecs.
- `metrics`: PSNR, MS-SSIM, texture retention, bpp, log-bpp interpolation (per EVAL.md).
- `images`: the image RD loop behind `gcodec eval` (JSON, table, resume).
- `plots`: RD curves to PNG, shared by the image, SC and video evaluations.
- `sc`: selective-generation evaluation behind `gcodec eval-sc`.
- `video`: video RD against x264/x265 behind `gcodec eval-video`.
"""
