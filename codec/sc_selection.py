"""What an SC file synthesizes: the user's class and box choices, parsed and checked, and the
selection section that stores them (bitstream/FORMAT.md, SC tag 3).

The selection is the only SC section written from user input alone; the codec (sc_codec.py)
derives the heatmap from it and the label map on both sides.
"""

from __future__ import annotations

import numpy as np

from ..bitstream.errors import FormatError, InputError
from ..bitstream.varint import decode_uvarint, encode_uvarint

MAX_BOXES = 64

Box = tuple[int, int, int, int]  # x, y, w, h in pixels of the original image

# other datasets' words for CamVid classes, so `--synthesize sky,vegetation` reads naturally
_ALIASES = {"vegetation": "tree", "sidewalk": "pavement", "person": "pedestrian", "sign": "signsymbol",
            "void": "unlabelled", "unlabeled": "unlabelled", "bicycle": "bicyclist", "rider": "bicyclist"}


def parse_classes(spec: str, names: tuple[str, ...], model: str = "the model") -> list[int]:
    """'sky,Tree,3' -> sorted unique class ids; 'all' means every class. InputError for unknown names."""
    lookup = {n.lower(): i for i, n in enumerate(names)}
    ids: set[int] = set()
    for token in (t.strip() for t in spec.split(",")):
        if not token:
            continue
        key = token.lower()
        if key == "all":
            ids.update(range(len(names)))
        elif key.isdigit():
            if int(key) >= len(names):
                raise InputError(f"class id {key} is outside 0..{len(names) - 1} for {model}")
            ids.add(int(key))
        elif _ALIASES.get(key, key) in lookup:
            ids.add(lookup[_ALIASES.get(key, key)])
        else:
            raise InputError(f"unknown class {token!r} for {model} (known: {', '.join(names)}, or all)")
    return sorted(ids)


def parse_box(spec: str) -> Box:
    """'x,y,w,h' (pixels) -> a box; InputError on anything else."""
    parts = spec.split(",")
    try:
        x, y, w, h = (int(p) for p in parts)
    except ValueError:
        raise InputError(f"--preserve-box {spec!r}: expected x,y,w,h as four integers") from None
    if x < 0 or y < 0 or w < 1 or h < 1:
        raise InputError(f"--preserve-box {spec!r}: x and y must be >= 0, w and h >= 1")
    return x, y, w, h


def check_labels(labels: np.ndarray, image_hw: tuple[int, int], classes: int) -> None:
    """InputError unless `labels` is an (H, W) uint8 map of the image's size with ids < classes."""
    if not isinstance(labels, np.ndarray) or labels.ndim != 2 or labels.dtype != np.uint8:
        raise InputError("the semantic label map must be a single-channel 8-bit image")
    if labels.shape != tuple(image_hw):
        raise InputError(f"label map is {labels.shape[1]}x{labels.shape[0]} but the image is "
                         f"{image_hw[1]}x{image_hw[0]}")
    top = int(labels.max())
    if top >= classes:
        raise InputError(f"label map holds class id {top}; the model knows ids 0..{classes - 1}")


def check_boxes(boxes: list[Box], height: int, width: int, error: type[Exception] = InputError) -> None:
    if len(boxes) > MAX_BOXES:
        raise error(f"at most {MAX_BOXES} preserved boxes, got {len(boxes)}")
    for x, y, w, h in boxes:
        if x < 0 or y < 0 or w < 1 or h < 1 or x + w > width or y + h > height:
            raise error(f"preserved box {x},{y},{w},{h} does not lie inside the {width}x{height} image")


def pack_selection(synthesize_ids: list[int], boxes: list[Box]) -> bytes:
    """varint k, then a k-byte class bitmask (bit i of byte j: class 8j+i synthesized; k is the
    fewest bytes that hold the mask, so the last byte is non-zero); varint m, m boxes as varints
    x, y, w, h."""
    mask = 0
    for i in synthesize_ids:
        mask |= 1 << int(i)
    mask_bytes = mask.to_bytes((mask.bit_length() + 7) // 8, "little")
    out = bytearray(encode_uvarint(len(mask_bytes)) + mask_bytes)
    out += encode_uvarint(len(boxes))
    for box in boxes:
        for v in box:
            out += encode_uvarint(v)
    return bytes(out)


def unpack_selection(data: bytes) -> tuple[list[int], list[Box]]:
    """Inverse of `pack_selection`; checks the layout only (ranges: `decode_parts`)."""
    k, pos = decode_uvarint(data, 0, "class mask length")
    if k > 32:  # 256 classes at most
        raise FormatError(f"class mask of {k} bytes is longer than 32")
    if pos + k > len(data):
        raise FormatError("selection section ends inside the class mask")
    mask_bytes = data[pos : pos + k]
    if k and mask_bytes[-1] == 0:
        raise FormatError("class mask is not minimally encoded")
    mask = int.from_bytes(mask_bytes, "little")
    ids = [i for i in range(8 * k) if mask >> i & 1]
    pos += k
    m, pos = decode_uvarint(data, pos, "preserved box count")
    if m > MAX_BOXES:
        raise FormatError(f"selection holds {m} preserved boxes (at most {MAX_BOXES})")
    boxes: list[Box] = []
    for _ in range(m):
        vals = []
        for what in ("x", "y", "w", "h"):
            v, pos = decode_uvarint(data, pos, f"box {what}")
            vals.append(v)
        boxes.append((vals[0], vals[1], vals[2], vals[3]))
    if pos != len(data):
        raise FormatError(f"{len(data) - pos} bytes of trailing data in the selection section")
    return ids, boxes
