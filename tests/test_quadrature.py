"""Outer Gaussian averages (teacher, replica and noise fields) against nested adaptive quadrature.

The references integrate the kernels' own per-label channels (tested against SciPy in
test_channels.py) with scipy.integrate.quad_vec, so what is checked here is the quadrature rules and the
bookkeeping of the averages, at the default node counts of the theory.
"""

import math

import naive
import numpy as np
import pytest
from scipy import integrate
from tolerances import ERF_SMOOTH_RULE_ATOL, QUADRATURE_RTOL

from statmech_bn.kernels import channels
from statmech_bn.kernels.erf_erm import GIBBS_SMOOTH_SLOPE, SMOOTH_LINE_SIZES, smooth_rule
from statmech_bn.kernels.saddle import N_SUMS, erm_sums, gibbs_sums, gibbs_sums_by_quadrature, loss_sums
from statmech_bn.model import ACTIVATIONS
from statmech_bn.quadrature import TAIL_CUT
from statmech_bn.theory.problem import Problem


def _gibbs_reference(name, m, q, v, gamma, beta, beta_t, noise):
    code = ACTIVATIONS[name].code
    cross = math.sqrt(q - m * m)

    def integrand(tau, eta, xi):
        y = naive.act(name, tau) + noise * xi
        omega = m * tau + cross * eta
        log_z, g_a, g_aa, mean_loss = channels.tilted(code, y, gamma * omega + beta, gamma**2 * v, beta_t)
        f = gamma * g_a
        return np.array([log_z, f * f, tau * f, gamma**2 * g_aa, omega * g_a + gamma * v * (g_aa + g_a**2), g_a,
                         mean_loss])

    return naive.outer_average(integrand, name in ("relu", "sign"), noise)


@pytest.mark.parametrize("name,noise", [("linear", 0.0), ("relu", 0.0), ("sign", 0.0),
                                        pytest.param("relu", 0.3, marks=pytest.mark.slow)])
def test_gibbs_sums_against_adaptive_quadrature(name, noise):
    problem = Problem(name, "pn", "gibbs", temperature=0.5, noise=noise)
    r = problem.rules()
    m, q, gamma, beta, beta_t = 0.6, 0.5, 0.9, 0.1, 2.0
    out = np.empty(N_SUMS)
    gibbs_sums(problem.code, problem.code, m, q, 1 - q, gamma, beta, beta_t, noise, r.tau_x, r.tau_w, r.eta_x,
               r.eta_w, r.xi_x, r.xi_w, r.feature_x, r.feature_w, r.tail_x, r.tail_w, out)
    want = _gibbs_reference(name, m, q, 1 - q, gamma, beta, beta_t, noise)
    np.testing.assert_allclose(out, want, rtol=QUADRATURE_RTOL, atol=1e-9)


@pytest.mark.parametrize("name,m,q,noise", [("relu", 0.0, 0.0, 0.0),
                                             pytest.param("relu", 0.0, 0.0, 0.3, marks=pytest.mark.slow),
                                             ("relu", -1e-13, 0.0, 0.0), ("erf", 0.5, 0.25, 0.0),
                                             ("sign", -0.3, 0.09, 0.0)])
def test_gibbs_sums_where_the_replica_field_drops_out(name, m, q, noise):
    """q = m^2 (the uninformed point R = q = 0 among them, which the solver crosses at every learning transition, and
    its round-off neighbour |m| > sqrt q): the replica field sqrt(q - m^2) eta is zero and each line of the tensor rule
    is one state (evaluated once); against the adaptive reference, which still integrates over eta."""
    problem = Problem(name, "pn", "gibbs", temperature=0.5, noise=noise)
    r = problem.rules()
    gamma, beta, beta_t = 0.7, 0.2, 2.0
    out = np.empty(N_SUMS)
    gibbs_sums(problem.code, problem.code, m, q, 1 - q, gamma, beta, beta_t, noise, r.tau_x, r.tau_w, r.eta_x,
               r.eta_w, r.xi_x, r.xi_w, r.feature_x, r.feature_w, r.tail_x, r.tail_w, out)
    want = _gibbs_reference(name, m, max(q, m * m), 1 - q, gamma, beta, beta_t, noise)
    np.testing.assert_allclose(out, want, rtol=QUADRATURE_RTOL, atol=1e-9)


