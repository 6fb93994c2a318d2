"""Seeded streams of standard normal rows for the finite-N online simulation (kernels in
:mod:`statmech_bn.kernels.normal_rng`).

The online simulation consumes M N fresh Gaussian inputs per SGD step, so drawing them is its cost. NumPy's
``Generator.standard_normal`` (PCG64, ziggurat) takes about 10 ns per variate on one core here; these streams
(xoshiro256++ and the Marsaglia-Tsang ziggurat, compiled) take about 3 ns, and :data:`INPUT_STREAMS` independent
streams fill the rows of a chunk on threads. Row r of the whole run comes from stream r mod S, in order, so the
numbers of a seed depend neither on the chunking nor on the number of threads.
"""

from __future__ import annotations

import math

import numpy as np

from .kernels.normal_rng import fill_normal_rows

ZIGGURAT_R = 3.6541528853610088
"""Start of the tail of the 256-layer ziggurat (Marsaglia & Tsang, J. Stat. Softw. 5(8), 2000)."""
ZIGGURAT_V = 0.00492867323399
"""Area of each layer for the unnormalized density exp(-x^2/2) (same source)."""
INPUT_STREAMS = 8
"""Independent streams per run (the rows of a chunk are spread over them; threads take whole streams)."""


def ziggurat_tables() -> tuple[np.ndarray, np.ndarray]:
    """(x, f) of the 256-layer ziggurat: x_0 = v/f(r) (width of the base strip, which includes the tail), x_1 = r,
    x_{i+1} = f^-1(v/x_i + f(x_i)), x_256 = 0; f = exp(-x^2/2) at each edge."""
    x = np.empty(257)
    x[0] = ZIGGURAT_V / math.exp(-0.5 * ZIGGURAT_R**2)
    x[1] = ZIGGURAT_R
    for i in range(2, 256):
        x[i] = math.sqrt(-2.0 * math.log(ZIGGURAT_V / x[i - 1] + math.exp(-0.5 * x[i - 1] ** 2)))
    x[256] = 0.0
    return x, np.exp(-0.5 * x * x)


def stream_states(seed_words, streams: int = INPUT_STREAMS) -> np.ndarray:
    """(streams, 4) uint64 xoshiro256++ states from ``numpy.random.SeedSequence(seed_words)``."""
    states = np.random.SeedSequence(seed_words).generate_state(4 * streams, dtype=np.uint64).reshape(streams, 4)
    if np.any(~states.any(axis=1)):  # probability 2^-256 per stream
        raise ValueError("an all-zero xoshiro256++ state; choose another seed")
    return states


class NormalRows:
    """Rows of N(0, 1) variates from :data:`INPUT_STREAMS` xoshiro256++ streams seeded by ``seed_words``;
    successive :meth:`fill` calls continue the same sequence of rows."""

    def __init__(self, seed_words, streams: int = INPUT_STREAMS):
        self.states = stream_states(seed_words, streams)
        self.x_table, self.f_table = ziggurat_tables()
        self.next_row = 0

    def fill(self, out: np.ndarray) -> None:
        """Fill the C-contiguous 2-D ``out`` with the next out.shape[0] rows."""
        fill_normal_rows(self.states, self.next_row, self.x_table, self.f_table, out)
        self.next_row += out.shape[0]
