"""Fine grain in GC files (codec/stage/grain.py): the section, the realism ramps, the encoder's dose."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image

from gcodec.bitstream.container import pack, unpack
from gcodec.bitstream.errors import FormatError
from gcodec.codec import gc_codec, grain_search
from gcodec.codec.api import Codec
from gcodec.codec.eval.metrics import psnr, texture_energy
from gcodec.codec.stage import grain as stage_grain
from gcodec.codec.stage.stage import stage_ramps

from .test_detail_stage import make_tiny_stage


def _with_code(data: bytes, payload: bytes | None) -> bytes:
    c = unpack(data)
    kept = tuple(s for s in c.sections if s[0] != gc_codec.SECTION_FINE_GRAIN)
    return pack(replace(c, sections=kept + (((gc_codec.SECTION_FINE_GRAIN, payload),) if payload is not None else ())))


def test_ramps():
    assert stage_ramps(0.0, 0.25) == (0.0, 0.0)
    assert stage_ramps(0.125, 0.25) == (0.5, 0.0)  # grain first, up to the default R
    assert stage_ramps(0.25, 0.25) == (1.0, 0.0)
    assert stage_ramps(1.0, 0.25) == (1.0, 1.0)  # then the stage's texture, all of it at R = 1
    assert stage_ramps(0.625, 0.25) == (1.0, 0.5)


def test_gc_files_with_a_stage_carry_grain_and_old_files_decode_as_before(tiny_weights, photo_path, monkeypatch):
    image = np.asarray(Image.open(photo_path).convert("RGB"))
    plain = Codec(device=torch.device("cpu")).encode_image(image, "tiny")  # no stage yet: no section
    assert not unpack(plain).has_section(gc_codec.SECTION_FINE_GRAIN)
    make_tiny_stage(tiny_weights, default_realism=0.25)
    codec = Codec(device=torch.device("cpu"))
    data = codec.encode_image(image, "tiny")
    code = gc_codec.fine_grain_code(unpack(data))
    assert code is not None and data.startswith(plain[:4])
    gc_decode = codec.decode(plain, realism=0.0)[1]
    for d in (data, _with_code(data, b"\x00"), _with_code(data, b"\x60")):
        assert np.array_equal(codec.decode(d, realism=0.0)[1], gc_decode)  # R = 0: the GC decode, bit for bit
    # without the section: R times the stage's texture, as before; with code 0: no texture up to the default R
    assert not np.array_equal(codec.decode(plain)[1], gc_decode)
    assert np.array_equal(codec.decode(_with_code(data, b"\x00"))[1], gc_decode)
    energies = [texture_energy(codec.decode(_with_code(data, bytes([c])))[1]) for c in (0, 60, 120)]
    assert energies[0] < energies[1] < energies[2]
    with pytest.raises(FormatError, match="fine grain section"):
        codec.decode(_with_code(data, b"\x01\x02"))

    # the encoder's dose: the smallest code whose default decode keeps the target's texture
    goal = texture_energy(image)
    start, top = (texture_energy(codec.decode(_with_code(data, bytes([c])))[1]) / goal for c in (0, 200))
    target = start + 0.5 * (top - start)
    monkeypatch.setattr(grain_search, "GRAIN_TARGET", target)
    monkeypatch.setattr(stage_grain, "MAX_PSNR_LOSS", None)
    code = gc_codec.fine_grain_code(unpack(codec.encode_image(image, "tiny")))
    kept = [texture_energy(codec.decode(_with_code(data, bytes([c])))[1]) / goal for c in (code - 1, code)]
    assert 0 < code < 200 and kept[1] >= target > kept[0]
    # with a PSNR limit: the most grain within it, when the texture target would cost more
    loss = [psnr(codec.decode(_with_code(data, bytes([c])))[1], image) for c in (0, code)]
    limit = (loss[0] - loss[1]) / 2
    monkeypatch.setattr(stage_grain, "MAX_PSNR_LOSS", limit)
    capped = gc_codec.fine_grain_code(unpack(codec.encode_image(image, "tiny")))
    at = [psnr(codec.decode(_with_code(data, bytes([c])))[1], image) for c in (capped, capped + 1)]
    assert 0 < capped < code and at[0] >= loss[0] - limit > at[1]
