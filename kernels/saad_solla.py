"""The per-sample averages of the online drift in closed form (Saad & Solla), and the drift built on them.

Conventions (those of :func:`.dynamics.sample_averages`): lambda and u are unit Gaussians with correlation R
(the student's normalized field and the teacher's field), the student's pre-activation is a = scale * lambda + beta,
so that Var(a) = scale^2, Var(u) = 1, Cov(a, u) = scale * R and lambda = (a - beta)/scale. The error signal of a
sample is d = (g(a) - g(u) - noise * xi) g'(a) with xi ~ N(0, 1) the label noise, independent of (a, u). ``out``
(SAMPLE_SLOTS = 4) receives E[d], E[d lambda], E[d u], E[d^2]; the noise adds noise^2 E[g'(a)^2] to E[d^2] and
nothing else.

- linear, g(z) = z, any beta: d = a - u - noise xi, a Gaussian, and the averages are its first and second moments.
- erf, g(z) = erf(z/sqrt 2), beta = 0: with x_k jointly Gaussian, zero mean, covariances C_kl,

      J2 = E[g'(x1) g'(x2)]           = (2/pi) / sqrt((1 + C11)(1 + C22) - C12^2),
      I3 = E[g'(x1) x2 g(x3)]         = (2/pi) (C23 (1 + C11) - C12 C13) / ((1 + C11) sqrt(L3)),
           L3 = (1 + C11)(1 + C33) - C13^2,
      I4 = E[g'(x1) g'(x2) g(x3) g(x4)] = (4/pi^2) arcsin(L0 / sqrt(L1 L2)) / sqrt(L4),
           L4 = (1 + C11)(1 + C22) - C12^2,
           L0 = L4 C34 - C23 C24 (1 + C11) - C13 C14 (1 + C22) + C12 C13 C24 + C12 C14 C23,
           L1 = L4 (1 + C33) - C23^2 (1 + C11) - C13^2 (1 + C22) + 2 C12 C13 C23,
           L2 = L4 (1 + C44) - C24^2 (1 + C11) - C14^2 (1 + C22) + 2 C12 C14 C24

  (D. Saad and S. A. Solla, Phys. Rev. E 52, 4225 (1995), appendix, for g(x) = erf(x/sqrt 2); M. Biehl and
  H. Schwarze, J. Phys. A 28, 643 (1995); the same integrals in S. Goldt et al., NeurIPS 2019, appendix). Then,
  with x = a or u:

      E[d]        = 0                                      (g odd, g' even, beta = 0: (a, u) -> (-a, -u)),
      E[d lambda] = (I3(a, a, a) - I3(a, a, u)) / scale    (E[d a] = scale E[d lambda] at beta = 0),
      E[d u]      = I3(a, u, a) - I3(a, u, u),
      E[d^2]      = I4(a, a, a, a) - 2 I4(a, a, a, u) + I4(a, a, u, u) + noise^2 J2(a, a).

  E[d lambda] is written with scale divided out, (2/pi)/(1 + s^2) [s/sqrt(1 + 2 s^2) - R/sqrt(2 (1 + s^2) - s^2 R^2)],
  so that it holds at scale = 0 too. E[d] = 0 keeps beta at 0 for ever when it starts there (the teacher has no
  bias), which is why this closed form covers erf only at beta = 0.

- relu (any beta): the bivariate-normal closed forms of :mod:`.relu_drift`; sign: g' = 0, every average vanishes.

The drift (:func:`drift_from_averages`) is written once, here, and serves both the compiled closed-form
integration (:func:`closed_form_drift`) and :class:`statmech_bn.dynamics.ode.Drift` (with quadrature averages where
no closed form applies), for the normalizers without batch statistics.
"""

import math

from ._jit import jit
from .codes import ERF, LINEAR, RELU, SIGN
from .relu_drift import relu_sample_averages

SAMPLE_SLOTS = 4
"""out holds E[d], E[d lambda], E[d u], E[d^2] (noise included), as :data:`.dynamics.SAMPLE_SLOTS`."""

