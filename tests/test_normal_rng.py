"""The input generator of the online simulation: xoshiro256++ against its reference, the ziggurat tables against
their defining equations, the variates against N(0, 1), and the rows against chunking and thread count."""

import math

import numba
import numpy as np
import pytest
from naive import xoshiro256pp
from scipy import stats
from tolerances import KS_P_VALUE_MIN, MONTE_CARLO_SIGMAS

from statmech_bn.kernels.normal_rng import fill_normal_stream, fill_u64, laplace_draw
from statmech_bn.rng import ZIGGURAT_R, ZIGGURAT_V, NormalRows, stream_states, ziggurat_tables

REFERENCE_OUTPUTS = [41943041, 58720359, 3588806011781223, 3591011842654386, 9228616714210784205,
                     9973669472204895162, 14011001112246962877, 12406186145184390807, 15849039046786891736,
                     10450023813501588000]
"""The first ten xoshiro256++ outputs from the state (1, 2, 3, 4): the test vector of the reference C code as
used by the rand_xoshiro crate's tests (and reproduced by tests/naive.py::xoshiro256pp)."""


def test_xoshiro_matches_its_reference():
    state = np.array([1, 2, 3, 4], dtype=np.uint64)
    out = np.empty(10, dtype=np.uint64)
    fill_u64(state, out)
    assert [int(v) for v in out] == REFERENCE_OUTPUTS
    assert xoshiro256pp([1, 2, 3, 4], 10) == REFERENCE_OUTPUTS
    seeded = stream_states([7, 1], 1)[0]
    out = np.empty(1000, dtype=np.uint64)
    fill_u64(seeded.copy(), out)
    assert [int(v) for v in out] == xoshiro256pp([int(v) for v in seeded], 1000)


def test_ziggurat_layers_have_the_published_equal_area():
    """Marsaglia & Tsang (2000): 256 layers of area v = 0.00492867323399 under exp(-x^2/2), the base strip
    (rectangle to r = 3.6541528853610088 plus the tail) included; the recursion must close at the top (x_256 = 0)
    to the precision of the published constants."""
    x, f = ziggurat_tables()
    layers = x[1:256] * (f[2:257] - f[1:256])
    np.testing.assert_allclose(layers, ZIGGURAT_V, rtol=1e-8)
    base = ZIGGURAT_R * math.exp(-0.5 * ZIGGURAT_R**2) + math.sqrt(2 * math.pi) * stats.norm.sf(ZIGGURAT_R)
    assert base == pytest.approx(ZIGGURAT_V, rel=1e-10)
    assert x[0] * f[1] == pytest.approx(ZIGGURAT_V, rel=1e-14) and x[256] == 0.0


def _sample(count, seed=3):
    x, f = ziggurat_tables()
    out = np.empty(count)
    fill_normal_stream(stream_states([seed], 1)[0], out, x, f)
    return out


def test_variates_are_standard_normal():
    """4e6 variates: KS against N(0, 1); mean, variance and fourth moment, and the probabilities of the tail
    beyond r (drawn by the exponential method) and beyond 4.5, within MONTE_CARLO_SIGMAS standard errors."""
    z = _sample(4_000_000)
    n = z.size
    assert stats.kstest(z, "norm").pvalue > KS_P_VALUE_MIN
    for moment, exact, variance in ((z, 0.0, 1.0), (z**2, 1.0, 2.0), (z**4, 3.0, 96.0)):
        assert abs(moment.mean() - exact) < MONTE_CARLO_SIGMAS * math.sqrt(variance / n)
    for edge in (ZIGGURAT_R, 4.5):
        p = 2 * stats.norm.sf(edge)
        assert abs(np.mean(np.abs(z) > edge) - p) < MONTE_CARLO_SIGMAS * math.sqrt(p * (1 - p) / n)


def test_consecutive_variates_are_uncorrelated():
    """Lag-1 correlations of z and of z^2 (which would see a shared layer index or sign between draws), within
    MONTE_CARLO_SIGMAS / sqrt(n)."""
    z = _sample(4_000_000, seed=4)
    n = z.size - 1
    assert abs(np.corrcoef(z[:-1], z[1:])[0, 1]) < MONTE_CARLO_SIGMAS / math.sqrt(n)
    assert abs(np.corrcoef(z[:-1] ** 2, z[1:] ** 2)[0, 1]) < MONTE_CARLO_SIGMAS / math.sqrt(n)


def test_rows_depend_neither_on_chunks_nor_on_threads():
    whole = np.empty((37, 500))
    NormalRows([5, 1]).fill(whole)
    rows = NormalRows([5, 1])
    first, second = np.empty((10, 500)), np.empty((27, 500))
    threads = numba.get_num_threads()
    try:
        rows.fill(first)
        numba.set_num_threads(1)
        rows.fill(second)
    finally:
        numba.set_num_threads(threads)
    np.testing.assert_array_equal(whole, np.vstack([first, second]))
    other = np.empty((37, 500))
    NormalRows([6, 1]).fill(other)
    assert not np.any(other == whole)


def test_streams_are_uncorrelated():
    """Rows from the 8 streams: the correlation of any two rows within MONTE_CARLO_SIGMAS / sqrt(n)."""
    rows = np.empty((16, 100_000))
    NormalRows([9, 1]).fill(rows)
    correlation = np.corrcoef(rows)
    off_diagonal = correlation[~np.eye(16, dtype=bool)]
    assert np.max(np.abs(off_diagonal)) < MONTE_CARLO_SIGMAS / math.sqrt(rows.shape[1])


@numba.njit
def _laplace_sample(state, out):
    s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
    for i in range(out.shape[0]):
        out[i], s0, s1, s2, s3 = laplace_draw(s0, s1, s2, s3)


def test_laplace_variates_have_unit_variance_and_kurtosis_six():
    """The Laplace draw of the decomposition's Monte Carlo: KS against Laplace(0, 1/sqrt 2); mean, variance and
    fourth moment (E z^4 = 6, Var z^4 = E z^8 - 36 = 8!/16 - 36 = 2484) within MONTE_CARLO_SIGMAS standard errors."""
    z = np.empty(2_000_000)
    _laplace_sample(stream_states(5, 1)[0], z)
    n = z.size
    assert stats.kstest(z, "laplace", args=(0.0, 1.0 / math.sqrt(2.0))).pvalue > KS_P_VALUE_MIN
    for moment, exact, variance in ((z, 0.0, 1.0), (z**2, 1.0, 5.0), (z**4, 6.0, 2484.0)):
        assert abs(moment.mean() - exact) < MONTE_CARLO_SIGMAS * math.sqrt(variance / n)
