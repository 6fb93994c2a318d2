"""relu ERM's replica-field average in closed form (kernels/relu_erm.py) against the piecewise Gauss-Legendre
quadrature it replaces, refined until converged, and its partial moments against SciPy; with label noise, the replica
field and the noise averaged together (wedge moments of the bivariate normal) against adaptive quadrature over the
noise. The teacher field's feature rule is tested in tests/test_kinked.py."""

import math

import numpy as np
import pytest
from scipy import integrate, stats
from tolerances import CLOSED_FORM_SUMS_ATOL, QUADRATURE_RTOL, RELU_ERM_REFERENCE_NODES

from statmech_bn.kernels import saddle
from statmech_bn.kernels.relu_erm import (
    _partial_moments,
    _wedge_moments,
    relu_erm_noisy_average,
    relu_erm_replica_average,
)
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


def _replica_closed_form(m, q, chi, gamma, beta, noise, rules):
    """The closed-form replica average at every (tau, noise) node of ``rules``."""
    out = np.zeros(saddle.N_SUMS)
    cross, cuts = math.sqrt(q - m * m), np.empty(3)
    for tau, tau_w in zip(rules.tau_x, rules.tau_w, strict=True):
        for xi, xi_w in zip(rules.xi_x, rules.xi_w, strict=True):
            relu_erm_replica_average(max(tau, 0.0) + noise * xi, tau, m, cross, gamma, beta, chi, tau_w * xi_w, cuts,
                                     out)
    return out


@pytest.mark.parametrize("noise", [0.0, 0.5])
def test_relu_erm_replica_average_against_refined_quadrature(noise):
    """The replica field in closed form against the piecewise Gauss-Legendre quadrature over it, on the same teacher
    and noise rules."""
    fine = Problem("relu", "pn", "erm", noise=noise).rules(RELU_ERM_REFERENCE_NODES)
    default = Problem("relu", "pn", "erm", noise=noise).rules(96)
    for m, q, chi, gamma, beta in states(7):
        got = _replica_closed_form(m, q, chi, gamma, beta, noise, default)
        want, coarse = np.empty(saddle.N_SUMS), np.empty(saddle.N_SUMS)
        sign = np.sign(gamma)  # the quadrature splits at the kinks only for gamma > 0: a negative gain is its mirror
        for rules, out in ((fine, want), (default, coarse)):
            saddle.erm_sums_by_quadrature(RELU, RELU, sign * m, q, chi, sign * gamma, beta, noise, default.tau_x,
                                          default.tau_w, rules.eta_x, rules.eta_w, default.xi_x, default.xi_w,
                                          rules.piece_x, rules.piece_w, 9.0, out)
            out *= np.array([1, 1, sign, 1, sign, 1, 1])
        np.testing.assert_allclose(got, want, rtol=CLOSED_FORM_SUMS_ATOL, atol=CLOSED_FORM_SUMS_ATOL)
        np.testing.assert_allclose(coarse, want, rtol=QUADRATURE_RTOL, atol=1e-6)  # what the default quadrature gave


def test_wedge_moments():
    """Moments of a standard bivariate normal over a wedge: against adaptive quadrature (the edge along u, the moments
    of v below the other edge in closed form), and unchanged when the two edges swap, down to nearly parallel (or
    antiparallel) edges, where the quadrature is left out."""
    rng = np.random.default_rng(5)
    for turn in [*rng.uniform(0.0, 2.0 * np.pi, 12), 1e-2, 1e-5, 1e-9, np.pi - 1e-3, np.pi - 1e-7]:
        a = rng.uniform(0.0, 2.0 * np.pi)
        n1, n2 = np.array([np.cos(a), np.sin(a)]), np.array([np.cos(a + turn), np.sin(a + turn)])
        h1, h2 = rng.normal(0.0, 1.5, 2)
        got, swapped = np.zeros(6), np.zeros(6)
        _wedge_moments(*n1, h1, *n2, h2, got, 0)
        _wedge_moments(*n2, h2, *n1, h1, swapped, 0)
        np.testing.assert_allclose(swapped, got, rtol=0.0, atol=1e-15)
        p = np.array([-n1[1], n1[0]]) * np.sign(n2 @ np.array([-n1[1], n1[0]]))
        s, rho = n2 @ p, n1 @ n2
        if s < 1e-3:
            continue

        def integrand(u, rho=rho, s=s, n1=n1, p=p, h2=h2):
            m0, m1, m2 = _partial_moments(-np.inf, (h2 - rho * u) / s)
            (e, x), (pe, px) = u * n1, p
            return stats.norm.pdf(u) * np.array([m0, e * m0 + pe * m1, x * m0 + px * m1,
                                                 e * e * m0 + 2 * e * pe * m1 + pe * pe * m2,
                                                 e * x * m0 + (e * px + x * pe) * m1 + pe * px * m2,
                                                 x * x * m0 + 2 * x * px * m1 + px * px * m2])

        want = integrate.quad_vec(integrand, -12.0, h1, epsabs=1e-15, epsrel=1e-13, limit=400)[0]
        np.testing.assert_allclose(got, want, rtol=0.0, atol=1e-14)