_TWO_OVER_PI = 2.0 / math.pi
_FOUR_OVER_PI2 = 4.0 / (math.pi * math.pi)


@jit
def linear_averages(overlap, scale, beta, noise, out):
    """Closed-form averages for g(z) = z and any beta: d = a - u - noise xi is Gaussian with mean beta, so
    E[d] = beta, E[d lambda] = scale - R, E[d u] = scale R - 1 and E[d^2] = scale^2 - 2 scale R + 1 + beta^2
    + noise^2 (g' = 1)."""
    out[0] = beta
    out[1] = scale - overlap
    out[2] = scale * overlap - 1.0
    out[3] = scale * scale - 2.0 * scale * overlap + 1.0 + beta * beta + noise * noise


@jit
def erf_i3(c11, c12, c13, c23, c33):
    """I3 = E[g'(x1) x2 g(x3)] for g(x) = erf(x/sqrt 2) (Saad & Solla 1995, appendix)."""
    lambda3 = (1.0 + c11) * (1.0 + c33) - c13 * c13
    return _TWO_OVER_PI * (c23 * (1.0 + c11) - c12 * c13) / ((1.0 + c11) * math.sqrt(lambda3))


@jit
def erf_i4(c11, c12, c22, c13, c14, c23, c24, c33, c34, c44):
    """I4 = E[g'(x1) g'(x2) g(x3) g(x4)] for g(x) = erf(x/sqrt 2) (Saad & Solla 1995, appendix)."""
    lambda4 = (1.0 + c11) * (1.0 + c22) - c12 * c12
    lambda0 = (lambda4 * c34 - c23 * c24 * (1.0 + c11) - c13 * c14 * (1.0 + c22) + c12 * c13 * c24
               + c12 * c14 * c23)
    lambda1 = lambda4 * (1.0 + c33) - c23 * c23 * (1.0 + c11) - c13 * c13 * (1.0 + c22) + 2.0 * c12 * c13 * c23
    lambda2 = lambda4 * (1.0 + c44) - c24 * c24 * (1.0 + c11) - c14 * c14 * (1.0 + c22) + 2.0 * c12 * c14 * c24
    return _FOUR_OVER_PI2 * math.asin(lambda0 / math.sqrt(lambda1 * lambda2)) / math.sqrt(lambda4)


@jit
def erf_j2(c11, c12, c22):
    """J2 = E[g'(x1) g'(x2)] for g(x) = erf(x/sqrt 2) (Saad & Solla 1995, appendix)."""
    return _TWO_OVER_PI / math.sqrt((1.0 + c11) * (1.0 + c22) - c12 * c12)


@jit
def erf_averages(overlap, scale, noise, out):
    """Closed-form averages for g(z) = erf(z/sqrt 2) at beta = 0 (the module's I3, I4, J2 with
    Var(a) = scale^2, Var(u) = 1, Cov(a, u) = scale R)."""
    aa = scale * scale
    au = scale * overlap
    s2 = 1.0 + aa
    out[0] = 0.0
    out[1] = _TWO_OVER_PI / s2 * (scale / math.sqrt(1.0 + 2.0 * aa) - overlap / math.sqrt(2.0 * s2 - au * au))
    out[2] = erf_i3(aa, au, aa, au, aa) - erf_i3(aa, au, au, 1.0, 1.0)
    out[3] = (erf_i4(aa, aa, aa, aa, aa, aa, aa, aa, aa, aa)
              - 2.0 * erf_i4(aa, aa, aa, aa, au, aa, au, aa, au, 1.0)
              + erf_i4(aa, aa, aa, au, au, au, au, 1.0, 1.0, 1.0)
              + noise * noise * erf_j2(aa, aa, aa))


@jit
def has_closed_form(code, beta):
    """Whether :func:`closed_form_averages` covers (code, beta): linear, relu (:mod:`.relu_drift`) and sign at any
    beta, erf at beta = 0."""
    return code == LINEAR or code == RELU or code == SIGN or (code == ERF and beta == 0.0)


