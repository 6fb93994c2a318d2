"""The one seed policy: every seed derives from a master seed and the physics of what it computes.

A seed is a function of (master seed, the physical key of a curve as canonical JSON, the numbers that place a point
on it, e.g. alpha or M) and of nothing else: not of the curve's position in a grid, of its name or of which worker
runs it. The same point therefore gives the same numbers alone, inside any grid, and on any executor.
"""

from __future__ import annotations

import json
import zlib

import numpy as np


def physics_key(**parameters) -> str:
    """Canonical text of a point's or a curve's physical parameters (sorted keys, JSON)."""
    return json.dumps(parameters, sort_keys=True)


def _entropy(master: int, key: str, numbers) -> list[int]:
    words = [int(master), zlib.crc32(key.encode())]
    for x in numbers:
        bits = int(np.float64(x).view(np.uint64)) if isinstance(x, float) else int(x)
        words += [bits & 0xFFFFFFFF, bits >> 32]
    return words


def derive_seed(master: int, key: str, *numbers) -> int:
    """One 63-bit seed of (master, key, numbers); floats enter by their bits, so 2.0 and 2.0 + 1e-12 differ."""
    sequence = np.random.SeedSequence(_entropy(master, key, numbers))
    return int(sequence.generate_state(1, dtype=np.uint64)[0] >> 1)


def derive_seeds(master: int, key: str, count: int, *numbers) -> list[int]:
    """``count`` independent 63-bit seeds of (master, key, numbers); the first k of a longer list are the same."""
    children = np.random.SeedSequence(_entropy(master, key, numbers)).spawn(count)
    return [int(child.generate_state(1, dtype=np.uint64)[0] >> 1) for child in children]
