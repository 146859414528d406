"""Structured mutations of gcodec files for fuzzing (tests/test_fuzz.py, scripts/fuzz.py).

Most mutations change one section's payload and re-pack the file with
`bitstream.container.pack`, so the CRC chain is valid again and the payload decoder, not
the checksum, sees the damage. Header mutations (sizes at and past the limits, unknown
versions and kinds, other model ids) go through `raw_file`, which writes any field value
`pack` would refuse, again with valid CRCs. A few whole-file mutations (truncation,
extension, flips without CRC repair) check that the container rejects them.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable, Sequence
from dataclasses import replace

from gcodec.bitstream.container import CRC_BYTES, FORMAT_VERSION, MAGIC, MAX_DIM, MAX_FRAMES, Container, pack, unpack
from gcodec.bitstream.errors import GcodecError
from gcodec.bitstream.varint import decode_uvarint, encode_uvarint

Sections = Sequence[tuple[int, bytes]]
# Values a length or count field might be set to: limits, powers of two and their neighbours.
HUGE = (2**35 - 1, 2**32 + 1, 2**32 - 1, 2**31, 2**28 + 1, 2**24, 2**20 + 3, 65537, 4097, 1025, 255, 0)
# Header sizes at and past the limits; one side stays small so "at the limit" stays cheap to decode.
SIDES = (0, 1, 2, 3, 17, MAX_DIM, MAX_DIM + 1, 2**35 - 1)
FRAMES = (0, 1, 2, 9, MAX_FRAMES + 1, 2**35 - 1)


def raw_file(kind: int, size: Sequence[int], sections: Sections, model_id: bytes = b"", digest: bytes = b"",
             version: int = FORMAT_VERSION, count: int | None = None) -> bytes:
    """A container written field by field, whatever the values, with a valid CRC chain.

    `digest` is written only when `model_id` is non-empty (as the format says); `count` is the
    section-count byte (default: the number of sections). Tags may repeat.
    """
    out = bytearray(MAGIC) + bytes((version, kind, len(model_id))) + model_id
    if model_id:
        out += digest
    for v in size:
        out += encode_uvarint(v)
    out.append(len(sections) if count is None else count)
    crc, done = 0, 0
    for tag, payload in sections:
        out += bytes((tag,)) + encode_uvarint(len(payload)) + payload
        crc = zlib.crc32(memoryview(out)[done:], crc)
        out += crc.to_bytes(CRC_BYTES, "little")
        done = len(out) - CRC_BYTES
    return bytes(out)


def _raw(c: Container, **changes: object) -> bytes:
    fields: dict = dict(kind=int(c.kind), size=c.size, sections=c.sections, model_id=c.model_id.encode(),
                        digest=c.model_digest)
    fields.update(changes)
    return raw_file(**fields)


def _junk(rng: random.Random, n: int) -> bytes:
    return rng.choice((bytes(n), b"\xff" * n, rng.randbytes(n)))


# ---------------------------------------------------------------- one section's payload

def _flip_bits(rng: random.Random, p: bytes) -> bytes:
    b = bytearray(p)
    for _ in range(rng.randint(1, 8)):
        i = rng.randrange(len(b))
        b[i] ^= 1 << rng.randrange(8)
    return bytes(b)


def _set_bytes(rng: random.Random, p: bytes) -> bytes:
    b = bytearray(p)
    for _ in range(rng.randint(1, 4)):
        b[rng.randrange(len(b))] = rng.choice((0, 0xFF, 0x7F, 0x80, 1, rng.randrange(256)))
    return bytes(b)


def _insert_run(rng: random.Random, p: bytes) -> bytes:
    i = rng.randint(0, len(p))
    return p[:i] + _junk(rng, rng.randint(1, 64)) + p[i:]


def _delete_run(rng: random.Random, p: bytes) -> bytes:
    i = rng.randrange(len(p))
    return p[:i] + p[i + rng.randint(1, max(1, len(p) - i)) :]


def _truncate(rng: random.Random, p: bytes) -> bytes:
    return p[: rng.randrange(len(p))]


def _extend(rng: random.Random, p: bytes) -> bytes:
    return p + _junk(rng, rng.randint(1, 64))


def _huge_varint(rng: random.Random, p: bytes) -> bytes:
    """Replace the varint starting at some offset (most fields sit near the start) with a huge value."""
    i = rng.randrange(min(len(p), 16)) if rng.random() < 0.7 else rng.randrange(len(p))
    try:
        _, end = decode_uvarint(p, i)
    except GcodecError:
        end = i + 1
    return p[:i] + encode_uvarint(rng.choice(HUGE)) + p[end:]


PAYLOAD_MUTATORS: dict[str, Callable[[random.Random, bytes], bytes]] = {
    "flip_bits": _flip_bits, "set_bytes": _set_bytes, "insert_run": _insert_run, "delete_run": _delete_run,
    "truncate_section": _truncate, "extend_section": _extend, "huge_varint": _huge_varint,
}


def mutate_payload(rng: random.Random, c: Container) -> tuple[str, bytes]:
    """One section's payload mutated, the file re-packed with valid CRCs."""
    k = rng.randrange(len(c.sections))
    tag, payload = c.sections[k]
    name = rng.choice(list(PAYLOAD_MUTATORS))
    if not payload:
        name = "extend_section"
    new = PAYLOAD_MUTATORS[name](rng, payload)
    sections = c.sections[:k] + ((tag, new),) + c.sections[k + 1 :]
    return f"{name}@{tag}", pack(replace(c, sections=sections))


