"""`gcodec encode` of label maps: which inputs are label maps, and their lossless coding."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..bitstream.errors import InputError

if TYPE_CHECKING:
    from ..codec.image_input import SourceImage


def is_labelmap(source: SourceImage, kind: str, src: str) -> bool:
    """--kind labelmap, or (auto) a single-channel 8-bit image with few values; InputError when
    --kind labelmap is given an image that has more than one channel."""
    from ..codec.labelmap_codec import looks_like_labelmap

    if kind == "labelmap":
        if source.single is None:
            raise InputError(f"{src}: --kind labelmap needs a single-channel 8-bit PNG")
        return True
    return kind == "auto" and source.single is not None and looks_like_labelmap(source.single)


def encode_labelmap_file(codec: Any, source: SourceImage, src: str, refine: int) -> bytes:
    """The label map of `source`, coded losslessly without a model (codec/labelmap_codec.py)."""
    if refine:
        raise InputError(f"{src} is a label map: --refine applies to images only")
    return codec.encode_labels(source.single)
