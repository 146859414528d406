"""Lossless coding of semantic label maps with a crack-edge chain code (layout: FORMAT.md here).

- `payload`: `encode_labelmap` / `decode_labelmap`, the payload of a label-map section.
- `walk`: the chain code, walking the boundary graph vertex by vertex.
- `regions`: the 4-connected components the boundaries enclose.
- `coding`: adaptive count models and the range coder they drive.
"""

from .payload import decode_labelmap, encode_labelmap

__all__ = ["encode_labelmap", "decode_labelmap"]
