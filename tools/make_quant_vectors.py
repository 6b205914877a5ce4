#!/usr/bin/env python3
"""Writes tests/data/quant/<type>.bin: random but valid weight blocks of each quantized GGUF type
the engine computes with, and the floats gguf-py's numpy code (gguf/quants.py) dequantizes them
to: the independent reference tests/kernels/tst_quant_vectors.cpp checks our dequantization and
dot products against.

Usage: PYTHONPATH=/work/peer/llama.cpp/gguf-py /usr/bin/python3 tools/make_quant_vectors.py \
           [--out tests/data/quant]

Blocks are uniformly random bytes (every quant, grid index, sign and sub-scale bit pattern) whose
f16 scale fields are then overwritten with realistic values (magnitude 1e-4 .. 1e-2, either sign;
MXFP4's E8M0 exponent around 2^-13 .. 2^2, plus the edge exponents 0, 1, 2 and 200). The first
block of each file has every quant byte 0xff, the second every quant byte 0, so the extremes are
always there. Fixed seed: the files are reproducible.

File layout (little-endian):
    char[4] "NWQV", u32 version (1), u32 ggml type id, u32 rows, u32 cols, u32 row bytes,
    u8 blocks[rows * row bytes], f32 dequantized[rows * cols]
"""
import argparse
import struct
from pathlib import Path

import numpy as np
from gguf import quants
from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType as T

# type -> (byte offsets of its f16 scale fields within a block, or "e8m0" for MXFP4's exponent byte)
SCALE_FIELDS = {
    T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2], T.Q8_0: [0],
    T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208],
    T.IQ4_NL: [0], T.IQ4_XS: [0], T.MXFP4: "e8m0",
    T.IQ2_XXS: [0], T.IQ2_XS: [0], T.IQ2_S: [0], T.IQ3_XXS: [0], T.IQ3_S: [0],
}
ROWS = 4
COLS = {32: 512, 256: 1024}  # per block size: 16 blocks of 32 or 4 blocks of 256 in a row


def scale_mask(qtype, block_bytes):
    """True for the bytes of a block that hold quants (not scale fields)."""
    mask = np.ones(block_bytes, dtype=bool)
    fields = SCALE_FIELDS[qtype]
    for offset in ([0] if fields == "e8m0" else fields):
        mask[offset:offset + (1 if fields == "e8m0" else 2)] = False
    return mask


def make_blocks(qtype, n_blocks, rng):
    block_elems, block_bytes = GGML_QUANT_SIZES[qtype]
    blocks = rng.integers(0, 256, size=(n_blocks, block_bytes), dtype=np.uint8)
    quant_bytes = scale_mask(qtype, block_bytes)
    blocks[0, quant_bytes] = 0xff
    blocks[1, quant_bytes] = 0x00
    fields = SCALE_FIELDS[qtype]
    if fields == "e8m0":
        blocks[:, 0] = rng.integers(127 - 13, 127 + 3, size=n_blocks)
        blocks[2:6, 0] = [0, 1, 2, 200]
    else:
        for offset in fields:
            magnitude = 10.0 ** rng.uniform(-4, -2, size=n_blocks)
            sign = np.where(rng.random(n_blocks) < 0.3, -1.0, 1.0)
            halves = (magnitude * sign).astype(np.float16)
            blocks[:, offset:offset + 2] = halves.view(np.uint8).reshape(n_blocks, 2)
    return blocks


def write_vectors(out_dir, qtype, seed):
    block_elems, block_bytes = GGML_QUANT_SIZES[qtype]
    cols = COLS[block_elems]
    row_bytes = cols // block_elems * block_bytes
    rng = np.random.default_rng(seed)
    blocks = make_blocks(qtype, ROWS * cols // block_elems, rng)
    data = blocks.reshape(ROWS, row_bytes)
    floats = quants.dequantize(data, qtype).astype(np.float32)
    assert floats.shape == (ROWS, cols)
    assert np.isfinite(floats).all(), qtype.name
    path = out_dir / f"{qtype.name.lower()}.bin"
    with open(path, "wb") as f:
        f.write(b"NWQV")
        f.write(struct.pack("<5I", 1, qtype.value, ROWS, cols, row_bytes))
        f.write(data.tobytes())
        f.write(floats.astype("<f4").tobytes())
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="tests/data/quant", type=Path)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for seed, qtype in enumerate(SCALE_FIELDS):
        path = write_vectors(args.out, qtype, 1000 + seed)
        print(f"{path}: {qtype.name}")


if __name__ == "__main__":
    main()