# ---------------------------------------------------------------- sections as a whole

def mutate_sections(rng: random.Random, c: Container) -> tuple[str, bytes]:
    secs = list(c.sections)
    free = [t for t in range(256) if t not in {tag for tag, _ in secs}]
    new_tags = free[:8] + free[-1:]  # small tags (near the real ones) and the top one
    op = rng.choice(("reorder", "drop", "add", "retag", "duplicate", "swap_payloads", "empty", "count"))
    if op in ("reorder", "drop", "swap_payloads") and len(secs) < 2:
        op = "add"
    if op == "reorder":
        while secs == list(c.sections):
            rng.shuffle(secs)
    elif op == "drop":
        secs.pop(rng.randrange(len(secs)))
    elif op == "add":
        if len(secs) == 32:
            return op, _raw(c, sections=secs + [(rng.choice(free), b"x")])  # 33 sections
        tag = rng.choice(new_tags)
        secs.insert(rng.randint(0, len(secs)), (tag, _junk(rng, rng.randint(0, 40))))
    elif op == "retag":
        k = rng.randrange(len(secs))
        secs[k] = (rng.choice(new_tags), secs[k][1])
    elif op == "duplicate":  # pack refuses repeated tags; the reader must too
        k = rng.randrange(len(secs))
        secs.insert(rng.randint(0, len(secs)), secs[k])
        return op, _raw(c, sections=secs)
    elif op == "swap_payloads":
        i, j = rng.sample(range(len(secs)), 2)
        secs[i], secs[j] = (secs[i][0], secs[j][1]), (secs[j][0], secs[i][1])
    elif op == "empty":
        k = rng.randrange(len(secs))
        secs[k] = (secs[k][0], b"")
    else:  # a section-count byte that disagrees with the sections present
        return op, _raw(c, count=rng.choice((0, 33, 255, len(secs) - 1, len(secs) + 1)))
    return op, pack(replace(c, sections=tuple(secs)))


# ---------------------------------------------------------------- header fields

def mutate_header(rng: random.Random, c: Container, other_models: Sequence[tuple[str, bytes]] = ()) -> tuple[str, bytes]:
    """Header fields set to absurd or foreign values; CRCs stay valid (they cover the header)."""
    op = rng.choice(("version", "kind", "size", "size", "model_id", "digest"))
    if op == "version":
        return op, _raw(c, version=rng.choice((0, 2, 255)))
    if op == "kind":
        kind = rng.choice((0, 6, 255, *[k for k in range(1, 6) if k != int(c.kind)]))
        size = c.size if rng.random() < 0.5 else (c.size[1:] if len(c.size) == 3 else (2, *c.size))
        return f"kind={kind}", _raw(c, kind=kind, size=size)
    if op == "size":
        size = list(c.size)
        i = rng.randrange(len(size))
        first_is_frames = len(size) == 3 and i == 0
        size[i] = rng.choice(FRAMES if first_is_frames else SIDES)
        if rng.random() < 0.2:  # both sides at the pixel limit: 2**28 pixels (allowed) or one more row
            size[-2:] = [2**14 + rng.randint(0, 1), 2**14]
        elif rng.random() < 0.3:  # off by a little: same latent grid, other crop
            size = [max(1, v + rng.randint(-20, 20)) for v in c.size]
        return f"size={tuple(size)}", _raw(c, size=size)
    if op == "model_id":
        choices = [(mid.encode(), dig) for mid, dig in other_models if mid != c.model_id]
        choices += [(b"", b""), (b"x" * 64, c.model_digest), (b"x" * 65, bytes(4)),
                    (b"bad id!", bytes(4)), (b"\xc7\x80", bytes(4))]
        mid, dig = rng.choice(choices)
        return "model_id", _raw(c, model_id=mid, digest=dig)
    if not c.model_id:
        return "model_id", _raw(c, model_id=b"gc-c6", digest=bytes(4))
    d = bytearray(c.model_digest)
    d[rng.randrange(4)] ^= 1 << rng.randrange(8)
    return "digest", _raw(c, digest=bytes(d))


# ---------------------------------------------------------------- whole file, no CRC repair

def mutate_file(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    op = rng.choice(("truncate_file", "extend_file", "flip_no_crc"))
    if op == "truncate_file":
        return op, data[: rng.randrange(len(data))]
    if op == "extend_file":
        return op, data + _junk(rng, rng.randint(1, 64))
    return op, _flip_bits(rng, data)


def mutate(rng: random.Random, seed: bytes, other_models: Sequence[tuple[str, bytes]] = (),
           rounds: int | None = None) -> tuple[str, bytes]:
    """A mutated copy of the valid file `seed` and a short description of what was done.

    Usually one mutation; sometimes two or three stacked (each on the previous result while it
    still parses). `other_models`: (id, digest) pairs a header mutation may switch to.
    """
    rounds = rounds or rng.choice((1, 1, 1, 2, 3))
    names, data = [], seed
    for _ in range(rounds):
        try:
            c = unpack(data)
        except GcodecError:
            break  # an earlier round already broke the container
        r = rng.random()
        if r < 0.6:
            name, data = mutate_payload(rng, c)
        elif r < 0.75:
            name, data = mutate_sections(rng, c)
        elif r < 0.92:
            name, data = mutate_header(rng, c, other_models)
        else:
            name, data = mutate_file(rng, data)
        names.append(name)
    return "+".join(names), data
