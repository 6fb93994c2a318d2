"""The closed-form (Saad & Solla) drift of the order-parameter ODE.

The closed-form averages against the drift's quadrature (kernels/dynamics.py) and an independent dblquad
(tests/naive.py); the assembled drift against :class:`Drift`.
"""

import numpy as np
import pytest
from naive import drift_averages
from tolerances import (
    DBLQUAD_RTOL,
    DRIFT_FINE_QUADRATURE_RTOL,
    DRIFT_QUADRATURE_RTOL,
)

from statmech_bn.dynamics.ode import Drift
from statmech_bn.dynamics.problem import DynamicsProblem
from statmech_bn.kernels.codes import ERF, LINEAR
from statmech_bn.kernels.dynamics import sample_averages
from statmech_bn.kernels.saad_solla import closed_form_averages, closed_form_drift
from statmech_bn.quadrature import DRIFT_NODES, TAIL_CUT, legendre


def relative_error(value, reference) -> float:
    value, reference = np.asarray(value), np.asarray(reference)
    return float(np.max(np.abs(value - reference) / np.maximum(1.0, np.abs(reference))))


def quadrature_rule(nodes: int):
    x, w = legendre(nodes)
    return (x, w, TAIL_CUT, np.empty(5 * nodes), np.empty(5 * nodes), np.empty(2 * nodes), np.empty(2 * nodes))


def random_states(rng, count, code):
    """(R, scale, beta, noise) with R in (-1, 1), scale in (0.1, 3), noise in (0, 1); beta in (-1, 1) for linear,
    0 for erf; plus the edges R = -1, 0, 1."""
    states = [(r, s, rng.uniform(-1.0, 1.0) if code == LINEAR else 0.0, n) for r, s, n in
              zip(rng.uniform(-1.0, 1.0, count), rng.uniform(0.1, 3.0, count), rng.uniform(0.0, 1.0, count),
                  strict=True)]
    return states + [(edge, 1.3, 0.2 if code == LINEAR else 0.0, 0.3) for edge in (-1.0, 0.0, 1.0)]


@pytest.mark.parametrize("nodes, count, rtol", [(DRIFT_NODES, 1000, DRIFT_QUADRATURE_RTOL),
                                                 (2 * DRIFT_NODES, 150, DRIFT_FINE_QUADRATURE_RTOL)])
@pytest.mark.parametrize("code", [LINEAR, ERF])
def test_closed_form_averages_equal_the_quadrature(code, nodes, count, rtol):
    """E[d], E[d lambda], E[d u], E[d^2] (noise included) in closed form against the drift's 2-D quadrature, at the
    drift's node count and at twice it (the quadrature converges onto the closed form)."""
    rng = np.random.default_rng(20260)
    rule = quadrature_rule(nodes)
    quadrature, closed = np.empty(4), np.empty(4)
    worst = 0.0
    for overlap, scale, beta, noise in random_states(rng, count, code):
        sample_averages(code, overlap, scale, beta, noise, *rule, quadrature)
        closed_form_averages(code, overlap, scale, beta, noise, closed)
        worst = max(worst, relative_error(closed, quadrature))
    assert worst < rtol


@pytest.mark.parametrize("overlap, scale, noise", [(0.3, 1.7, 0.4), (-0.8, 0.6, 0.0), (0.95, 2.5, 0.2)])
def test_erf_closed_forms_against_dblquad(overlap, scale, noise):
    """erf's I3/I4/J2 averages against plain adaptive 2-D quadrature that shares no code with the kernels."""
    closed = np.empty(4)
    closed_form_averages(ERF, overlap, scale, 0.0, noise, closed)
    reference = drift_averages("erf", overlap, scale, 0.0, noise)
    assert relative_error(closed, reference) < DBLQUAD_RTOL
    assert closed[0] == 0.0  # g odd, g' even, beta = 0: beta never moves


@pytest.mark.parametrize("activation", ["linear", "erf"])
@pytest.mark.parametrize("normalizer", ["none", "pn", "wn", "pn_gd"])
def test_closed_form_drift_equals_the_quadrature_drift(activation, normalizer):
    """closed_form_drift, term for term the right-hand side of Drift (weight decay, gamma decay, batch size, noise),
    at random states (linear with a bias)."""
    problem = DynamicsProblem(activation, normalizer, 1.3, batch_size=3, zeta=0.1, weight_decay=0.02, noise=0.3)
    drift = Drift(problem)
    rng = np.random.default_rng(7)
    averages, closed = np.empty(4), np.empty(4)
    for _ in range(40):
        norm, overlap, gamma = rng.uniform(0.5, 2.0), rng.uniform(-1.0, 1.0), rng.uniform(0.2, 2.0)
        beta = rng.uniform(-1.0, 1.0) if activation == "linear" else 0.0
        y = np.array([overlap * norm, norm * norm, gamma, beta])
        closed_form_drift(y, problem.learning_rate, problem.weight_decay, float(problem.batch_size), problem.penalty,
                          problem.spherical, problem.code, problem.noise, averages, closed)
        assert relative_error(closed, drift(0.0, y)) < DRIFT_QUADRATURE_RTOL
