"""relu's per-sample drift averages in closed form (kernels/relu_drift.py) against the quadrature kernel they replace
(kernels/dynamics.py), nested adaptive SciPy integration, Monte Carlo and their limits."""

import math

import numpy as np
import pytest
from naive import drift_sample_averages
from tolerances import MONTE_CARLO_SIGMAS, RELU_DRIFT_QUADRATURE_ATOL, RELU_DRIFT_REFERENCE_ATOL

from statmech_bn.kernels.codes import RELU
from statmech_bn.kernels.dynamics import SAMPLE_SLOTS, sample_averages
from statmech_bn.kernels.relu_drift import relu_sample_averages
from statmech_bn.quadrature import DRIFT_NODES, TAIL_CUT, legendre


def by_quadrature(overlap, scale, beta, noise):
    x, w = legendre(DRIFT_NODES)
    out = np.empty(SAMPLE_SLOTS)
    sample_averages(RELU, overlap, scale, beta, noise, x, w, TAIL_CUT, np.empty(5 * DRIFT_NODES),
                    np.empty(5 * DRIFT_NODES), np.empty(2 * DRIFT_NODES), np.empty(2 * DRIFT_NODES), out)
    return out


def closed_form(overlap, scale, beta, noise):
    out = np.empty(SAMPLE_SLOTS)
    relu_sample_averages(overlap, scale, beta, noise, out)
    return out


def random_states(seed, count):
    """R uniform in (-1, 1), every fourth with 1 - |R| = 10^-(2..15); scale uniform in (-3, 3), every sixth with
    |scale| = 10^-(3..15); beta uniform in (-2, 2); noise 0 and 0.3 alternately."""
    rng = np.random.default_rng(seed)
    for i in range(count):
        overlap = rng.uniform(-1.0, 1.0)
        if i % 4 == 0:
            overlap = rng.choice([-1.0, 1.0]) * (1.0 - 10.0 ** rng.uniform(-15.0, -2.0))
        scale = rng.uniform(-3.0, 3.0)
        if i % 6 == 0:
            scale = rng.choice([-1.0, 1.0]) * 10.0 ** rng.uniform(-15.0, -3.0)
        yield overlap, scale, rng.uniform(-2.0, 2.0), (0.0, 0.3)[i % 2]


def test_against_the_quadrature_on_random_states():
    for state in random_states(20261126, 400):
        np.testing.assert_allclose(closed_form(*state), by_quadrature(*state), rtol=0.0,
                                   atol=RELU_DRIFT_QUADRATURE_ATOL, err_msg=str(state))


@pytest.mark.parametrize("overlap", [-1.0, 1.0])
@pytest.mark.parametrize("scale, beta", [(1.3, 0.2), (-0.7, 0.0), (2.5, -1.5), (-1.1, 0.9), (0.0, 0.4), (0.0, -0.4)])
def test_against_the_quadrature_at_identical_fields_and_zero_gain(overlap, scale, beta):
    """|R| = 1 (the quadrature's u = R lambda branch) and scale = 0 (a = beta), where the closed form takes limits."""
    np.testing.assert_allclose(closed_form(overlap, scale, beta, 0.3), by_quadrature(overlap, scale, beta, 0.3),
                               rtol=0.0, atol=RELU_DRIFT_QUADRATURE_ATOL)


@pytest.mark.parametrize("state", [(0.6, 1.3, 0.2, 0.3), (-0.4, -0.8, -0.5, 0.0), (0.95, 2.5, -1.5, 0.3),
                                   (-0.999, 0.7, 0.4, 0.3), (0.3, 1e-6, 0.1, 0.3), (0.9999, -2.9, 1.6, 0.0),
                                   (0.999, -2.5, 1.87, 0.3)])
def test_against_adaptive_integration(state):
    np.testing.assert_allclose(closed_form(*state), drift_sample_averages("relu", *state), rtol=0.0,
                               atol=RELU_DRIFT_REFERENCE_ATOL)


def test_against_monte_carlo():
    """2e6 seeded samples of (lambda, u, xi) at one state, within MONTE_CARLO_SIGMAS standard errors."""
    overlap, scale, beta, noise = 0.6, -1.3, 0.2, 0.3
    rng = np.random.default_rng(8)
    k = 2_000_000
    lam = rng.standard_normal(k)
    u = overlap * lam + math.sqrt(1.0 - overlap**2) * rng.standard_normal(k)
    a = scale * lam + beta
    d = (np.maximum(a, 0.0) - np.maximum(u, 0.0) - noise * rng.standard_normal(k)) * (a > 0.0)
    got = closed_form(overlap, scale, beta, noise)
    for value, samples in zip(got, (d, d * lam, d * u, d * d), strict=True):
        assert abs(value - samples.mean()) <= MONTE_CARLO_SIGMAS * samples.std() / math.sqrt(k)


@pytest.mark.parametrize("overlap", [-1.0, -0.3, 0.8, 1.0])
@pytest.mark.parametrize("beta", [-0.6, 0.0, 0.6])
def test_zero_gain(overlap, beta):
    """scale = 0: a = beta, d = (beta - u^+ - noise xi) 1[beta > 0]; E[u^+] = 1/sqrt(2 pi), E[lambda u^+] = R/2,
    E[u u^+] = E[(u^+)^2] = 1/2. Tiny gains of either sign tend to it when beta != 0 (at beta = 0, a = scale lambda
    is positive on half of the lambdas however small the gain)."""
    noise = 0.3
    if beta > 0.0:
        expected = [beta - 1.0 / math.sqrt(2.0 * math.pi), -overlap / 2.0, -0.5,
                    beta**2 - 2.0 * beta / math.sqrt(2.0 * math.pi) + 0.5 + noise**2]
    else:
        expected = [0.0, 0.0, 0.0, 0.0]
    for scale in (0.0, 1e-300, -1e-300) if beta != 0.0 else (0.0,):
        np.testing.assert_allclose(closed_form(overlap, scale, beta, noise), expected, rtol=0.0, atol=1e-15)


def test_continuous_as_the_fields_become_identical():
    """R -> +-1 and R = +-1 (the branch without the Gaussian's correlation rest), at beta = 0 too."""
    for beta in (-0.4, 0.0, 0.7):
        for sign in (-1.0, 1.0):
            limit = closed_form(sign, 1.7, beta, 0.3)
            np.testing.assert_allclose(closed_form(sign * (1.0 - 1e-15), 1.7, beta, 0.3), limit, rtol=0.0, atol=1e-7)
