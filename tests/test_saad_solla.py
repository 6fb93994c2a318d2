"""The closed-form (Saad & Solla) drift of the order-parameter ODE and its compiled integrator.

The closed-form averages against the drift's quadrature (kernels/dynamics.py) and an independent dblquad
(tests/naive.py); the assembled drift against :class:`Drift`; the compiled Dormand-Prince 5(4) against SciPy and
against the explicit solution of linear/none; its blow-up stop; integrate_ode's closed-form path against its
quadrature path.
"""

import dataclasses
import math

import numpy as np
import pytest
from naive import drift_averages
from scipy import integrate
from tolerances import (
    DBLQUAD_RTOL,
    DRIFT_FINE_QUADRATURE_RTOL,
    DRIFT_QUADRATURE_RTOL,
    ODE_CLOSED_FORM_RTOL,
    ODE_INTEGRATOR_RTOL,
)

from statmech_bn.dynamics.ode import (
    CLOSED_FORM_TOLERANCES,
    Drift,
    closed_form_applies,
    initial_state,
    integrate_ode,
)
from statmech_bn.dynamics.problem import DynamicsProblem, output_times
from statmech_bn.kernels.codes import ERF, LINEAR
from statmech_bn.kernels.dynamics import sample_averages
from statmech_bn.kernels.ode_rk import BLOWUP, SUCCESS, dopri5_closed_form
from statmech_bn.kernels.saad_solla import closed_form_averages, closed_form_drift
from statmech_bn.quadrature import DRIFT_NODES, TAIL_CUT, legendre

TIMES = output_times(100.0, 40)
FIELDS = ("overlap", "norm", "gamma", "beta", "eps_gen", "eta_eff")


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


@pytest.mark.parametrize("activation", ["linear", "erf", "relu"])
@pytest.mark.parametrize("normalizer", ["none", "pn", "wn", "pn_gd"])
def test_closed_form_drift_equals_the_quadrature_drift(activation, normalizer):
    """closed_form_drift against the right-hand side of Drift on the quadrature averages (weight decay, gamma decay,
    batch size, noise), at random states (linear and relu with a bias)."""
    problem = DynamicsProblem(activation, normalizer, 1.3, batch_size=3, zeta=0.1, weight_decay=0.02, noise=0.3)
    drift = Drift(problem, closed_forms=False)
    rng = np.random.default_rng(7)
    averages, closed = np.empty(4), np.empty(4)
    for _ in range(40):
        norm, overlap, gamma = rng.uniform(0.5, 2.0), rng.uniform(-1.0, 1.0), rng.uniform(0.2, 2.0)
        beta = rng.uniform(-1.0, 1.0) if activation != "erf" else 0.0
        y = np.array([overlap * norm, norm * norm, gamma, beta])
        closed_form_drift(y, problem.learning_rate, problem.weight_decay, float(problem.batch_size), problem.penalty,
                          problem.spherical, problem.code, problem.noise, averages, closed)
        assert relative_error(closed, drift(0.0, y)) < DRIFT_QUADRATURE_RTOL


def compiled(problem, times=TIMES, rtol=CLOSED_FORM_TOLERANCES[0], atol=CLOSED_FORM_TOLERANCES[1], blowup=1e6):
    """(status, filled, steps, t, states) of the compiled integrator from the problem's initial state."""
    states = np.full((times.size, 4), np.nan)
    result = dopri5_closed_form(initial_state(problem), 0.0, times, float(problem.learning_rate),
                                float(problem.weight_decay), float(problem.batch_size), float(problem.penalty),
                                problem.spherical, problem.code, float(problem.noise), rtol, atol, blowup, 10**7,
                                states)
    return (*result, states)


INTEGRATOR_CASES = [
    DynamicsProblem("erf", "none", 0.5, initial_overlap=0.1),  # the Saad-Solla case: erf, no normalizer, M = 1
    DynamicsProblem("erf", "pn_gd", 2.0, batch_size=8, zeta=0.05, weight_decay=0.01, noise=0.3, initial_gamma=1.2),
    DynamicsProblem("linear", "pn", 2.0, noise=0.3, initial_overlap=0.1, initial_norm=0.8, initial_beta=0.2),
    DynamicsProblem("linear", "none", 2.0, batch_size=8, noise=0.3, initial_norm=0.8, initial_beta=0.2),
    DynamicsProblem("relu", "pn_gd", 0.5, batch_size=8, zeta=0.05, noise=0.3, initial_overlap=0.1),
]