@pytest.mark.parametrize("name", ["linear", "relu"])
def test_erm_sums_against_adaptive_quadrature(name):
    problem = Problem(name, "pn", "erm")
    r = problem.rules(problem.quadrature.erm_replica_nodes)
    code = problem.code
    m, chi, gamma, beta = 0.8, 1.5, 1.1, -0.05
    cross = math.sqrt(1 - m * m)
    out = np.empty(N_SUMS)
    erm_sums(code, code, m, 1.0, chi, gamma, beta, 0.0, r.tau_x, r.tau_w, r.eta_x, r.eta_w, r.xi_x, r.xi_w,
             r.piece_x, r.piece_w, TAIL_CUT, r.feature_x, r.feature_w, r.tail_x, r.tail_w, out)

    def integrand(tau, eta, xi):
        omega = m * tau + cross * eta
        a = gamma * omega + beta
        c = gamma**2 * chi
        env, h, dh, lh = channels.moreau(code, naive.act(name, tau), a, c)
        g_a = (h - a) / c
        return np.array([-env, (gamma * g_a) ** 2, tau * gamma * g_a, eta * gamma * g_a / cross,
                         omega * g_a + gamma * chi * g_a**2, g_a, lh])

    want = naive.outer_average(integrand, name == "relu", 0.0)
    # relu: the kernel splits the replica field at the prox's kinks; the reference adapts to them
    np.testing.assert_allclose(out, want, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", ["linear", "relu", "erf", "sign"])
def test_generalization_error_against_nested_quadrature(name):
    """eps_g = E_u[E_lambda|u (g(u) - g(gamma lambda + beta))^2/2], each level adaptive and split at kinks."""
    problem = Problem(name, "pn", "high_temperature")
    r = problem.rules()
    overlap, gamma, beta = 0.7, 1.3, 0.2
    out = np.empty(N_SUMS)
    loss_sums(problem.code, problem.code, overlap, 1 - overlap**2, gamma, beta, 0.0, r.tau_x, r.tau_w,
              np.zeros(1), np.ones(1), r.feature_x, r.feature_w, r.tail_x, r.tail_w, out)
    b = gamma**2 * (1 - overlap**2)

    def given_teacher(u):
        return naive.phi(u) * naive.gauss_expect(lambda h: naive.loss(name, naive.act(name, u), h),
                                                 gamma * overlap * u + beta, b)

    want = sum(integrate.quad(given_teacher, lo, hi, epsabs=1e-13, epsrel=1e-11, limit=200)[0]
               for lo, hi in ((-np.inf, 0.0), (0.0, np.inf)))
    assert out[0] == pytest.approx(want, rel=QUADRATURE_RTOL)


@pytest.mark.parametrize("noise", [0.0, 0.5])
@pytest.mark.parametrize("m,q,gamma,beta,nodes", [(0.08, 0.1, 0.2, 0.0, 12), (0.5, 0.3, 0.4, 0.0, 16),
                                                  (0.5, 0.3, 0.5, 0.1, 24), (0.7, 0.6, 0.9, 0.1, 32),
                                                  (0.99, 0.985, 0.55, -0.05, 12)])
def test_erf_gibbs_sums_match_the_full_rule(m, q, gamma, beta, nodes, noise):
    """erf's Gibbs sums leave out the nodes of weight < NEGLIGIBLE_WEIGHT and take 12-24 replica nodes on smooth lines
    of small slope (the states' rules in ``nodes``): against every node of the 32-node rule."""
    problem = Problem("erf", "pn", "gibbs", temperature=0.5, noise=noise)
    r = problem.rules()
    row = smooth_rule(gamma * math.sqrt(q - m * m), GIBBS_SMOOTH_SLOPE, r.eta_x.size)
    assert (SMOOTH_LINE_SIZES[row] if row >= 0 else r.eta_x.size) == nodes
    args = (problem.code, problem.code, m, q, 1 - q, gamma, beta, 2.0, noise, r.tau_x, r.tau_w, r.eta_x, r.eta_w,
            r.xi_x, r.xi_w)
    got = np.empty(N_SUMS)
    want = np.empty(N_SUMS)
    gibbs_sums(*args, r.feature_x, r.feature_w, r.tail_x, r.tail_w, got)
    gibbs_sums_by_quadrature(*args, want)
    np.testing.assert_allclose(got, want, rtol=0.0, atol=ERF_SMOOTH_RULE_ATOL)
