"""Mean-field theory of real batch normalization at the minimum of its expected batch loss: the M -> infinity limit.

Real ``bn`` (batch size M, batch statistics in training, population statistics at deployment), trained to the
minimum over (w, gamma, beta) of the expected batch loss

    F[rho] = E_{x_1..x_M iid rho}[ l(y_1, gamma (h_1 - mu_B)/sigma_B + beta) ],   l(y, z) = (y - g(z))^2/2,

with rho the law of the training fields x = (h, y) (P -> infinity at fixed M, so a batch is M independent draws).
The first variation of F is the per-sample effective loss l_eff(h, y) = E[l_1 | x_1] + (M - 1) E[l_2 | x_1] (own
loss plus the force on the batch-mates); at a stationary point of F over w, w is a stationary point of
sum_mu l_eff(h_mu, y_mu) with l_eff frozen, so Gardner's zero-temperature ERM on the sphere with l_eff as the loss
(:mod:`statmech_bn.theory.erm`; Engel & Van den Broeck 2001, ch. 4) applies, iterated to self-consistency of rho.
Research derivation and finite-M results: docs/bn_meanfield/FINDINGS.md (issue #16).

This module implements the limit M -> infinity, where the batch statistics are the training-set mean and std
(m, s) of h and

    l_eff(h, y) = l(y, A h + B) + F_m (h - m) + F_s ((h - m)^2 - s^2)/(2 s),   A = gamma/s,  B = beta - gamma m/s,

F_m = dF/dm, F_s = dF/ds. Saddle point, state x = (R, chi, gamma, beta, m, s, F_m, F_s), omega = R u + sqrt(1-R^2)
eta, h* = prox_{chi l_eff(., y)}(omega), f = (h* - omega)/chi:

    q_hat = alpha E[f^2],  m_hat = alpha (E[f u] - R E[f eta]/sqrt(1 - R^2)),  chi = 1/sqrt(q_hat + m_hat^2),
    R = m_hat chi,  m = E[h*],  s^2 = E[(h* - m)^2],
    dF/dgamma = E[l'_sel (h* - m)/s] = 0,  dF/dbeta = E[l'_sel] = 0,  F_m = -(gamma/s) E[l'_sel],
    F_s = -(gamma/s^2) E[l'_sel (h* - m)],   l'_sel = -(f + F_m + F_s (h* - m)/s)/A.

l'_sel is the derivative of l(y, .) at A h* + B, and at relu's kink (where a finite fraction of the training fields
sits: the labels y < 0 clamped at A h* + B = 0) the subgradient that the w-stationarity selects (the proximal map's
optimality condition). At the solution F_m = F_s = 0, so l_eff = l(y, gain h + shift) with gain = gamma/s and
shift = beta - gamma m/s: the equations are those of pn ERM term by term (the reparametrization (gamma, beta) ->
(gain, shift) at fixed w is a bijection), which tests/test_bn_meanfield.py checks against
:class:`statmech_bn.theory.erm.SphereERM`. Only relu is implemented (the loss is then quadratic on either side of the
kink, so the proximal map is exact).

Averages: (u, xi) by Gauss-Legendre on the four pieces of [-TAIL_CUT, TAIL_CUT]^2 cut at u = 0 (the teacher's kink)
and y = relu(u) + noise xi = 0 (where the proximal map's branch structure changes); eta by Gauss-Legendre between the
exact breakpoints of h*(omega), where the integrand is a polynomial of degree <= 3 times the Gaussian density. The
error falls geometrically with the node counts (docs/bn_meanfield/FINDINGS.md: 1e-7 at 32/16 nodes, 3e-9 at 64/32,
alpha = 5).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from ..model import ACTIVATIONS
from ..quadrature import TAIL_CUT, legendre

_SQRT_2PI = math.sqrt(2.0 * math.pi)
N_STATE = 8
"""State (R, chi, gamma, beta, m, s, F_m, F_s)."""


def _gauss_legendre(lo, hi, n: int) -> tuple[np.ndarray, np.ndarray]:
    """n-point Gauss-Legendre nodes and weights on [lo, hi] (broadcast over lo, hi; the last axis holds the nodes)."""
    x, w = legendre(n)
    lo = np.asarray(lo, dtype=float)[..., None]
    half = 0.5 * (np.asarray(hi, dtype=float)[..., None] - lo)
    return lo + half * (x + 1.0), half * w


def _density(x):
    return np.exp(-0.5 * x * x) / _SQRT_2PI


def label_rule(noise: float, nodes: int, activation: str = "relu") -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                           np.ndarray]:
    """Nodes (u, xi, y) and weights of E over u, xi ~ N(0, 1) with y = g(u) + noise xi, g the teacher ``activation``.

    Gauss-Legendre with ``nodes`` points on each of u in [-TAIL_CUT, 0], [0, TAIL_CUT] and, for every u, on xi below
    and above the zero of y (for relu the teacher's kink and the clamped labels y = 0, where the integrand is not
    smooth; for a smooth g the same pieces, harmless there; needs noise > 0).

    Returns
    -------
    u, xi, y, weight : 1-d arrays of equal length (weights sum to 1 up to the rule's error: 9e-12 at 24 nodes).
    """
    if not noise > 0.0:
        raise ValueError("the M = infinity mean-field rule needs label noise > 0")
    g = ACTIVATIONS[activation].numpy
    pieces = [_gauss_legendre(lo, hi, nodes) for lo, hi in ((-TAIL_CUT, 0.0), (0.0, TAIL_CUT))]
    u = np.concatenate([p[0] for p in pieces])
    wu = np.concatenate([p[1] for p in pieces]) * _density(u)
    xi0 = np.clip(-g(u) / noise, -TAIL_CUT, TAIL_CUT)
    below = _gauss_legendre(np.full_like(u, -TAIL_CUT), xi0, nodes)
    above = _gauss_legendre(xi0, np.full_like(u, TAIL_CUT), nodes)
    xi = np.concatenate([below[0], above[0]], axis=1)
    w = wu[:, None] * np.concatenate([below[1], above[1]], axis=1) * _density(xi)
    uu = np.broadcast_to(u[:, None], xi.shape)
    keep = w.ravel() > 0.0
    y = g(uu) + noise * xi
    return uu.ravel()[keep], xi.ravel()[keep], y.ravel()[keep], w.ravel()[keep]


@dataclass(frozen=True)
class EffectiveLoss:
    """l_eff(h, y) of the M = infinity limit as 0.5 c h^2 + b h + const on h < kink and on h > kink.

    Parameters: gain A = gamma/s > 0, shift B = beta - gamma m/s, and the batch-statistics forces as
    e2 = F_s/s (curvature) and e1 = F_m - F_s m/s (slope); constants common to both pieces are dropped.
    """

    gain: float
    shift: float
    e1: float = 0.0
    e2: float = 0.0

    @classmethod
    def from_state(cls, x) -> EffectiveLoss:
        _, _, gamma, beta, m, s, f_m, f_s = x
        return cls(gamma / s, beta - gamma * m / s, f_m - f_s * m / s, f_s / s)

    @property
    def kink(self) -> float:
        return -self.shift / self.gain

    def pieces(self, y):
        """((c, b, const) left of the kink, (c, b, const) right of it) at labels y."""
        zero = np.zeros_like(y)
        left = (self.e2 + zero, self.e1 + zero, 0.5 * y * y)
        right = (self.gain**2 + self.e2 + zero, -self.gain * (y - self.shift) + self.e1, 0.5 * (y - self.shift) ** 2)
        return left, right


def _piece_minimum(omega, chi, piece, kink, side):
    """argmin and min of (h - omega)^2/(2 chi) + 0.5 c h^2 + b h + const over h <= kink (side < 0) or h >= kink."""
    c, b, const = piece
    h = (omega - chi * b) / (1.0 + chi * c)
    h = np.minimum(h, kink) if side < 0 else np.maximum(h, kink)
    return h, (h - omega) ** 2 / (2.0 * chi) + 0.5 * c * h * h + b * h + const


def proximal_map(omega, y, chi: float, loss: EffectiveLoss):
    """Exact h*(omega) = argmin_h (h - omega)^2/(2 chi) + l_eff(h, y) (needs 1 + chi c > 0 on both pieces).

    A piece whose minimum is clipped to the kink loses to the other piece (whose minimum is at most the objective at
    the kink), so values are compared only when both minima are interior (a jump of h*; ties to the left piece).
    Comparing values at a clip point instead would pick between two minimisers ~sqrt(round-off) apart, where the
    two values agree to second order."""
    left, right = loss.pieces(y)
    k = loss.kink
    h_left, v_left = _piece_minimum(omega, chi, left, k, -1)
    h_right, v_right = _piece_minimum(omega, chi, right, k, +1)
    take_left = np.where(h_left >= k, False, np.where(h_right <= k, True, v_left <= v_right))
    return np.where(take_left, h_left, h_right)


def proximal_breakpoints(y, chi: float, loss: EffectiveLoss) -> np.ndarray:
    """Every omega where h*(omega) may fail to be affine, per label: shape (len(y), 8), NaN where absent.

    The two pieces' clip points and the roots of v_left - v_right on the three intervals they bound (exactly a
    quadratic there, taken through three points). Superfluous points only split a smooth piece."""
    left, right = loss.pieces(y)
    k = loss.kink
    clip_left = k * (1.0 + chi * left[0]) + chi * left[1]
    clip_right = k * (1.0 + chi * right[0]) + chi * right[1]
    lo, hi = np.minimum(clip_left, clip_right), np.maximum(clip_left, clip_right)
    points = [clip_left, clip_right]
    for a, b in ((lo - 50.0, lo), (lo, hi), (hi, hi + 50.0)):
        span = np.where(b > a, b - a, 1.0)
        d = [(_piece_minimum(t, chi, left, k, -1)[1] - _piece_minimum(t, chi, right, k, +1)[1])
             for t in (a, a + 0.5 * span, a + span)]
        c0, c2 = d[0], 2.0 * (d[2] - 2.0 * d[1] + d[0])  # d(t) = c0 + c1 t + c2 t^2, t = (omega - a)/span
        c1 = d[2] - d[0] - c2
        disc = c1 * c1 - 4.0 * c2 * c0
        root = np.sqrt(np.maximum(disc, 0.0))
        quadratic = np.abs(c2) > 1e-14 * (np.abs(c1) + np.abs(c0) + 1e-300)
        with np.errstate(divide="ignore", invalid="ignore"):
            linear = np.where(c1 != 0.0, -c0 / c1, np.nan)
            for r in (np.where(quadratic, (-c1 - root) / (2 * c2), linear),
                      np.where(quadratic, (-c1 + root) / (2 * c2), linear)):
                inside = (disc >= 0.0) & np.isfinite(r) & (r > 0.0) & (r < 1.0)
                points.append(np.where(inside, a + r * span, np.nan))
    return np.stack(points, axis=-1)


@dataclass(frozen=True)
class TrainingLaw:
    """The training fields as a weighted sample: teacher field u, replica noise eta, label y, omega, h*, weight."""

    u: np.ndarray
    eta: np.ndarray
    y: np.ndarray
    omega: np.ndarray
    h: np.ndarray
    weight: np.ndarray


def training_law(rule, overlap: float, chi: float, loss: EffectiveLoss, eta_nodes: int) -> TrainingLaw:
    """Quadrature of the training-field law at (R, chi, l_eff) on a :func:`label_rule` ``rule``: eta by
    ``eta_nodes``-point Gauss-Legendre between consecutive breakpoints of h* (and +-TAIL_CUT)."""
    u, _, y, w = rule
    root = math.sqrt(1.0 - overlap * overlap)
    cuts = (proximal_breakpoints(y, chi, loss) - overlap * u[:, None]) / root
    cuts = np.where(np.isfinite(cuts), np.clip(cuts, -TAIL_CUT, TAIL_CUT), TAIL_CUT)
    ends = np.full((len(y), 1), TAIL_CUT)
    edges = np.sort(np.concatenate([-ends, cuts, ends], axis=1), axis=1)
    eta, weight = _gauss_legendre(edges[:, :-1], edges[:, 1:], eta_nodes)
    shape = eta.shape
    uu = np.broadcast_to(u[:, None, None], shape)
    yy = np.broadcast_to(y[:, None, None], shape)
    omega = overlap * uu + root * eta
    h = proximal_map(omega, yy, chi, loss)
    weight = w[:, None, None] * weight * _density(eta)
    return TrainingLaw(uu.ravel(), eta.ravel(), yy.ravel(), omega.ravel(), h.ravel(), weight.ravel())


def residual(x, alpha: float, rule, eta_nodes: int) -> np.ndarray:
    """The eight saddle-point equations at state x (module docstring) as residuals: [R' - R, chi' - chi, m' - m,
    s' - s, dF/dgamma, dF/dbeta, F_m' - F_m, F_s' - F_s]; 1e3 outside the domain (0 < R < 1, chi, s, gamma > 0)."""
    overlap, chi, gamma, _, m, s, f_m, f_s = x
    if not (0.0 < overlap < 1.0 and chi > 0.0 and s > 0.0 and gamma > 0.0):
        return np.full(N_STATE, 1e3)
    loss = EffectiveLoss.from_state(x)
    law = training_law(rule, overlap, chi, loss, eta_nodes)
    w = law.weight / law.weight.sum()
    f = (law.h - law.omega) / chi
    q_hat = alpha * np.dot(w, f * f)
    m_hat = alpha * (np.dot(w, f * law.u) - overlap * np.dot(w, f * law.eta) / math.sqrt(1.0 - overlap * overlap))
    chi_new = 1.0 / math.sqrt(q_hat + m_hat * m_hat)
    m_new = np.dot(w, law.h)
    s_new = math.sqrt(np.dot(w, (law.h - m_new) ** 2))
    slope = -(f + f_m + f_s * (law.h - m) / s) / loss.gain  # l'_sel
    d_gamma = np.dot(w, slope * (law.h - m) / s)
    d_beta = np.dot(w, slope)
    return np.array([m_hat * chi_new - overlap, chi_new - chi, m_new - m, s_new - s, d_gamma, d_beta,
                     -gamma / s * d_beta - f_m, -gamma / s * d_gamma - f_s])


@dataclass(frozen=True)
class InfiniteBatchSolution:
    """Solution of the M = infinity limit: the state, its pn-equivalent (gain, shift), the training loss, the
    largest residual and whether the root finder converged."""

    state: np.ndarray
    gain: float
    shift: float
    training_loss: float
    residual: float
    converged: bool


def solve_infinite_batch(alpha: float, noise: float, start=(0.8, 0.7, 1.2, -0.2, 0.0, 1.0, 0.0, 0.0),
                         label_nodes: int = 32, eta_nodes: int = 16, tol: float = 1e-12) -> InfiniteBatchSolution:
    """Root of :func:`residual` by SciPy's hybrid Powell method from ``start`` (relu, square loss)."""
    rule = label_rule(noise, label_nodes)
    sol = optimize.root(lambda x: residual(x, alpha, rule, eta_nodes), np.asarray(start, dtype=float),
                        method="hybr", options={"xtol": tol})
    x = sol.x
    loss = EffectiveLoss.from_state(x)
    law = training_law(rule, x[0], x[1], loss, eta_nodes)
    w = law.weight / law.weight.sum()
    train = float(np.dot(w, 0.5 * (law.y - np.maximum(loss.gain * law.h + loss.shift, 0.0)) ** 2))
    res = float(np.max(np.abs(residual(x, alpha, rule, eta_nodes))))
    return InfiniteBatchSolution(x, loss.gain, loss.shift, train, res, bool(sol.success))