def test_noisy_average_against_quadrature_over_the_noise():
    """The replica field and the label noise together in closed form (wedge moments) against adaptive quadrature over
    the noise of the closed form in the replica field alone, split where a kink of the proximal map crosses (width
    |gamma| sqrt(q - m^2)/(k noise)) and at y = 0: noise 0.01 to 1, R to 0.9999, chi 0.01 to 100, either gain sign."""
    rng = np.random.default_rng(3)
    cuts, moments = np.empty(3), np.empty(24)
    for _ in range(12):
        overlap, q = rng.choice([0.5, 0.9, 0.99, 0.9999]), rng.choice([1.0, rng.uniform(0.2, 3.0)])
        m, gamma = overlap * math.sqrt(q) * rng.choice([-1.0, 1.0]), rng.uniform(0.2, 3.0) * rng.choice([-1.0, 1.0])
        beta, chi, tau = rng.uniform(-2.0, 2.0), math.exp(rng.uniform(-4.6, 4.6)), rng.normal(0.0, 1.5)
        noise = rng.choice([0.01, 0.3, 1.0])
        cross, clean = math.sqrt(q - m * m), max(tau, 0.0)
        got = np.zeros(saddle.N_SUMS)
        relu_erm_noisy_average(clean, tau, m, cross, gamma, beta, chi, noise, 1.0, moments, got)
        c = gamma**2 * chi
        width = abs(gamma) * cross / noise
        points = {-clean / noise}
        for k in (c, math.sqrt(1.0 + c) - 1.0):
            centre = (-(gamma * m * tau + beta) / k - clean) / noise
            points |= {centre + f * width / k for f in (-30.0, -10.0, -3.0, -1.0, 0.0, 1.0, 3.0, 10.0, 30.0)}

        def integrand(x, tau=tau, m=m, cross=cross, gamma=gamma, beta=beta, chi=chi, clean=clean, noise=noise):
            out = np.zeros(saddle.N_SUMS)
            relu_erm_replica_average(clean + noise * x, tau, m, cross, gamma, beta, chi, stats.norm.pdf(x), cuts, out)
            return out

        want = integrate.quad_vec(integrand, -12.0, 12.0, points=sorted(p for p in points if -12.0 < p < 12.0),
                                  epsabs=1e-14, epsrel=1e-12, limit=2000)[0]
        np.testing.assert_allclose(got, want, rtol=CLOSED_FORM_SUMS_ATOL, atol=CLOSED_FORM_SUMS_ATOL)


def test_the_closed_form_is_not_used_where_it_does_not_apply():
    """Without a cross term (q = m^2) or a gain the kernel falls back to quadrature, bit for bit."""
    r = Problem("relu", "pn", "erm", noise=0.3).rules(96)
    for m, q, gamma in ((0.5, 0.6, 0.0), (0.7, 0.49, 1.1)):
        got, want = np.empty(saddle.N_SUMS), np.empty(saddle.N_SUMS)
        args = (RELU, RELU, m, q, 0.7, gamma, 0.1, 0.3, r.tau_x, r.tau_w, r.eta_x, r.eta_w, r.xi_x, r.xi_w, r.piece_x,
                r.piece_w, 9.0)
        saddle.erm_sums(*args, r.feature_x, r.feature_w, r.tail_x, r.tail_w, got)
        saddle.erm_sums_by_quadrature(*args, want)
        np.testing.assert_array_equal(got, want)


def test_the_mirror_student_has_the_mirror_sums():
    """(m, gamma) -> (-m, -gamma) is the same student (w -> -w): every sum is unchanged but those odd in the
    overlap's sign (tau f_w in slot 2 and the gain derivative in slot 4 flip with gamma's sign), to round-off."""
    r = Problem("relu", "pn", "erm", noise=0.5).rules(96)
    for m, q, chi, gamma, beta in states(11, 6):
        plus, minus = np.empty(saddle.N_SUMS), np.empty(saddle.N_SUMS)
        common = (r.tau_x, r.tau_w, r.eta_x, r.eta_w, r.xi_x, r.xi_w, r.piece_x, r.piece_w, 9.0, r.feature_x,
                  r.feature_w, r.tail_x, r.tail_w)
        saddle.erm_sums(RELU, RELU, m, q, chi, gamma, beta, 0.5, *common, plus)
        saddle.erm_sums(RELU, RELU, -m, q, chi, -gamma, beta, 0.5, *common, minus)
        np.testing.assert_allclose(minus * np.array([1, 1, -1, 1, -1, 1, 1]), plus, rtol=1e-12, atol=1e-13)