@jit
def closed_form_averages(code, overlap, scale, beta, noise, out):
    """:func:`.dynamics.sample_averages` in closed form: linear (any beta), relu (any beta; bivariate normal
    moments, :func:`.relu_drift.relu_sample_averages`), sign (g' = 0 away from the kink: every average is 0, as the
    quadrature gives) or erf (beta = 0; beta is not read). Other cases (:func:`has_closed_form` false) fill out with
    NaN."""
    if code == LINEAR:
        linear_averages(overlap, scale, beta, noise, out)
    elif code == RELU:
        relu_sample_averages(overlap, scale, beta, noise, out)
    elif code == SIGN:
        for k in range(SAMPLE_SLOTS):
            out[k] = 0.0
    elif code == ERF and beta == 0.0:
        erf_averages(overlap, scale, noise, out)
    else:
        for k in range(SAMPLE_SLOTS):
            out[k] = math.nan


@jit
def field_of_state(y, spherical):
    """(L, R, scale) of the state y = (m, Q, gamma, beta): L = sqrt(Q), R = m/L clipped to [-1, 1], and the gain of
    the student's field, gamma (spherical) or L (none)."""
    norm = math.sqrt(max(y[1], 1e-300))
    overlap = min(max(y[0] / norm, -1.0), 1.0)
    return norm, overlap, (y[2] if spherical else norm)


@jit
def drift_from_averages(y, averages, eta, decay, size, penalty, spherical, dy):
    """dy/dt of the state y = (m, Q, gamma, beta) for a normalizer without batch statistics, given the per-sample
    averages E[d], E[d lambda], E[d u], E[d^2] at y (closed form or quadrature). With L = sqrt(Q), R = m/L clipped
    to [-1, 1], eta the learning rate, decay the weight decay, size the batch size M, penalty the gamma decay zeta
    (pn_gd, else 0):
        spherical (pn, wn, pn_gd; a = gamma lambda + beta, kappa = gamma/L):
            dm = -eta kappa (E[d u] - R E[d lambda]) - eta decay m,  dQ = eta^2 kappa^2 E[d^2]/M - 2 eta decay Q,
            dgamma = -eta (E[d lambda] + 2 penalty gamma),  dbeta = -eta E[d];
        none (a = L lambda + beta):
            dm = -eta E[d u] - eta decay m,  dQ = -2 eta L E[d lambda] + eta^2 E[d^2]/M - 2 eta decay Q,
            dgamma = 0,  dbeta = -eta E[d].
    """
    m = y[0]
    q = y[1]
    gamma = y[2]
    norm, overlap, _ = field_of_state(y, spherical)
    e_d = averages[0]
    e_dl = averages[1]
    e_du = averages[2]
    e_dd = averages[3]
    if spherical:
        kappa = gamma / norm
        dy[0] = -eta * kappa * (e_du - overlap * e_dl) - eta * decay * m
        dy[1] = eta * eta * kappa * kappa * e_dd / size - 2.0 * eta * decay * q
        dy[2] = -eta * (e_dl + 2.0 * penalty * gamma)
        dy[3] = -eta * e_d
    else:
        dy[0] = -eta * e_du - eta * decay * m
        dy[1] = -2.0 * eta * norm * e_dl + eta * eta * e_dd / size - 2.0 * eta * decay * q
        dy[2] = 0.0
        dy[3] = -eta * e_d


@jit
def closed_form_drift(y, eta, decay, size, penalty, spherical, code, noise, averages, dy):
    """:func:`drift_from_averages` on :func:`closed_form_averages` (``averages``: SAMPLE_SLOTS scratch): the
    right-hand side of :class:`statmech_bn.dynamics.ode.Drift` for a normalizer without batch statistics."""
    _, overlap, scale = field_of_state(y, spherical)
    closed_form_averages(code, overlap, scale, y[3], noise, averages)
    drift_from_averages(y, averages, eta, decay, size, penalty, spherical, dy)
