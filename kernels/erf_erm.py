"""ERM's averages for an erf student: the proximal map solved once per line of the replica field.

:func:`.saddle.erm_sums_by_quadrature` solves the proximal map h*(a) of erf (:func:`.channels.moreau`) afresh at
every node (tau, x, eta) of the outer rules: from a, with a grid search around a wherever the Moreau objective may be
non-convex. Along one line of the replica field (tau and the noise x fixed, so the label y and c = gamma^2 chi are
fixed) only a = A + B eta moves. :func:`erf_erm_line` walks the line's nodes in increasing a:

- where the objective is convex for every a (:func:`.channels.erf_prox_convex`), by safeguarded Newton
  (:func:`.channels.erf_newton`) from the previous node's h* extrapolated along dh*/da (h*(a) is smooth there);
- elsewhere by :func:`.channels.erf_prox_on_grid` on one grid of h for the whole line (the spacing of the per-node
  search, 2 bound/ERF_PROX_GRID), whose losses are computed once per line instead of once per node; the grid below
  the previous node's h* is skipped (h*(a) is non-decreasing: a proximal map is monotone even for a non-convex loss),
  and Newton starts from the extrapolated previous h* in the basin that holds it.

Both give the global minimiser as the per-node search does (the same Newton iteration to 1e-14 and, on the
non-convex lines, every discrete local minimum refined), within round-off.
"""

import math

import numpy as np

from ._jit import jit
from .channels import (
    ERF_PROX_GRID,
    erf_loss_grid,
    erf_newton,
    erf_prox_bound,
    erf_prox_convex,
    erf_prox_on_grid,
    erf_prox_terms,
)
from .panels import hermite_table

SMOOTH_LINE_SIZES = (12, 16, 24, 32, 48, 64)
"""Gauss-Hermite rules of the replica field on a smooth line (:func:`smooth_line`), where every summand is analytic in
eta, chosen by the line's slope |da/deta| = |gamma| sqrt(q - m^2): the rule of SMOOTH_LINE_SIZES[i] nodes where the
slope is at most ERM_SMOOTH_SLOPES[i] (ERM) or GIBBS_SMOOTH_SLOPES[i] (Gibbs; 0: not used), the caller's rule above."""
ERM_SMOOTH_SLOPES = (0.0, 0.0, 0.125, 0.15, 0.2, 0.25)
"""Gauss-Hermite converges slowly in the slope: measured worst errors of ERM's line averages (envelope, g_a^2,
eta g_a/slope, loss, g_a) against 300 nodes over |y| <= 2.5, |A| <= 5 and c up to the margin are, at the slopes 0.125 /
0.15 / 0.2 / 0.25: 24 nodes 1.2e-13 / 1.3e-11 / 2.9e-9 / 1.1e-7, 32 nodes 3.5e-14 / 7.4e-14 / 1.9e-10 / 6.5e-9,
48 nodes 4.3e-14 / 3.1e-14 / 7.8e-13 / 1.8e-10, 64 nodes 5.9e-14 / 2.2e-14 / 1.6e-14 / 2.2e-12 (each rule on its own
range, slopes +-s and s/2, 21 labels, 11 values of A, 5 of c: 7.6e-13, 6.8e-13, 7.8e-13, 2.2e-12), and the default 96
nodes 2e-12 at 0.3, 3e-8 at 0.5, 5e-5 at 1."""
GIBBS_SMOOTH_SLOPES = (0.075, 0.1, 0.125, 0.0, 0.0, 0.0)
"""Measured worst errors of Gibbs' line averages (log Z, g_a, g_aa, the mean loss, eta g_a/slope, g_a^2 of erf's tilted
channel) against 200 nodes over |y| <= 2.5, |A| <= 5, beta_T from 0.1 to 50 and b beta_T up to the margin, at the
slopes 0.075 / 0.1 / 0.125 / 0.15 / 0.2: 12 nodes 5e-12 / 5e-9 / 1e-7 / 1e-5 / 3e-4, 16 nodes 7e-12 / 1e-11 / 6e-9 /
4e-7 / 7e-5, 24 nodes 4e-12 / 7e-12 / 1e-11 / 2e-9 / 7e-7, and the default 32 nodes 5e-12 / 1e-11 / 7e-12 / 7e-12 /
3e-8 (3e-6 at 0.25; the floor ~7e-12 is the channel's own error at beta_T = 50)."""
SMOOTH_LINE_MARGIN = 2.0
"""A line is smooth where 1/c >= SMOOTH_LINE_MARGIN max|g''| (|y| + 1), c = gamma^2 chi (ERM) or b beta_T (Gibbs):
then the Moreau objective (the tilted measure's log density) has curvature at least 1/(2c) for every a (is unimodal),
and dh*/da <= 2."""


SMOOTH_LINE_X, SMOOTH_LINE_W = hermite_table(SMOOTH_LINE_SIZES)
SMOOTH_LINE_N = np.array(SMOOTH_LINE_SIZES)
ERM_SMOOTH_SLOPE = np.array(ERM_SMOOTH_SLOPES)
GIBBS_SMOOTH_SLOPE = np.array(GIBBS_SMOOTH_SLOPES)


@jit
def smooth_rule(slope, limits, nodes):
    """Row of SMOOTH_LINE_X/SMOOTH_LINE_W for a line of slope |da/deta| by the table ``limits`` (ERM_SMOOTH_SLOPE or
    GIBBS_SMOOTH_SLOPE), or -1: none, or none with fewer than the caller's ``nodes``."""
    for row in range(limits.shape[0]):
        if limits[row] > 0.0 and abs(slope) <= limits[row]:
            return row if SMOOTH_LINE_N[row] < nodes else -1
    return -1


@jit
def smooth_line(y, c):
    """True where the Moreau objective of erf at label y is convex with margin SMOOTH_LINE_MARGIN for every a."""
    return erf_prox_convex(y, c * SMOOTH_LINE_MARGIN)


@jit
def erf_erm_line(y, c, a_x, order, h_out, dh_out, loss_out, env_out):
    """Proximal map of erf at the nodes a_x[order[0]], a_x[order[1]], ... (non-decreasing, c > 0), written at the
    same indices of ``h_out`` (h*), ``dh_out`` (dh*/da), ``loss_out`` (l(y, h*)) and ``env_out`` (the Moreau
    envelope)."""
    n = order.shape[0]
    bound = erf_prox_bound(y, c)
    convex = erf_prox_convex(y, c)
    step = 2.0 * bound / ERF_PROX_GRID
    low = a_x[order[0]] - bound
    size = 0 if convex else int(math.ceil((a_x[order[n - 1]] + bound - low) / step)) + 2
    grid_loss = erf_loss_grid(y, low, step, size)
    prev_a = math.nan
    prev_h = 0.0
    prev_dh = 0.0
    for t in range(n):
        j = order[t]
        a = a_x[j]
        start = a if math.isnan(prev_a) else prev_h + prev_dh * (a - prev_a)
        if convex:
            h = erf_newton(y, a, c, min(max(start, a - bound), a + bound), a - bound, a + bound)
        else:
            h = erf_prox_on_grid(y, a, c, low, step, grid_loss, -math.inf if math.isnan(prev_a) else prev_h, start)
        lh, dh = erf_prox_terms(y, h, c)
        h_out[j] = h
        dh_out[j] = dh
        loss_out[j] = lh
        env_out[j] = lh + (h - a) ** 2 / (2.0 * c)
        prev_a = a
        prev_h = h
        prev_dh = dh
