"""Kernels of the finite-M mean-field theory of real bn (:mod:`statmech_bn.theory.bn_finite_m`).

Conventions: student activation g (relu, linear or erf, by its code in :mod:`.codes`), square loss
l(y, z) = (y - g(z))^2/2, batch statistics the batch mean and the biased batch std (divisor M) without epsilon. A
batch is the sample at h (the field of interest) and M - 1 batch-mates (hm, ym) drawn from the training-field law;
:func:`batch_mate_tables` averages over ``n_batches`` such draws.

The per-sample effective loss (docs/bn_meanfield/FINDINGS.md, issue #16) is

    l_eff(h, y) = y^2/2 - y a1(h) + a2(h)/2 + B(h),
    a1 = E[g(z_1)],  a2 = E[g(z_1)^2],  B = E[sum_{j>1} (y_j - g(z_j))^2/2],
    z_j = gamma (h_j - mu_B)/sigma_B + beta,   h_1 = h,

the own loss plus the loss the sample causes its batch-mates through the batch statistics.
"""

import math

import numpy as np

from ._jit import jit, jit_inline
from .activations import activation


@jit
def batch_mate_tables(code, grid, hm, ym, gamma, beta, batch_size, a1, a2, mates):
    """(a1, a2, B) of l_eff at the fields ``grid``, averaged over the batch-mate draws, written into the outputs.

    Parameters
    ----------
    code : the student activation g (:mod:`.codes`).
    grid : (G,) fields h of the sample of interest.
    hm, ym : (n_batches, M - 1) the batch-mates' fields and labels.
    gamma, beta : bn's scale and shift.
    batch_size : M (float).
    a1, a2, mates : (G,) outputs: the means over batches of g(z_1), g(z_1)^2 and of the batch-mates' summed
        loss sum_{j>1} (y_j - g(z_j))^2/2.
    """
    nb, nm = hm.shape
    s1 = np.zeros(nb)
    s2 = np.zeros(nb)
    for b in range(nb):
        for j in range(nm):
            s1[b] += hm[b, j]
            s2[b] += hm[b, j] * hm[b, j]
    for k in range(grid.size):
        g = grid[k]
        t1 = 0.0
        t2 = 0.0
        t3 = 0.0
        for b in range(nb):
            mu = (g + s1[b]) / batch_size
            var = (g * g + s2[b]) / batch_size - mu * mu
            sd = math.sqrt(max(var, 1e-300))
            o = activation(code, gamma * (g - mu) / sd + beta)
            t1 += o
            t2 += o * o
            acc = 0.0
            for j in range(nm):
                r = ym[b, j] - activation(code, gamma * (hm[b, j] - mu) / sd + beta)
                acc += r * r
            t3 += 0.5 * acc
        a1[k] = t1 / nb
        a2[k] = t2 / nb
        mates[k] = t3 / nb


@jit_inline
def spline_eval(coef, lo, dx, x):
    """Value, first and second derivative at x of a cubic spline on uniform knots lo + i dx (SciPy's
    ``CubicSpline.c`` layout: coef[:, i] the cubic's coefficients, highest power first; extrapolated outside)."""
    n = coef.shape[1]
    i = int((x - lo) / dx)
    i = min(max(i, 0), n - 1)
    t = x - (lo + i * dx)
    c0, c1, c2, c3 = coef[0, i], coef[1, i], coef[2, i], coef[3, i]
    return ((c0 * t + c1) * t + c2) * t + c3, (3 * c0 * t + 2 * c1) * t + c2, 6 * c0 * t + 2 * c1


@jit_inline
def _prox_objective(ca, cc, lo, dx, h, om, yy, chi):
    """(h - om)^2/(2 chi) + c(h) - yy a1(h) with the splines of :func:`spline_proximal_map`."""
    return (h - om) ** 2 / (2 * chi) + spline_eval(cc, lo, dx, h)[0] - yy * spline_eval(ca, lo, dx, h)[0]


@jit_inline
def _golden_minimum(ca, cc, lo, dx, left, right, om, yy, chi):
    """A local minimiser of the objective in [left, right] by golden-section search to width 1e-12 (the caller's
    bracket has an interior point at most as high as both ends)."""
    ratio = 0.5 * (math.sqrt(5.0) - 1.0)
    a, b = left, right
    c = b - ratio * (b - a)
    d = a + ratio * (b - a)
    fc = _prox_objective(ca, cc, lo, dx, c, om, yy, chi)
    fd = _prox_objective(ca, cc, lo, dx, d, om, yy, chi)
    while b - a > 1e-12:
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = _prox_objective(ca, cc, lo, dx, c, om, yy, chi)
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = _prox_objective(ca, cc, lo, dx, d, om, yy, chi)
    return 0.5 * (a + b)


@jit
def spline_proximal_map(omega, y, chi, grid, ca, cc, out):
    """h* = argmin_h (h - omega)^2/(2 chi) + c(h) - y a1(h) for every (omega, y), written into ``out``.

    a1 and c = a2/2 + B are cubic splines (coefficients ``ca``, ``cc``) on the uniform ``grid``. Every discrete local
    minimum of the objective on the grid is refined by Newton steps (each step clipped to one grid spacing); where
    the curvature is not positive (Newton has no descent step) by golden-section search within one grid spacing
    either side instead. The lowest refined minimum is kept: l_eff need not be convex, so h* may jump between
    branches.
    """
    lo = grid[0]
    dx = grid[1] - grid[0]
    n = grid.size
    cost = np.empty(n)
    for s in range(omega.size):
        om, yy = omega[s], y[s]
        for k in range(n):
            cost[k] = _prox_objective(ca, cc, lo, dx, grid[k], om, yy, chi)
        best_v = 1e300
        best_h = grid[0]
        for k in range(n):
            left = cost[k - 1] if k > 0 else 1e300
            right = cost[k + 1] if k < n - 1 else 1e300
            if cost[k] <= left and cost[k] <= right:
                h = grid[k]
                for _ in range(30):
                    va, da, dda = spline_eval(ca, lo, dx, h)
                    vc, dc, ddc = spline_eval(cc, lo, dx, h)
                    grad = (h - om) / chi + dc - yy * da
                    curv = 1 / chi + ddc - yy * dda
                    if curv <= 0:
                        h = _golden_minimum(ca, cc, lo, dx, grid[k] - dx, grid[k] + dx, om, yy, chi)
                        break
                    h_new = min(max(h - grad / curv, grid[k] - dx), grid[k] + dx)
                    if abs(h_new - h) < 1e-13:
                        h = h_new
                        break
                    h = h_new
                v = _prox_objective(ca, cc, lo, dx, h, om, yy, chi)
                if v < best_v:
                    best_v = v
                    best_h = h
        out[s] = best_h
