"""relu ERM's replica-field average in closed form (kernels/relu_erm.py) against the piecewise Gauss-Legendre
quadrature it replaces, refined until converged, and its partial moments against SciPy."""

import math

import numpy as np
import pytest
from scipy import integrate, stats
from tolerances import CLOSED_FORM_SUMS_ATOL, QUADRATURE_RTOL, RELU_ERM_REFERENCE_NODES

from statmech_bn.kernels import saddle
from statmech_bn.kernels.relu_erm import _partial_moments
from statmech_bn.model import ACTIVATIONS
from statmech_bn.theory.problem import Problem

RELU = ACTIVATIONS["relu"].code


@pytest.mark.parametrize("lo,hi", [(-math.inf, math.inf), (-math.inf, -1.3), (0.2, math.inf), (-0.7, 2.5),
                                   (6.0, 9.0), (-12.0, -8.5)])
def test_partial_moments(lo, hi):
    want = [integrate.quad(lambda x, k=k: x**k * stats.norm.pdf(x), lo, hi, epsabs=1e-15, epsrel=1e-13)[0]
            for k in range(3)]
    np.testing.assert_allclose(_partial_moments(lo, hi), want, rtol=1e-10, atol=1e-15)


def states(seed: int, count: int = 16):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        q = rng.uniform(0.05, 1.0)
        yield (np.sqrt(q) * rng.uniform(-0.99, 0.99), q, rng.uniform(0.05, 5.0),
               rng.uniform(0.1, 3.0) * rng.choice([-1.0, 1.0]), rng.normal(0.0, 0.5))


@pytest.mark.parametrize("noise", [0.0, 0.5])
def test_relu_erm_sums_against_refined_quadrature(noise):
    fine = Problem("relu", "pn", "erm", noise=noise).rules(RELU_ERM_REFERENCE_NODES)
    default = Problem("relu", "pn", "erm", noise=noise).rules(96)
    for m, q, chi, gamma, beta in states(7):
        got, want, coarse = np.empty(saddle.N_SUMS), np.empty(saddle.N_SUMS), np.empty(saddle.N_SUMS)
        saddle.erm_sums(RELU, RELU, m, q, chi, gamma, beta, noise, default.tau_x, default.tau_w, default.eta_x,
                        default.eta_w, default.xi_x, default.xi_w, default.piece_x, default.piece_w, 9.0, got)
        sign = np.sign(gamma)  # the quadrature splits at the kinks only for gamma > 0: a negative gain is its mirror
        for rules, out in ((fine, want), (default, coarse)):
            saddle.erm_sums_by_quadrature(RELU, RELU, sign * m, q, chi, sign * gamma, beta, noise, rules.tau_x,
                                          rules.tau_w, rules.eta_x, rules.eta_w, rules.xi_x, rules.xi_w,
                                          rules.piece_x, rules.piece_w, 9.0, out)
            out *= np.array([1, 1, sign, 1, sign, 1, 1])
        np.testing.assert_allclose(got, want, rtol=CLOSED_FORM_SUMS_ATOL, atol=CLOSED_FORM_SUMS_ATOL)
        np.testing.assert_allclose(coarse, want, rtol=QUADRATURE_RTOL, atol=1e-6)  # what the default quadrature gave


def test_the_closed_form_is_not_used_where_it_does_not_apply():
    """Without a cross term (q = m^2) or a gain the kernel falls back to quadrature, bit for bit."""
    r = Problem("relu", "pn", "erm", noise=0.3).rules(96)
    for m, q, gamma in ((0.5, 0.6, 0.0), (0.7, 0.49, 1.1)):
        got, want = np.empty(saddle.N_SUMS), np.empty(saddle.N_SUMS)
        args = (RELU, RELU, m, q, 0.7, gamma, 0.1, 0.3, r.tau_x, r.tau_w, r.eta_x, r.eta_w, r.xi_x, r.xi_w, r.piece_x,
                r.piece_w, 9.0)
        saddle.erm_sums(*args, got)
        saddle.erm_sums_by_quadrature(*args, want)
        np.testing.assert_array_equal(got, want)


def test_the_mirror_student_has_the_mirror_sums():
    """(m, gamma) -> (-m, -gamma) is the same student (w -> -w): every sum is unchanged but those odd in the
    overlap's sign (tau f_w in slot 2 and the gain derivative in slot 4 flip with gamma's sign), to round-off."""
    r = Problem("relu", "pn", "erm", noise=0.5).rules(96)
    for m, q, chi, gamma, beta in states(11, 6):
        plus, minus = np.empty(saddle.N_SUMS), np.empty(saddle.N_SUMS)
        common = (r.tau_x, r.tau_w, r.eta_x, r.eta_w, r.xi_x, r.xi_w, r.piece_x, r.piece_w, 9.0)
        saddle.erm_sums(RELU, RELU, m, q, chi, gamma, beta, 0.5, *common, plus)
        saddle.erm_sums(RELU, RELU, -m, q, chi, -gamma, beta, 0.5, *common, minus)
        np.testing.assert_allclose(minus * np.array([1, 1, -1, 1, -1, 1, 1]), plus, rtol=1e-12, atol=1e-13)
