"""erf's Gibbs sums with the tilted channel on one grid in h per teacher field (kernels/erf_gibbs.py): the grid channel
against adaptive quadrature (tests/naive.py), and the sums against the per-node channel of kernels/channels.py at every
node of the same rules (gibbs_sums_by_quadrature), where the grid serves every line, some, or none."""

import math

import naive
import numpy as np
import pytest
from tolerances import ERF_GRID_RTOL, ERF_GRID_SUMS_ATOL

from statmech_bn.kernels import channels
from statmech_bn.kernels.erf_gibbs import GRID_MAX_BETA, erf_grid_lines, erf_tilted_grid
from statmech_bn.kernels.saddle import N_SUMS, gibbs_sums, gibbs_sums_by_quadrature
from statmech_bn.model import ACTIVATIONS
from statmech_bn.theory.problem import Problem

ERF = ACTIVATIONS["erf"].code


def _states(seed, count):
    """(y, a, b, beta_t) with |y| < 3, |a| < 8, b log-uniform on (1e-3, 2), beta_t log-uniform on (0.05, GRID_MAX_BETA)
    (where one node's window fits the grid)."""
    rng = np.random.default_rng(seed)
    for _ in range(count):
        yield (rng.uniform(-3.0, 3.0), rng.uniform(-8.0, 8.0), math.exp(rng.uniform(math.log(1e-3), math.log(2.0))),
               math.exp(rng.uniform(math.log(0.05), math.log(GRID_MAX_BETA))))


def _worst(states):
    worst, where = 0.0, None
    for state in states:
        got = np.asarray(erf_tilted_grid(*state))
        want = np.asarray(naive.erf_tilted(*state))
        error = float(np.max(np.abs(got - want) / (1.0 + np.abs(want))))
        if not error <= worst:
            worst, where = error, state
    return worst, where


def test_grid_channel_against_adaptive_quadrature():
    worst, where = _worst(_states(1, 120))
    assert worst < ERF_GRID_RTOL, f"{worst:.1e} at (y, a, b, beta_t) = {where}"


@pytest.mark.slow
def test_grid_channel_against_adaptive_quadrature_many_states():
    worst, where = _worst(_states(2, 1500))
    assert worst < ERF_GRID_RTOL, f"{worst:.1e} at (y, a, b, beta_t) = {where}"


def test_grid_channel_where_the_tilt_dominates():
    """Labels far outside [-1, 1] at the largest beta_t and a wide prior (a bimodal or shifted tilted measure)."""
    for y, a, b in [(2.9, -3.0, 1.5), (-2.5, 0.5, 2.0), (0.2, 6.0, 0.8)]:
        want = np.asarray(naive.erf_tilted(y, a, b, GRID_MAX_BETA))
        got = np.asarray(erf_tilted_grid(y, a, b, GRID_MAX_BETA))
        np.testing.assert_allclose(got, want, rtol=ERF_GRID_RTOL, atol=ERF_GRID_RTOL)


def _sums(kernel, noise, m, q, v, gamma, beta, beta_t):
    r = Problem("erf", "pn", "gibbs", temperature=0.5, noise=noise).rules()
    out = np.empty(N_SUMS)
    args = (ERF, ERF, m, q, v, gamma, beta, beta_t, noise, r.tau_x, r.tau_w, r.eta_x, r.eta_w, r.xi_x, r.xi_w)
    if kernel is gibbs_sums:
        args += (r.feature_x, r.feature_w, r.tail_x, r.tail_w)
    kernel(*args, out)
    return out


@pytest.mark.parametrize("noise", [0.0, 0.5])
@pytest.mark.parametrize("m,q,v,gamma,beta,beta_t", [
    (0.3, 0.2, 0.8, 1.2, 0.1, 2.0),  # wide prior: the per-node channel takes its panels
    (0.7, 0.6, 0.4, 0.9, -0.2, 2.0),
    (0.97, 0.95, 0.05, 0.8, 0.0, 2.0),  # small slope: smooth lines take the smaller replica rules
    (0.5, 0.4, 0.6, 1.0, 0.3, 0.1),
    (0.6, 0.5, 0.5, 1.1, 0.1, 9.0),
    (0.99, 0.999, 1e-5, 1.5, 0.0, 2.0),  # the lines need more than GRID_MAX_POINTS: the per-node channel
    (0.6, 0.5, 0.5, 1.1, 0.1, 20.0),  # beta_t above GRID_MAX_BETA: the per-node channel
])
def test_gibbs_sums_against_the_per_node_channel(noise, m, q, v, gamma, beta, beta_t):
    got = _sums(gibbs_sums, noise, m, q, v, gamma, beta, beta_t)
    want = _sums(gibbs_sums_by_quadrature, noise, m, q, v, gamma, beta, beta_t)
    np.testing.assert_allclose(got, want, rtol=0.0, atol=ERF_GRID_SUMS_ATOL)


def test_grid_lines_refuse_what_does_not_fit():
    """A line of long span at small b needs more than GRID_MAX_POINTS points: refused, nothing added; the same line at
    moderate b fits, and its sums are the per-node channel's."""
    eta_x, eta_w = np.polynomial.hermite_e.hermegauss(16)
    eta_w = eta_w / eta_w.sum()
    ys = np.array([0.4, -1.3])
    line_ws = np.array([0.6, 0.4])
    table, rows, gauss = np.empty((2, 512)), np.empty((2, 5, 512)), np.empty(512)
    out = np.zeros(N_SUMS)
    assert not erf_grid_lines(ys, line_ws, 2, 0.5, 0.5, 0.8, 1.0, 0.1, 1e-4, 1e-4, 2.0, eta_x, eta_w, 0.0, table,
                              rows, gauss, out)
    assert not out.any()
    m, cross, gamma, beta, v, beta_t, tau = 0.5, 0.8, 1.0, 0.1, 0.3, 2.0, 0.5
    assert erf_grid_lines(ys, line_ws, 2, tau, m, cross, gamma, beta, v, gamma * gamma * v, beta_t, eta_x, eta_w, 0.0,
                          table, rows, gauss, out)
    want = np.zeros(N_SUMS)
    for y, line_w in zip(ys, line_ws, strict=True):
        for x, w in zip(eta_x, eta_w, strict=True):
            omega = m * tau + cross * x
            log_z, g_a, g_aa, mean_loss = channels.tilted(ERF, y, gamma * omega + beta, gamma * gamma * v, beta_t)
            f = gamma * g_a
            want += line_w * w * np.array([log_z, f * f, tau * f, gamma * gamma * g_aa,
                                           omega * g_a + gamma * v * (g_aa + g_a * g_a), g_a, mean_loss])
    np.testing.assert_allclose(out, want, rtol=0.0, atol=ERF_GRID_SUMS_ATOL)