@pytest.mark.parametrize("problem", INTEGRATOR_CASES, ids=lambda p: f"{p.activation}-{p.normalizer}")
def test_compiled_integrator_against_scipy(problem):
    """Default tolerances of the compiled Dormand-Prince 5(4) against SciPy's DOP853 at rtol 1e-12 on the same
    closed-form drift, at every output time."""
    status, filled, steps, t, states = compiled(problem)
    assert status == SUCCESS and filled == TIMES.size and t == TIMES[-1] and steps > 0
    averages = np.empty(4)

    def rhs(t, y):
        dy = np.empty(4)
        closed_form_drift(y, problem.learning_rate, problem.weight_decay, float(problem.batch_size),
                          problem.penalty, problem.spherical, problem.code, problem.noise, averages, dy)
        return dy

    reference = integrate.solve_ivp(rhs, (0.0, TIMES[-1]), initial_state(problem), method="DOP853", t_eval=TIMES,
                                    rtol=1e-12, atol=1e-14).y.T
    assert relative_error(states, reference) < ODE_INTEGRATOR_RTOL


@pytest.mark.parametrize("eta, m, noise, beta0", [(0.5, 1, 0.3, 0.0), (1.5, 1, 0.0, 0.0), (3.0, 4, 0.5, 0.3),
                                                  (12.0, 8, 0.3, -0.2)])
def test_linear_none_trajectory_is_the_explicit_solution(eta, m, noise, beta0):
    """linear/none: beta = beta0 exp(-eta t) and e = Q - 2m + 1 obeys de/dt = -k e + eta^2 (sigma^2 + beta^2)/M with
    k = eta (2 - eta/M), so e(t) = c/k + (e0 - c/k + beta0^2) exp(-k t) - beta0^2 exp(-2 eta t), c = eta^2 sigma^2/M
    (beta = 0: the exponential of :mod:`statmech_bn.dynamics.ode`). Checked at every output time, on the kernel's
    states and on integrate_ode's eps_g = (e + beta^2)/2 and beta."""
    overlap0, norm0 = 0.2, 0.7
    problem = DynamicsProblem("linear", "none", eta, batch_size=m, noise=noise, initial_overlap=overlap0,
                              initial_norm=norm0, initial_beta=beta0)
    k, c = eta * (2.0 - eta / m), eta**2 * noise**2 / m
    e0 = norm0**2 - 2.0 * overlap0 * norm0 + 1.0
    e = c / k + (e0 - c / k + beta0**2) * np.exp(-k * TIMES) - beta0**2 * np.exp(-2.0 * eta * TIMES)
    beta = beta0 * np.exp(-eta * TIMES)
    status, _, _, _, states = compiled(problem)
    assert status == SUCCESS
    assert relative_error(states[:, 1] - 2.0 * states[:, 0] + 1.0, e) < ODE_CLOSED_FORM_RTOL
    assert relative_error(states[:, 3], beta) < ODE_CLOSED_FORM_RTOL
    trajectory = integrate_ode(problem, TIMES)
    assert trajectory.converged and trajectory.drift_sem == 0.0
    assert relative_error(trajectory.eps_gen, (e + beta**2) / 2.0) < ODE_CLOSED_FORM_RTOL
    assert relative_error(trajectory.beta, beta) < ODE_CLOSED_FORM_RTOL


