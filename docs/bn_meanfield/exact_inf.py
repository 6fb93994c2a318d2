"""Deterministic M = infinity limit of the mean-field theory of meanfield.py (research code for issue #16).

The same equations as :class:`meanfield.MeanField` with ``M = inf``, but every average over (u, eta, xi) is a
quadrature whose error is controlled, and the proximal map of the piecewise-quadratic effective loss is the exact
piecewise minimiser (no spline, no Newton):

    l_eff(h, y) = (y - relu(A h + B))^2/2 + F_m (h - m) + F_s ((h - m)^2 - s^2)/(2 s),
    A = gamma/s, B = beta - gamma m/s  (kink at k = -B/A, A > 0),

is quadratic on h < k and on h > k. For a label y the proximal map h*(omega) = argmin_h (h - omega)^2/(2 chi) +
l_eff(h, y) is the better of the two pieces' minimisers (each clipped to its half-line); it is affine in omega
between breakpoints: the clip points of either piece and the roots of the (piecewise quadratic) difference of the
two pieces' values. These breakpoints are computed in closed form per (u, xi) node, mapped to eta (omega = R u +
sqrt(1 - R^2) eta), and the eta-average is Gauss-Legendre on each piece (a polynomial of degree <= 3 times the
Gaussian density on |eta| <= CUT; the tail beyond CUT = 9 weighs 2e-19).

Outer average over (u, xi): both split where the integrand is not smooth, u = 0 (relu teacher) and y = relu(u) +
noise xi = 0 (the branch structure of the proximal map changes there: a clamped region for y < 0, a jump for y > 0),
Gauss-Legendre on each of the four pieces, truncated at |u|, |xi| <= CUT. After the exact eta-average the
integrand is smooth on each piece (breakpoints do not cross inside a piece), so the error falls geometrically
with the node count (checked by doubling, see FINDINGS.md).

Saddle-point equations (Gardner ERM on the sphere with l_eff frozen; meanfield.py's docstring):

    f = (h* - omega)/chi,  q_hat = alpha E[f^2],  m_hat = alpha (E[f u] - R E[f eta]/sqrt(1 - R^2)),
    chi = 1/sqrt(q_hat + m_hat^2),  R = m_hat chi,
    (m, s) = mean and std of h* (the training-set law rho), dF/dgamma = dF/dbeta = 0, F_m = dF/dm, F_s = dF/ds at rho,

with the derivatives of F taken with the subgradient that the proximal map selects at relu's kink (see
:func:`residual`); solved as a root of :func:`residual` (:func:`solve_root`).

E[f eta] is the Stein form of sqrt(1 - R^2) E[df/domega] that stays right where h* jumps (the quadrature integrates
f eta across the jump; the pointwise derivative would miss it).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize

CUT = 9.0


def gauss_legendre(lo, hi, n):
    """Nodes and weights of n-point Gauss-Legendre on [lo, hi] (arrays broadcast; last axis the nodes)."""
    x, w = np.polynomial.legendre.leggauss(n)
    lo = np.asarray(lo, dtype=float)[..., None]
    hi = np.asarray(hi, dtype=float)[..., None]
    half = 0.5 * (hi - lo)
    return lo + half * (x + 1.0), half * w


def phi(x):
    return np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def outer_rule(noise: float, n: int = 48):
    """Nodes (u, xi, y) and weights of the Gaussian average over (u, xi), split at u = 0 and at y = 0."""
    us, ws = [], []
    for lo, hi in ((-CUT, 0.0), (0.0, CUT)):
        x, w = gauss_legendre(lo, hi, n)
        us.append(x)
        ws.append(w * phi(x))
    u = np.concatenate(us)
    wu = np.concatenate(ws)
    xi0 = -np.maximum(u, 0.0) / noise  # y = 0 here
    lo_piece = gauss_legendre(np.full_like(u, -CUT), np.maximum(xi0, -CUT), n)
    hi_piece = gauss_legendre(np.maximum(xi0, -CUT), np.full_like(u, CUT), n)
    xi = np.concatenate([lo_piece[0], hi_piece[0]], axis=1)
    wx = np.concatenate([lo_piece[1], hi_piece[1]], axis=1) * phi(xi)
    u2 = np.broadcast_to(u[:, None], xi.shape)
    w = wu[:, None] * wx
    y = np.maximum(u2, 0.0) + noise * xi
    keep = w.ravel() > 0
    return u2.ravel()[keep], xi.ravel()[keep], y.ravel()[keep], w.ravel()[keep]


class Leff:
    """l_eff(h, y) for one state: two quadratic pieces 0.5 c h^2 + b h + const on h < k and h > k."""

    def __init__(self, gamma, beta, m, s, f_m, f_s):
        self.A = gamma / s
        self.B = beta - gamma * m / s
        self.k = -self.B / self.A
        e2 = f_s / s
        e1 = f_m - f_s * m / s
        self.e1, self.e2 = e1, e2

    def pieces(self, y):
        """(c, b, const) of the left and right pieces at labels y (arrays)."""
        A, B = self.A, self.B
        left = (self.e2 + 0 * y, self.e1 + 0 * y, 0.5 * y * y)
        right = (A * A + self.e2 + 0 * y, -A * (y - B) + self.e1, 0.5 * (y - B) ** 2)
        return left, right


def _candidate(omega, chi, piece, k, side):
    """Minimiser of (h - omega)^2/(2 chi) + 0.5 c h^2 + b h + const over the piece's half-line, and its value."""
    c, b, const = piece
    h = (omega - chi * b) / (1.0 + chi * c)
    h = np.minimum(h, k) if side < 0 else np.maximum(h, k)
    return h, (h - omega) ** 2 / (2.0 * chi) + 0.5 * c * h * h + b * h + const


