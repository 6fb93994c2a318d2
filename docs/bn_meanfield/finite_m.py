"""Finite-M mean-field theory of real bn with controlled errors (research code for issue #16).

The equations of meanfield.py (per-sample effective loss l_eff(h, y) = y^2/2 - y a1(h) + a2(h)/2 + B(h), Gardner
zero-temperature ERM on the sphere with l_eff frozen, (gamma, beta) minimising the expected batch loss F[rho] at
fixed training-field law rho, iterated to self-consistency), with

- the average over (u, eta, xi) by quadrature instead of Monte Carlo: (u, xi) by exact_inf.outer_rule (split at
  u = 0 and y = 0), eta by Gauss-Legendre on [-CUT, CUT] (n_eta nodes; the proximal map may jump in eta where
  l_eff is not convex, so this part converges only like 1/n_eta^2 .. 1/n_eta: checked by doubling);
- rho the weighted quadrature sample (h*, y); the batch-mate expectations a1, a2, B (tables on an h-grid, cubic
  splines) and F[rho] by Monte Carlo over n_batches batches drawn from rho by inverse CDF of fixed uniforms (common
  random numbers: the quadrature weights do not change during the iteration, so the batches' indices are fixed);
  their error is measured by the spread over independent batch seeds;
- the proximal map by Newton refinement of every discrete local minimum on the h-grid of the spline cost, the
  lowest kept (at finite M l_eff is smooth: averaging over the batch-mates smooths relu's kink, width ~ 1/sqrt(M),
  so there is no point mass at the kink and the frozen-sample (gamma, beta) minimisation is the right condition;
  see FINDINGS.md for M = inf, where it is not).
"""

from __future__ import annotations

import math

import numpy as np
from exact_inf import gauss_legendre, outer_rule, phi
from meanfield import eps_g_pn
from numba import njit
from scipy import optimize
from scipy.interpolate import CubicSpline

CUT = 8.0


@njit(cache=True)
def _tables(grid, hm, ym, gamma, beta, big_m):
    """(a1, a2, B) at h = grid for batch-mates (hm, ym) of shape (n_batches, M - 1)."""
    nb, nm = hm.shape
    a1 = np.zeros(grid.size)
    a2 = np.zeros(grid.size)
    bb = np.zeros(grid.size)
    s1 = hm.sum(axis=1)
    s2 = (hm * hm).sum(axis=1)
    for k in range(grid.size):
        g = grid[k]
        for b in range(nb):
            mu = (g + s1[b]) / big_m
            var = (g * g + s2[b]) / big_m - mu * mu
            sd = math.sqrt(max(var, 1e-300))
            o = max(gamma * (g - mu) / sd + beta, 0.0)
            a1[k] += o
            a2[k] += o * o
            acc = 0.0
            for j in range(nm):
                r = ym[b, j] - max(gamma * (hm[b, j] - mu) / sd + beta, 0.0)
                acc += r * r
            bb[k] += 0.5 * acc
    return a1 / nb, a2 / nb, bb / nb


@njit(cache=True)
def _spline_eval(coef, lo, dx, x):
    """Value, first and second derivative of a cubic spline with uniform knots (scipy's coefficient layout)."""
    n = coef.shape[1]
    i = int((x - lo) / dx)
    i = min(max(i, 0), n - 1)
    t = x - (lo + i * dx)
    c0, c1, c2, c3 = coef[0, i], coef[1, i], coef[2, i], coef[3, i]
    return ((c0 * t + c1) * t + c2) * t + c3, (3 * c0 * t + 2 * c1) * t + c2, 6 * c0 * t + 2 * c1


@njit(cache=True)
def _prox(omega, y, chi, grid, ca, cc, out):
    """h* = argmin_h (h - omega)^2/(2 chi) + c(h) - y a1(h), splines ca (a1) and cc (c) on the uniform grid."""
    lo = grid[0]
    dx = grid[1] - grid[0]
    n = grid.size
    cost = np.empty(n)
    for s in range(omega.size):
        om, yy = omega[s], y[s]
        for k in range(n):
            va = _spline_eval(ca, lo, dx, grid[k])[0]
            vc = _spline_eval(cc, lo, dx, grid[k])[0]
            cost[k] = (grid[k] - om) ** 2 / (2 * chi) + vc - yy * va
        best_v = 1e300
        best_h = grid[0]
        for k in range(n):
            left = cost[k - 1] if k > 0 else 1e300
            right = cost[k + 1] if k < n - 1 else 1e300
            if cost[k] <= left and cost[k] <= right:
                h = grid[k]
                for _ in range(30):
                    va, da, dda = _spline_eval(ca, lo, dx, h)
                    vc, dc, ddc = _spline_eval(cc, lo, dx, h)
                    grad = (h - om) / chi + dc - yy * da
                    curv = 1 / chi + ddc - yy * dda
                    if curv <= 0:
                        break
                    step = -grad / curv
                    h_new = min(max(h + step, grid[k] - dx), grid[k] + dx)
                    if abs(h_new - h) < 1e-13:
                        h = h_new
                        break
                    h = h_new
                va = _spline_eval(ca, lo, dx, h)[0]
                vc = _spline_eval(cc, lo, dx, h)[0]
                v = (h - om) ** 2 / (2 * chi) + vc - yy * va
                if v < best_v:
                    best_v = v
                    best_h = h
        out[s] = best_h


