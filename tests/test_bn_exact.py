"""bn's drift averages by exact integration over the batch (kernels/bn_exact.py) against the Monte-Carlo kernel
(kernels/dynamics.py batch_averages, the reference), closed forms and a many-node rule."""

import math

import numpy as np
import pytest
from tolerances import BN_EXACT_ATOL, MONTE_CARLO_SIGMAS

from statmech_bn.dynamics.ode import Drift, exact_batch_applies, monte_carlo_drift
from statmech_bn.dynamics.problem import DynamicsProblem
from statmech_bn.kernels.bn_exact import bn_exact_averages
from statmech_bn.kernels.codes import LINEAR, RELU
from statmech_bn.kernels.dynamics import batch_averages
from statmech_bn.quadrature import batch_rules


def exact(code, m, overlap, gamma, beta, noise, rules=None):
    out = np.empty(4)
    bn_exact_averages(code, overlap, gamma, beta, noise, m, *(rules or batch_rules(m)), out)
    return out


@pytest.mark.parametrize("code", [RELU, LINEAR])
@pytest.mark.parametrize(("m", "overlap", "gamma", "beta", "noise"),
                         [(8, 0.9, 0.8, 0.1, 0.0), (8, 0.9997, 0.84, 0.085, 0.0), (4, 0.6, 1.3, -0.4, 0.3),
                          (6, 0.99, -0.7, 0.3, 0.3), (12, 0.3, 0.5, 0.2, 0.0)])
def test_against_monte_carlo(code, m, overlap, gamma, beta, noise):
    """The four averages within MONTE_CARLO_SIGMAS standard errors of 400,000 Monte-Carlo batches."""
    rng = np.random.default_rng(20261201 + m)
    lam, v, xi = (rng.standard_normal((400_000, m)) for _ in range(3))
    mean, sem = np.empty(4), np.empty(4)
    batch_averages(code, overlap, gamma, beta, noise, lam, v, xi, mean, sem)
    got = exact(code, m, overlap, gamma, beta, noise)
    assert np.all(np.abs(got - mean) < MONTE_CARLO_SIGMAS * sem), (got, mean, sem)


@pytest.mark.parametrize("m", [4, 5, 8, 12])
def test_linear_closed_forms(m):
    """linear g (to BN_EXACT_ATOL: the smoothstep rules are exact only in the limit; measured 5e-9):
    E[mean d] = beta, E[mean d z] = gamma - R E[s] (u = R lambda + ..., E[lambda z] = E[s]) and
    O0 = -(1 - R^2)(1 - 2/M) E[1/s], with E[s^k] = (2/M)^(k/2) Gamma((M - 1 + k)/2)/Gamma((M - 1)/2)."""
    overlap, gamma, beta = 0.8, 1.2, 0.3
    got = exact(LINEAR, m, overlap, gamma, beta, 0.0)

    def moment(k):
        return (2.0 / m) ** (k / 2) * math.exp(math.lgamma((m - 1 + k) / 2) - math.lgamma((m - 1) / 2))

    assert got[3] == pytest.approx(beta, abs=BN_EXACT_ATOL)
    assert got[2] == pytest.approx(gamma - overlap * moment(1), abs=BN_EXACT_ATOL)
    assert got[0] == pytest.approx(-(1 - overlap**2) * (1 - 2 / m) * moment(-1), abs=BN_EXACT_ATOL)


@pytest.mark.parametrize(("m", "overlap", "gamma", "beta"),
                         [(8, 0.9997, 0.84, 0.085), (8, 0.8, 0.68, 0.22), (8, 1.0, 0.8, 0.1), (4, 0.8, 1.0, 0.2),
                          (5, 0.95, 0.5, 0.4), (8, 0.99, -0.7, 0.3), (8, 0.999, 0.2, 0.9), (12, 0.99, 0.8, 0.1)])
def test_default_nodes_against_many(m, overlap, gamma, beta):
    """relu at the default nodes against 64 sphere and 12 scale nodes (converged to ~1e-10): BN_EXACT_ATOL."""
    reference = exact(RELU, m, overlap, gamma, beta, 0.3, batch_rules(m, 64, 12))
    assert np.max(np.abs(exact(RELU, m, overlap, gamma, beta, 0.3) - reference)) < BN_EXACT_ATOL


def test_drift_chooses_exact_or_monte_carlo():
    relu = DynamicsProblem("relu", "bn", 0.5, batch_size=8)
    assert exact_batch_applies(relu) and not monte_carlo_drift(relu)
    for problem in (DynamicsProblem("erf", "bn", 0.5, batch_size=8), DynamicsProblem("relu", "bn", 0.5, batch_size=3),
                    DynamicsProblem("linear", "bn", 0.5, batch_size=8),
                    DynamicsProblem("relu", "bn", 0.5, batch_size=64)):
        assert monte_carlo_drift(problem) and not exact_batch_applies(problem)
    state = np.array([0.5, 1.0, 0.9, 0.1])
    first, second = Drift(relu, 1)(0.0, state), Drift(relu, 2)(0.0, state)
    assert np.array_equal(first, second)  # no seed dependence
    mc = [Drift(relu, s, monte_carlo=True)(0.0, state) for s in range(8)]
    assert np.all(np.abs(first - np.mean(mc, axis=0)) < MONTE_CARLO_SIGMAS * np.std(mc, axis=0, ddof=1) / math.sqrt(8)
                  + 1e-12)