def prox(omega, y, chi, leff: Leff):
    """Exact proximal map h*(omega) of l_eff(., y) (both arguments broadcast)."""
    left, right = leff.pieces(y)
    hl, vl = _candidate(omega, chi, left, leff.k, -1)
    hr, vr = _candidate(omega, chi, right, leff.k, +1)
    return np.where(vl <= vr, hl, hr)


def omega_breakpoints(y, chi, leff: Leff):
    """Every omega where h*(omega) may stop being smooth, per label (shape (len(y), 8); extra points are harmless):
    the two clip points and the roots of v_left - v_right on each of the three intervals they bound."""
    k = leff.k
    left, right = leff.pieces(y)
    clip_l = k * (1.0 + chi * left[0]) + chi * left[1]
    clip_r = k * (1.0 + chi * right[0]) + chi * right[1]
    lo = np.minimum(clip_l, clip_r)
    hi = np.maximum(clip_l, clip_r)
    points = [clip_l, clip_r]
    for a, b in ((lo - 50.0, lo), (lo, hi), (hi, hi + 50.0)):
        # the difference is exactly quadratic on [a, b]: fit it through three points, then take its roots
        t = np.stack([a, 0.5 * (a + b), b], axis=-1)
        d = np.stack([_candidate(t[:, j], chi, left, k, -1)[1] - _candidate(t[:, j], chi, right, k, +1)[1]
                      for j in range(3)], axis=-1)
        span = np.where(b - a > 0, b - a, 1.0)
        c0 = d[:, 0]  # d = c0 + c1 x + c2 x^2 at x = 0, 1/2, 1 of (omega - a)/(b - a)
        c2 = 2.0 * (d[:, 2] - 2.0 * d[:, 1] + d[:, 0])
        c1 = d[:, 2] - d[:, 0] - c2
        disc = c1 * c1 - 4.0 * c2 * c0
        sq = np.sqrt(np.maximum(disc, 0.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            lin = np.where(c1 != 0, -c0 / c1, np.nan)
            r1 = np.where(np.abs(c2) > 1e-14 * (np.abs(c1) + np.abs(c0) + 1e-300), (-c1 - sq) / (2 * c2), lin)
            r2 = np.where(np.abs(c2) > 1e-14 * (np.abs(c1) + np.abs(c0) + 1e-300), (-c1 + sq) / (2 * c2), lin)
        for r in (r1, r2):
            ok = (disc >= 0) & np.isfinite(r) & (r > 0) & (r < 1)
            points.append(np.where(ok, a + r * span, np.nan))
    return np.stack(points, axis=-1)


class ExactInf:
    """The M = infinity mean-field map with quadrature averages; ``n_outer`` and ``n_inner`` are the Gauss-Legendre
    node counts per piece of the (u, xi) plane and of eta."""

    def __init__(self, alpha, noise=0.5, n_outer=48, n_inner=24):
        self.alpha, self.noise = alpha, noise
        self.u, self.xi, self.y, self.w = outer_rule(noise, n_outer)
        self.n_inner = n_inner

    def sample(self, R, chi, leff: Leff):
        """(u, eta, y, h*, weight) of the training-field law at state (R, chi, l_eff), flattened."""
        sq = math.sqrt(1.0 - R * R)
        om_b = omega_breakpoints(self.y, chi, leff)
        eta_b = (om_b - R * self.u[:, None]) / sq
        eta_b = np.where(np.isfinite(eta_b), np.clip(eta_b, -CUT, CUT), CUT)
        edges = np.sort(np.concatenate([np.full((len(self.y), 1), -CUT), eta_b, np.full((len(self.y), 1), CUT)],
                                       axis=1), axis=1)
        eta, we = gauss_legendre(edges[:, :-1], edges[:, 1:], self.n_inner)  # (K, 9, n)
        we = we * phi(eta)
        u = self.u[:, None, None]
        y = np.broadcast_to(self.y[:, None, None], eta.shape)
        omega = R * u + sq * eta
        h = prox(omega, y, chi, leff)
        w = self.w[:, None, None] * we
        return (np.broadcast_to(u, eta.shape).ravel(), eta.ravel(), y.ravel(), h.ravel(), omega.ravel(),
                w.ravel())


def pn_equivalent(state):
    """(R, chi, gain, shift) of pn with the same predictor: gain = gamma/s, shift = beta - gamma m/s."""
    R, chi, gamma, beta, m, s = state[:6]
    return R, chi, gamma / s, beta - gamma * m / s


def residual(ex: ExactInf, state):
    """Stationarity residuals of the M = inf mean-field theory with the (gamma, beta) conditions in force form.

    The training fields pile up at relu's kink (h* = k for the clamped labels y < 0: a point mass, 2.8 % of the
    training set at alpha = 5), where l(y, .) is not differentiable; there the subgradient that the w-stationarity
    selects is l'_sel = -(f + F_m + F_s (h - m)/s)/A (the proximal map's optimality condition, exact off the kink
    too). dF/dgamma = E[l'_sel (h - m)/s] and dF/dbeta = E[l'_sel] are the (gamma, beta) conditions; the prototype's
    frozen-sample minimisation over (gamma, beta) is the same condition only when it lands on the kink exactly.
    Returns [R' - R, chi' - chi, m' - m, s' - s, E[l'_sel (h - m)/s], E[l'_sel], F_m' - F_m, F_s' - F_s]."""
    R, chi, gamma, beta, m, s, f_m, f_s = state
    if not (0.0 < R < 1.0 and chi > 0.0 and s > 0.0 and gamma > 0.0):
        return np.full(8, 1e3)
    leff = Leff(gamma, beta, m, s, f_m, f_s)
    u, eta, y, h, omega, w = ex.sample(R, chi, leff)
    f = (h - omega) / chi
    sq = math.sqrt(1.0 - R * R)
    q_hat = ex.alpha * np.dot(w, f * f)
    m_hat = ex.alpha * (np.dot(w, f * u) - R * np.dot(w, f * eta) / sq)
    chi_new = 1.0 / math.sqrt(q_hat + m_hat * m_hat)
    wn = w / w.sum()
    m_new = np.dot(wn, h)
    s_new = math.sqrt(np.dot(wn, (h - m_new) ** 2))
    lsel = -(f + f_m + f_s * (h - m) / s) / leff.A
    d_gamma = np.dot(wn, lsel * (h - m) / s)
    d_beta = np.dot(wn, lsel)
    hh = leff.A * h + leff.B
    ex.last = dict(loss=float(np.dot(wn, 0.5 * (y - np.maximum(hh, 0.0)) ** 2)))
    return np.array([m_hat * chi_new - R, chi_new - chi, m_new - m, s_new - s, d_gamma, d_beta,
                     -gamma / s * d_beta - f_m, -gamma / s * d_gamma - f_s])


def solve_root(ex: ExactInf, state, tol=1e-12):
    """Root of :func:`residual` by scipy's hybrid Powell method."""
    sol = optimize.root(lambda x: residual(ex, x), np.asarray(state, dtype=float), method="hybr",
                        options={"xtol": tol})
    return sol.x, sol