class FiniteM:
    """The finite-M mean-field map; quadrature sizes n_outer (per piece of the (u, xi) plane) and n_eta, batch-mate
    Monte Carlo with n_batches batches of seed ``seed``, tables on n_grid points of [-h_max, h_max]."""

    def __init__(self, M, alpha, noise=0.5, n_outer=24, n_eta=64, n_batches=20_000, seed=1, n_grid=161,
                 h_max=8.0):
        self.M, self.alpha, self.noise = int(M), alpha, noise
        u, xi, y, w = outer_rule(noise, n_outer)
        eta, we = gauss_legendre(-CUT, CUT, n_eta)
        we = we * phi(eta)
        self.u = np.repeat(u, n_eta)
        self.y = np.repeat(y, n_eta)
        self.eta = np.tile(eta, u.size)
        self.w = np.repeat(w, n_eta) * np.tile(we, u.size)
        self.w /= self.w.sum()
        cum = np.cumsum(self.w)
        rng = np.random.default_rng(seed)
        self.idx = np.minimum(np.searchsorted(cum, rng.random((n_batches, self.M))), self.w.size - 1)
        self.grid = np.linspace(-h_max, h_max, n_grid)

    def tables(self, h, gamma, beta):
        hm = h[self.idx[:, 1:]]
        ym = self.y[self.idx[:, 1:]]
        return _tables(self.grid, np.ascontiguousarray(hm), np.ascontiguousarray(ym), gamma, beta, float(self.M))

    def prox(self, omega, chi, a1, c):
        ca = np.ascontiguousarray(CubicSpline(self.grid, a1).c)
        cc = np.ascontiguousarray(CubicSpline(self.grid, c).c)
        out = np.empty_like(omega)
        _prox(omega, self.y, chi, self.grid, ca, cc, out)
        return out

    def fit_scalars(self, h, gamma, beta):
        """argmin over (gamma, beta) of F[rho] by the batches (every member of a batch is a sample)."""
        hb = h[self.idx]
        z = ((hb - hb.mean(1, keepdims=True)) / hb.std(1, keepdims=True)).ravel()
        yy = self.y[self.idx].ravel()

        def fun(p):
            hh = p[0] * z + p[1]
            r = yy - np.maximum(hh, 0.0)
            d = -r * (hh > 0)
            return 0.5 * np.mean(r * r), np.array([np.mean(d * z), np.mean(d)])

        res = optimize.minimize(fun, [gamma, beta], jac=True, method="BFGS", options={"gtol": 1e-10})
        return float(res.x[0]), float(res.x[1]), float(res.fun)

    def solve(self, R=0.6, chi=1.0, gamma=0.8, beta=0.0, damping=0.5, iterations=300, tol=1e-6, verbose=False):
        h = R * self.u + math.sqrt(1 - R * R) * self.eta
        tabs = self.tables(h, gamma, beta)
        w = self.w
        for it in range(iterations):
            sq = math.sqrt(1 - R * R)
            omega = R * self.u + sq * self.eta
            h = self.prox(omega, chi, tabs[0], 0.5 * tabs[1] + tabs[2])
            f = (h - omega) / chi
            q_hat = self.alpha * np.dot(w, f * f)
            m_hat = self.alpha * (np.dot(w, f * self.u) - R * np.dot(w, f * self.eta) / sq)
            chi_new = 1 / math.sqrt(q_hat + m_hat * m_hat)
            r_new = min(max(m_hat * chi_new, -0.999), 0.999)
            g_new, b_new, loss = self.fit_scalars(h, gamma, beta)
            old = np.array([R, chi, gamma, beta])
            new = np.array([r_new, chi_new, g_new, b_new])
            R, chi, gamma, beta = damping * old + (1 - damping) * new
            t = self.tables(h, gamma, beta)
            tabs = tuple(damping * a + (1 - damping) * b for a, b in zip(tabs, t, strict=True))
            change = float(np.max(np.abs(new - old) / np.array([1, chi, 1, 1])))
            if verbose:
                print(it, f"R {R:.6f} chi {chi:.6f} gamma {gamma:.6f} beta {beta:.6f} F {loss:.6f} change {change:.1e}",
                      flush=True)
            if change < tol:
                break
        m = float(np.dot(w, h))
        s = float(math.sqrt(np.dot(w, (h - m) ** 2)))
        return dict(M=self.M, alpha=self.alpha, R=R, chi=chi, gamma=gamma, beta=beta, F=loss, h_mean=m, h_std=s,
                    eps_g=eps_g_pn(R, gamma, beta), converged=change < tol, iterations=it + 1, change=change)