def test_divergence_is_stopped_flagged_and_nan_after():
    """linear/none above eta_max = 2M (eta = 2.5, M = 1): e grows like exp(eta (eta/M - 2) t) and the run stops where
    max |y| = Q passes the bound 1e6 (between the last finite and the first NaN output of the explicit Q); every later
    output is NaN (none's gamma is reported as 1), not converged, exactly as on the quadrature path. Just below
    eta_max it converges."""
    problem = DynamicsProblem("linear", "none", 2.5, noise=0.3)
    eta, sigma2 = 2.5, 0.09
    k, c = eta * (2.0 - eta), eta**2 * sigma2
    exact_q = (c / k + (2.0 - c / k) * np.exp(-k * TIMES)) + 2.0 * (1.0 - np.exp(-eta * TIMES)) - 1.0  # e + 2m - 1
    status, filled, _, t, states = compiled(problem)
    assert status == BLOWUP and 0 < filled < TIMES.size and TIMES[filled - 1] < t < TIMES[filled]
    assert exact_q[filled - 1] < 1e6 < exact_q[filled]
    assert np.all(np.isfinite(states[:filled])) and np.all(np.isnan(states[filled:]))
    closed, quadrature = integrate_ode(problem, TIMES), integrate_ode(problem, TIMES, closed_form=False)
    for trajectory in (closed, quadrature):
        assert not trajectory.converged and trajectory.message.startswith("diverged or failed")
        for field in ("overlap", "norm", "beta", "eps_gen"):
            values = getattr(trajectory, field)
            assert np.all(np.isfinite(values[:filled])) and np.all(np.isnan(values[filled:])), field
    below = integrate_ode(dataclasses.replace(problem, learning_rate=1.9), TIMES)
    assert below.converged and np.all(np.isfinite(below.eps_gen))


def test_closed_form_path_is_chosen_where_it_applies():
    assert closed_form_applies(DynamicsProblem("erf", "pn", 1.0))
    assert closed_form_applies(DynamicsProblem("linear", "none", 1.0, initial_beta=0.5))
    assert not closed_form_applies(DynamicsProblem("erf", "pn", 1.0, initial_beta=0.1))  # beta moves: quadrature
    assert closed_form_applies(DynamicsProblem("relu", "none", 1.0, initial_beta=0.3))
    assert not closed_form_applies(DynamicsProblem("linear", "bn", 1.0, batch_size=8))
    with pytest.raises(ValueError, match="no closed-form drift"):
        integrate_ode(DynamicsProblem("erf", "pn", 1.0, initial_beta=0.1), TIMES, closed_form=True)
    erf = integrate_ode(DynamicsProblem("erf", "pn_gd", 1.0, zeta=0.05, noise=0.3), TIMES)
    assert erf.converged and "closed-form" in erf.message and np.all(erf.beta == 0.0)


PATH_CASES = [
    DynamicsProblem("erf", "none", 0.5, initial_overlap=0.1, initial_norm=0.8),
    DynamicsProblem("erf", "pn", 2.0, batch_size=8, noise=0.3, initial_overlap=0.1, initial_gamma=1.2),
    DynamicsProblem("erf", "pn_gd", 2.0, zeta=0.05, weight_decay=0.01, noise=0.3, initial_norm=0.8),
    DynamicsProblem("linear", "none", 2.0, batch_size=8, noise=0.3, initial_norm=0.8, initial_beta=0.2),
    DynamicsProblem("linear", "wn", 0.5, batch_size=8, initial_overlap=0.1, initial_gamma=1.2, initial_beta=0.2),
    DynamicsProblem("relu", "none", 0.5, batch_size=8, noise=0.3, initial_overlap=0.1, initial_beta=0.2),
    DynamicsProblem("relu", "pn_gd", 2.0, zeta=0.05, weight_decay=0.01, noise=0.3, initial_norm=0.8),
]


@pytest.mark.parametrize("problem", PATH_CASES, ids=lambda p: f"{p.activation}-{p.normalizer}")
def test_closed_form_path_equals_the_quadrature_path(problem):
    """integrate_ode's compiled closed-form path at its default tolerances against its quadrature path (SciPy RK45
    on Drift) at rtol 1e-12: every field of the Trajectory at every output time (a subset of the grid measured in
    ODE_CLOSED_FORM_RTOL)."""
    closed = integrate_ode(problem, TIMES)
    quadrature = integrate_ode(problem, TIMES, closed_form=False, rtol=1e-12, atol=1e-14)
    assert closed.converged and quadrature.converged and closed.drift_sem == 0.0
    for field in FIELDS:
        assert relative_error(getattr(closed, field), getattr(quadrature, field)) < ODE_CLOSED_FORM_RTOL, field
    assert math.isfinite(closed.eps_gen[-1])
