"""erf's output channel over its whole domain against adaptive quadrature (tests/naive.py): the tilted average of
:func:`channels.tilted` (Gauss-Hermite around the tilted measure's peak, Legendre panels in h with the saturated
tails in closed form) and the closed-form :func:`channels.expected_loss`, their switches between rules and their
limits."""

import math

import naive
import numpy as np
import pytest
from tolerances import ERF_CHANNEL_RTOL, ERF_EXPECTED_LOSS_RTOL

from statmech_bn.kernels import channels
from statmech_bn.model import ACTIVATIONS

ERF = ACTIVATIONS["erf"].code


def _states(seed, count):
    """(y, a, b, beta_t) with |y| < 3, |a| < 6, beta_t log-uniform on (0.05, 50), and sqrt(b) uniform on (0, 6) for half
    of them, log-uniform on (1e-6, 6) for the other half."""
    rng = np.random.default_rng(seed)
    for i in range(count):
        s = 6.0 * rng.uniform() if i % 2 else 10.0 ** rng.uniform(-6.0, math.log10(6.0))
        yield rng.uniform(-3.0, 3.0), rng.uniform(-6.0, 6.0), s * s, math.exp(rng.uniform(math.log(0.05), math.log(50)))


def _error(got, want):
    return float(np.max(np.abs(np.asarray(got) - np.asarray(want)) / (1.0 + np.abs(np.asarray(want)))))


def _worst(kernel, reference, states):
    worst, where = 0.0, None
    for state in states:
        error = _error(kernel(ERF, *state), reference(*state))
        if error > worst:
            worst, where = error, state
    return worst, where


def test_tilted_against_adaptive_quadrature():
    worst, where = _worst(channels.tilted, naive.erf_tilted, _states(1, 200))
    assert worst < ERF_CHANNEL_RTOL, f"{worst:.1e} at (y, a, b, beta_t) = {where}"


@pytest.mark.slow
def test_tilted_against_adaptive_quadrature_many_states():
    worst, where = _worst(channels.tilted, naive.erf_tilted, _states(2, 3000))
    assert worst < ERF_CHANNEL_RTOL, f"{worst:.1e} at (y, a, b, beta_t) = {where}"


@pytest.mark.parametrize("spread", [*channels.HERMITE_SPREADS])
@pytest.mark.parametrize("beta_t", [0.1, 2.0, 40.0])
def test_tilted_is_continuous_across_its_rules(spread, beta_t):
    """Either side of every switch between Gauss-Hermite rules (and to the panels after the last): both sides within
    ERF_CHANNEL_RTOL of the reference, so a jump at a switch is below it too."""
    for y, a in [(0.3, 0.5), (-1.7, 2.5), (2.9, -4.0)]:
        b = spread * spread / (1.0 + beta_t)
        want = naive.erf_tilted(y, a, b, beta_t)
        for side in (1.0 - 1e-12, 1.0 + 1e-12):
            assert _error(channels.tilted(ERF, y, a, b * side, beta_t), want) < ERF_CHANNEL_RTOL


@pytest.mark.parametrize("y,a,beta_t", [(0.4, 0.3, 2.0), (-2.5, 1.2, 50.0), (2.9, -5.5, 0.05)])
def test_tilted_small_variance_limit(y, a, beta_t):
    """b -> 0: log Z -> -beta_t l(a), g_a -> -beta_t l'(a), g_aa -> -beta_t l''(a), <l> -> l(a), exactly at b = 0 and
    up to O(b) above (no division by b anywhere)."""
    g = math.erf(a / math.sqrt(2.0))
    d = math.sqrt(2.0 / math.pi) * math.exp(-0.5 * a * a)
    loss, slope, curvature = 0.5 * (y - g) ** 2, -(y - g) * d, d * d + (y - g) * a * d
    limit = (-beta_t * loss, -beta_t * slope, -beta_t * curvature, loss)
    assert channels.tilted(ERF, y, a, 0.0, beta_t) == pytest.approx(limit, rel=1e-15, abs=1e-15)
    for b in (1e-300, 1e-16, 1e-12):
        assert _error(channels.tilted(ERF, y, a, b, beta_t), limit) < 1e-10 + 1e8 * b


@pytest.mark.parametrize("y,a,b", [(0.4, 0.3, 0.01), (-2.5, 1.2, 0.3), (2.9, -5.5, 4.0), (0.0, 5.0, 36.0)])
def test_tilted_high_temperature_limit(y, a, b):
    """beta_t -> 0 gives the prior's moments: <l> -> e, log Z/beta_t -> -e, g_a/beta_t -> -e_a, g_aa/beta_t -> -2 e_b
    (expected_loss), up to O(beta_t)."""
    beta_t = 1e-7
    log_z, g_a, g_aa, mean_loss = channels.tilted(ERF, y, a, b, beta_t)
    e, e_a, e_b = channels.expected_loss(ERF, y, a, b)
    got = (mean_loss, -log_z / beta_t, -g_a / beta_t, -0.5 * g_aa / beta_t)
    assert _error(got, (e, e, e_a, e_b)) < 1e-5


def test_tilted_keeps_its_digits_where_z_underflows():
    """log Z = -3781, far below the logarithm of the smallest double (-745): the sums run in log space. Far outside
    the tested domain the results stay finite."""
    want = naive.erf_tilted(3.0, -6.0, 0.01, 500.0)
    assert _error(channels.tilted(ERF, 3.0, -6.0, 0.01, 500.0), want) < ERF_CHANNEL_RTOL
    for state in [(10.0, 50.0, 100.0, 1e3), (-8.0, -20.0, 1e4, 1e4), (0.5, 0.0, 1e-30, 1e6), (0.999, 30.0, 1e3, 1e-9)]:
        assert all(math.isfinite(v) for v in channels.tilted(ERF, *state)), state


def test_expected_loss_against_adaptive_quadrature():
    states = [(y, a, b) for y, a, b, _ in _states(3, 300)]
    worst, where = _worst(channels.expected_loss, naive.erf_expected_loss, states)
    assert worst < ERF_EXPECTED_LOSS_RTOL, f"{worst:.1e} at (y, a, b) = {where}"
