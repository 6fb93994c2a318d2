"""The per-sample averages of the online drift for a relu block in closed form (bivariate normal moments).

The quantities are those of :func:`.dynamics.sample_averages` with ``code = RELU``, which computes them by
two-dimensional quadrature; here every term is a Gaussian moment of degree <= 2 over an orthant-type region, written
with Phi, phi and the bivariate Phi2 (:mod:`.bivariate_normal`).
"""

import math

from ._jit import jit
from .bivariate_normal import ARGUMENT_CLAMP, norm_sf2
from .special import norm_cdf, norm_pdf

_PHI_0 = 1.0 / math.sqrt(2.0 * math.pi)


@jit
def cdf_of_ratio(numerator, rest):
    """Phi(numerator / rest) for rest >= 0, with its limit as rest -> 0 (1/2 when numerator = 0)."""
    if rest > 0.0:
        return norm_cdf(numerator / rest)
    if numerator > 0.0:
        return 1.0
    if numerator < 0.0:
        return 0.0
    return 0.5


@jit
def relu_sample_averages(overlap, scale, beta, noise, out):
    """Fill out[0:4] with E[d], E[d lambda], E[d u], E[d^2] for a relu student and teacher, in closed form.

    Parameters
    ----------
    overlap : float
        R in [-1, 1], the correlation of the unit Gaussians lambda (student) and u (teacher).
    scale : float
        The gain of the student's field a = scale * lambda + beta; any sign, zero included.
    beta : float
        The bias of the student's field.
    noise : float
        The standard deviation of the label noise xi ~ N(0, 1), independent of (lambda, u).
    out : ndarray
        At least 4 entries; out[0:4] are overwritten.

    Notes
    -----
    Conventions of :func:`.dynamics.sample_averages`: d = (g(a) - g(u) - noise xi) g'(a), g(z) = max(z, 0),
    g'(z) = 1[z > 0], so d = (a - u^+ - noise xi) 1[a > 0] and, xi being independent with mean 0,
    E[d^2] = E[(a - u^+)^2 1[a > 0]] + noise^2 P(a > 0).

    Derivation. Let s = sign(scale) (+1 at scale = 0), S = |scale|, X = s lambda, so that a = S X + beta and
    (X, u) are unit Gaussians with correlation rho = s R. With h = beta/S the student's region is A = {X > -h} and
    the teacher's u^+ adds B = A n {u > 0}. On A only X-moments are needed (u = rho X + independent noise):
    P(A) = Phi(h), E[X 1_A] = phi(h), E[X^2 1_A] = Phi(h) - h phi(h), E[u X^k 1_A] = rho E[X^(k+1) 1_A].
    On B, Stein's lemma E[W_i f(W)] = sum_j Cov(W_i, W_j) E[d_j f(W)] with f an indicator times a polynomial, whose
    derivatives are the boundary densities, gives the moments of the truncated bivariate normal of Rosenbaum (1961;
    Muthen 1990 writes them alike). With r = sqrt(1 - rho^2), L = P(B) = P(X > -h, u > 0) = Phi2(h, 0; rho),
    Q = phi(h) Phi(-rho h / r) (the density on the edge X = -h), q = phi(0) Phi(h / r) (on the edge u = 0) and
    rD = r phi(0) phi(h / r):
    E[u 1_B] = rho Q + q, E[X u 1_B] = rho L - rho h Q + rD, E[u^2 1_B] = L - rho^2 h Q + rho rD. Then
    E[d] = S phi(h) + beta Phi(h) - E[u 1_B], E[d lambda] = s (S E[X^2 1_A] + beta phi(h) - E[X u 1_B]),
    E[d u] = rho (S E[X^2 1_A] + beta phi(h)) - E[u^2 1_B], E[d^2] = S^2 E[X^2 1_A] + 2 S beta phi(h) + beta^2 Phi(h)
    - 2 (S E[X u 1_B] + beta E[u 1_B]) + E[u^2 1_B] + noise^2 Phi(h).

    Limits: h is clamped to [-ARGUMENT_CLAMP, ARGUMENT_CLAMP], where phi(h), Phi(-h) are zero and Phi(h) is one in
    double precision, so scale -> 0 (and scale = 0: a = beta, h = +-clamp by the sign of beta, relu'(0) = 0) needs no
    branch; as |R| -> 1 (r -> 0) Phi(. / r) tends to a step (1/2 at h = 0) and rD to 0, which is R = +-1 exactly.

    References: S. Rosenbaum (1961), Moments of a truncated bivariate normal distribution, J. R. Statist. Soc. B 23,
    405-408; B. Muthen (1990), Moments of the censored and truncated bivariate normal distribution, Br. J. Math.
    Statist. Psychol. 43, 131-143; C. Stein (1981), Estimation of the mean of a multivariate normal distribution,
    Ann. Statist. 9, 1135-1151. Tested against the quadrature, adaptive SciPy integration and Monte Carlo in
    tests/test_relu_drift.py.
    """
    sign = -1.0 if scale < 0.0 else 1.0
    spread = abs(scale)
    if spread > 0.0:
        h = min(max(beta / spread, -ARGUMENT_CLAMP), ARGUMENT_CLAMP)
    else:
        h = ARGUMENT_CLAMP if beta > 0.0 else -ARGUMENT_CLAMP
    rho = sign * overlap
    size = abs(rho)
    rest = math.sqrt(max((1.0 - size) * (1.0 + size), 0.0))
    # A = {X > -h}
    a0 = norm_cdf(h)
    a1 = norm_pdf(h)
    a2 = a0 - h * a1
    # B = A n {u > 0}
    b0 = norm_sf2(-h, 0.0, rho)
    edge_x = a1 * cdf_of_ratio(-rho * h, rest)
    edge_u = _PHI_0 * cdf_of_ratio(h, rest)
    corner = rest * _PHI_0 * norm_pdf(h / rest) if rest > 0.0 else 0.0
    b_u = rho * edge_x + edge_u
    b_xu = rho * (b0 - h * edge_x) + corner
    b_uu = b0 - rho * rho * h * edge_x + rho * corner
    field_x = spread * a2 + beta * a1  # E[a X 1_A]
    out[0] = spread * a1 + beta * a0 - b_u
    out[1] = sign * (field_x - b_xu)
    out[2] = rho * field_x - b_uu
    out[3] = (spread * spread * a2 + 2.0 * spread * beta * a1 + beta * beta * a0 - 2.0 * (spread * b_xu + beta * b_u)
              + b_uu + noise * noise * a0)
