"""Standard normal variates for the finite-N online simulation: xoshiro256++ streams and a 256-layer ziggurat.

- Uniform bits: xoshiro256++ (Blackman & Vigna, "Scrambled linear pseudorandom number generators", ACM TOMS 47,
  2021), 256 bits of state per stream, period 2^256 - 1; the state must not be all zero.
- Laplace variates (unit variance): a random sign times an exponential by inversion.
- Normals: the ziggurat of Marsaglia & Tsang (J. Stat. Softw. 5(8), 2000) with 256 layers of equal area v, the
  tail beyond r by Marsaglia's exponential method, and the improvement of Doornik (2005): the layer index, the sign
  and the 53-bit uniform of a draw come from disjoint bits of one 64-bit word (bits 0-7, 8 and 11-63), so they
  are independent. The tables (x_i, f(x_i)) are built by :func:`statmech_bn.rng.ziggurat_tables`.

Rows of an output are assigned to streams by their global row index (row r to stream r mod S), and each stream
draws its rows in order: the numbers depend neither on how the rows are split into calls nor on the number of
threads.
"""

import math

from numba import prange, uint64

from ._jit import jit, jit_inline, jit_parallel

_UNIT = 1.0 / 9007199254740992.0  # 2^-53
_INV_SQRT2 = 1.0 / math.sqrt(2.0)


@jit
def _rotl(x, k):
    return (x << uint64(k)) | (x >> uint64(64 - k))


@jit
def next_u64(s0, s1, s2, s3):
    """One xoshiro256++ step on the state (s0, s1, s2, s3), kept in scalars so that it lives in registers:
    returns (output, s0, s1, s2, s3)."""
    result = _rotl(s0 + s3, 23) + s0
    t = s1 << uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    return result, s0, s1, s2, s3


@jit
def _next_uniform(s0, s1, s2, s3):
    """A uniform on [0, 1) from the top 53 bits of the next output: returns (u, s0, s1, s2, s3)."""
    bits, s0, s1, s2, s3 = next_u64(s0, s1, s2, s3)
    return float(bits >> uint64(11)) * _UNIT, s0, s1, s2, s3


@jit_inline
def normal_draw(s0, s1, s2, s3, x_table, f_table):
    """One N(0, 1) variate by the ziggurat from the stream state (s0, s1, s2, s3): returns (z, s0, s1, s2, s3).
    x_table (257) holds the layer edges (x_0 = v/f(r) the base strip's width, x_1 = r, ..., x_256 = 0) and
    f_table = exp(-x^2/2) at them (:func:`statmech_bn.rng.ziggurat_tables`)."""
    r = x_table[1]
    while True:
        bits, s0, s1, s2, s3 = next_u64(s0, s1, s2, s3)
        layer = int(bits & uint64(0xFF))
        negative = ((bits >> uint64(8)) & uint64(1)) == uint64(1)
        z = float(bits >> uint64(11)) * _UNIT * x_table[layer]
        if z < x_table[layer + 1]:  # inside the layer's rectangle under the density: 98.8 % of draws
            break
        if layer == 0:  # the tail beyond r
            while True:
                u, s0, s1, s2, s3 = _next_uniform(s0, s1, s2, s3)
                a = -math.log(1.0 - u) / r
                u, s0, s1, s2, s3 = _next_uniform(s0, s1, s2, s3)
                b = -math.log(1.0 - u)
                if 2.0 * b > a * a:
                    break
            z = r + a
            break
        u, s0, s1, s2, s3 = _next_uniform(s0, s1, s2, s3)
        height = f_table[layer + 1] + (f_table[layer] - f_table[layer + 1]) * u
        if height < math.exp(-0.5 * z * z):  # the wedge between the rectangle and the density
            break
    return (-z if negative else z), s0, s1, s2, s3


@jit
def laplace_draw(s0, s1, s2, s3):
    """One unit-variance Laplace variate (scale 1/sqrt 2) from one 64-bit output: the sign from bit 0 and an
    exponential -log(1 - u) from the 53-bit uniform u of bits 11-63. Returns (z, s0, s1, s2, s3)."""
    bits, s0, s1, s2, s3 = next_u64(s0, s1, s2, s3)
    magnitude = -math.log(1.0 - float(bits >> uint64(11)) * _UNIT) * _INV_SQRT2
    return (-magnitude if (bits & uint64(1)) == uint64(1) else magnitude), s0, s1, s2, s3


@jit
def fill_normal_stream(state, out, x_table, f_table):
    """Fill the 1-D ``out`` with N(0, 1) variates (:func:`normal_draw`) from the stream ``state`` (4 uint64,
    advanced in place). The state lives in scalars during the loop, and the loop calls no function with array
    arguments other than the tables, whose reference counting would cost more than the draw."""
    s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
    for j in range(out.shape[0]):
        out[j], s0, s1, s2, s3 = normal_draw(s0, s1, s2, s3, x_table, f_table)
    state[0], state[1], state[2], state[3] = s0, s1, s2, s3


@jit_parallel
def fill_normal_rows(states, first_row, x_table, f_table, out):
    """Fill ``out`` (rows, n) with N(0, 1) variates; global row first_row + i comes from stream
    (first_row + i) mod S of ``states`` (S, 4), the streams run on threads."""
    n_streams = states.shape[0]
    rows = out.shape[0]
    for s in prange(n_streams):
        start = (s - first_row % n_streams + n_streams) % n_streams
        for i in range(start, rows, n_streams):
            fill_normal_stream(states[s], out[i], x_table, f_table)


@jit
def fill_u64(state, out):
    """Raw xoshiro256++ outputs (for tests against a reference implementation); advances ``state``."""
    s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
    for k in range(out.shape[0]):
        out[k], s0, s1, s2, s3 = next_u64(s0, s1, s2, s3)
    state[0], state[1], state[2], state[3] = s0, s1, s2, s3
