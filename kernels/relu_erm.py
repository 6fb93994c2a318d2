"""ERM's average over the replica field for relu in closed form: truncated-normal moments between the kinks.

For a label y and a teacher field tau, the ERM sums of :func:`.saddle.erm_sums` average over eta ~ N(0, 1)
functions of the proximal map h*(a) of relu at a = A + B eta (A = gamma m tau + beta, B = gamma sqrt(q - m^2)).
Between the points where h* is not smooth (:func:`.channels.moreau_kinks`) h* is affine in a: h* = a (a < 0),
h* = 0 (clamped), or h* = (a + c y)/(1 + c) (c = gamma^2 chi). Every summand (the envelope, g_a = (h* - a)/c,
its square, and their products with tau, eta, omega) is then a polynomial of degree <= 2 in eta on each piece,
and its Gaussian average over the piece is q0 M0 + q1 M1 + q2 M2 with the partial moments
M_k = int_l^u eta^k phi(eta) d eta: M0 = Phi(u) - Phi(l), M1 = phi(l) - phi(u), M2 = M0 + l phi(l) - u phi(u).
Which branch holds on a piece is read from :func:`.channels.moreau` at an interior point, so the branch rule
lives in one place. The piecewise Gauss-Legendre average of :func:`.saddle.erm_sums_by_quadrature` is the
reference (tests/test_relu_erm.py).
"""

import math

import numpy as np

from ._jit import jit
from .activations import activation
from .channels import moreau, moreau_kinks
from .codes import RELU
from .special import norm_cdf, norm_pdf


@jit
def _partial_moments(lo, hi):
    """(M0, M1, M2) of the standard normal over [lo, hi] (either end may be infinite)."""
    if hi <= lo:
        return 0.0, 0.0, 0.0
    if lo > 0.0:  # upper tail: differences of Phi(-x) keep their digits
        m0 = norm_cdf(-lo) - norm_cdf(-hi)
    else:
        m0 = norm_cdf(hi) - norm_cdf(lo)
    pdf_lo = 0.0 if math.isinf(lo) else norm_pdf(lo)
    pdf_hi = 0.0 if math.isinf(hi) else norm_pdf(hi)
    lo_pdf = 0.0 if math.isinf(lo) else lo * pdf_lo
    hi_pdf = 0.0 if math.isinf(hi) else hi * pdf_hi
    return m0, pdf_lo - pdf_hi, m0 + lo_pdf - hi_pdf


@jit
def relu_erm_replica_average(y, tau, m, cross, gamma, beta, chi, weight, cuts, out):
    """Add ``weight`` times the eta-average of the seven ERM summands (slots of :data:`.saddle.N_SUMS`) at label y
    and teacher field tau to ``out``. Needs cross = sqrt(q - m^2) > 0 and gamma != 0; ``cuts``: scratch of length 3.

    The pieces are laid out in eta' = sign(gamma) eta, in which a = A + |gamma| cross eta' increases (the Gaussian
    weight is the same); omega and the Stein slot E[eta f_w] take the sign back."""
    c = gamma * gamma * chi
    a0 = gamma * m * tau + beta
    sign = 1.0 if gamma > 0.0 else -1.0
    slope = abs(gamma) * cross
    n_kinks = moreau_kinks(RELU, y, c, cuts)
    for n in range(n_kinks):
        cuts[n] = (cuts[n] - a0) / slope
    cuts[:n_kinks].sort()
    half_y2 = 0.5 * y * y
    for piece in range(n_kinks + 1):
        lo = -math.inf if piece == 0 else cuts[piece - 1]
        hi = math.inf if piece == n_kinks else cuts[piece]
        if hi <= lo:
            continue
        if math.isinf(lo) and math.isinf(hi):
            inside = 0.0
        elif math.isinf(lo):
            inside = hi - 1.0
        elif math.isinf(hi):
            inside = lo + 1.0
        else:
            inside = 0.5 * (lo + hi)
        a_inside = a0 + slope * inside
        _, h_inside, p, _ = moreau(RELU, y, a_inside, c)
        r = h_inside - p * a_inside  # h* = p a + r on this piece
        m0, m1, m2 = _partial_moments(lo, hi)
        if m0 == 0.0 and m1 == 0.0 and m2 == 0.0:
            continue
        # g_a = u0 + u1 eta, h* = h0 + h1 eta
        u0 = ((p - 1.0) * a0 + r) / c
        u1 = (p - 1.0) * slope / c
        h0 = p * a0 + r
        h1 = p * slope
        g2_0, g2_1, g2_2 = u0 * u0, 2.0 * u0 * u1, u1 * u1  # g_a^2
        if p > 0.0 and h_inside > 0.0:  # the positive branch: l(y, h*) = (y - h*)^2/2
            d0, d1 = y - h0, -h1
            l0, l1, l2 = 0.5 * d0 * d0, d0 * d1, 0.5 * d1 * d1
        else:  # h* <= 0: relu(h*) = 0
            l0, l1, l2 = half_y2, 0.0, 0.0
        omega0, omega1 = m * tau, sign * cross
        env0, env1, env2 = l0 + 0.5 * c * g2_0, l1 + 0.5 * c * g2_1, l2 + 0.5 * c * g2_2
        out[0] -= weight * (env0 * m0 + env1 * m1 + env2 * m2)
        out[1] += weight * gamma * gamma * (g2_0 * m0 + g2_1 * m1 + g2_2 * m2)
        out[2] += weight * gamma * tau * (u0 * m0 + u1 * m1)
        out[3] += weight * sign * gamma * (u0 * m1 + u1 * m2) / cross
        out[4] += weight * (omega0 * u0 * m0 + (omega0 * u1 + omega1 * u0) * m1 + omega1 * u1 * m2
                            + gamma * chi * (g2_0 * m0 + g2_1 * m1 + g2_2 * m2))
        out[5] += weight * (u0 * m0 + u1 * m1)
        out[6] += weight * (l0 * m0 + l1 * m1 + l2 * m2)


@jit
def relu_erm_sums(teacher, m, q, chi, gamma, beta, noise, tau_x, tau_w, xi_x, xi_w, out):
    """:func:`.saddle.erm_sums` for a relu student with the replica field averaged in closed form (teacher field and
    label noise by their rules). Needs gamma != 0 and q > m^2 (the caller falls back to quadrature otherwise)."""
    for i in range(out.shape[0]):
        out[i] = 0.0
    cross = math.sqrt(q - m * m)
    cuts = np.empty(3)
    for i in range(tau_x.shape[0]):
        tau = tau_x[i]
        clean = activation(teacher, tau)
        for k in range(xi_x.shape[0]):
            relu_erm_replica_average(clean + noise * xi_x[k], tau, m, cross, gamma, beta, chi, tau_w[i] * xi_w[k],
                                     cuts, out)
