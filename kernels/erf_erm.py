"""ERM's averages for an erf student: the proximal map solved once per line of the replica field.

:func:`.saddle.erm_sums_by_quadrature` solves the proximal map h*(a) of erf (:func:`.channels.moreau`) afresh at
every node (tau, x, eta) of the outer rules: from a, with a grid search around a wherever the Moreau objective may be
non-convex. Along one line of the replica field (tau and the noise x fixed, so the label y and c = gamma^2 chi are
fixed) only a = A + B eta moves, and the structure of h*(a) depends on (y, c) only: :func:`erf_erm_branches` finds
where the objective's curvature 1 + c l''(h) is negative (around the at most two minima of l''), the branches of
local minima those stretches separate, and the jumps of h*(a) between branches (Maxwell points: equal objective);
:func:`erf_erm_walk` then solves each node in increasing a by safeguarded Newton (:func:`.channels.erf_newton`) in
the one convex stretch of h that holds the global minimiser there, from the previous node's h* extrapolated along
dh*/da. No grid: the branch is known, so Newton cannot settle in the wrong basin (the grid search of 33 points around
a missed narrow basins at large c: at y = 0.5, c = 20 it kept a minimum 4e-3 above the global one).

:func:`erf_erm_branches` also returns the narrow features of h*(a) (jumps and steep points, with the distance of
their singularities from the real axis), by which :func:`.saddle.erf_erm_sums` chooses each line's rule.
"""

import math

import numpy as np

from ._jit import jit
from .channels import (
    erf_newton_state,
    erf_prox_bound,
    erf_prox_convex,
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
    envelope): :func:`erf_erm_branches` then :func:`erf_erm_walk`."""
    centers = np.empty(MAX_LINE_FEATURES)
    widths = np.empty(MAX_LINE_FEATURES)
    jumps = np.empty(2)
    stretch_lo = np.empty(3)
    stretch_hi = np.empty(3)
    n_jumps = erf_erm_branches(y, c, centers, widths, jumps, stretch_lo, stretch_hi, np.empty(BRANCH_SCRATCH))[1]
    erf_erm_walk(y, c, a_x, order, jumps, n_jumps, stretch_lo, stretch_hi, h_out, dh_out, loss_out, env_out,
                 np.empty((3, 0)), False, c, y)


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT2 = 1.0 / math.sqrt(2.0)
MAX_LINE_FEATURES = 6
"""Most features :func:`erf_erm_branches` returns: two curvature minima of the loss, each a steep point (one entry) or
a jump (two entries: the split and its graded width)."""
WALK_NEWTON_TOL = 1e-9
"""Newton along a line stops at a step below this (1 + |h|): by its quadratic convergence the next step would be below
~1e-18 |F'''/F''| (F the Moreau objective), and the node's terms are taken from the last iterate moved by the step.
With second-order extrapolation from the previous node: 2.1 iterations per node (3.2 at 1e-14 with first order).
:func:`erf_erm_branches` stops its Newton iterations (the curvature's minima and edges, the branch minima and the
Maxwell points) at Newton steps below the same (at 1e-14 they took 45% more CPU, one confirming step each)."""
MEMO_REACH = 1e-4
"""Largest first-order change of h* at a node since the remembered state from which :func:`erf_erm_walk` starts
Newton there (the neglected second order is then ~1e-8 |d2h*/da2| or less, mostly ~1e-12: one Newton step; the previous
node's extrapolation is ~1e-5 off: two). Measured CPU of the noise 0.5 benchmark curve: the same at 1e-3 and 1e-4,
9% more at 1e-5."""
MEMO_NODES = 256
"""Nodes per line that :func:`.saddle.erf_erm_sums` remembers (a split line has ~130 above the negligible weight)."""
BRANCH_SCRATCH = 18
"""Scratch entries of :func:`erf_erm_branches`."""
CURVATURE_Y_STEP = 1.0 / 256.0
CURVATURE_Y_MAX = 4.0
"""The minima of l''(h) in h are tabulated for |y| <= CURVATURE_Y_MAX every CURVATURE_Y_STEP (:func:`_curvature_table`)
and interpolated linearly (off by ~1e-6 in h, so by ~1e-12 in l''(h_m), which is evaluated there); beyond, Newton."""


def _curvature_table():
    """Rows y = 0, CURVATURE_Y_STEP, ..., CURVATURE_Y_MAX: the minimum of l''(h) for label y on the side h < 0 (in
    [-1.6, -0.95]) and, for y < 1, beyond erf^-1(y) (in [1.45, 4]; NaN where m, the third derivative of l over g',
    does not change sign there), by bisection on m."""
    ys = np.arange(int(round(CURVATURE_Y_MAX / CURVATURE_Y_STEP)) + 1) * CURVATURE_Y_STEP
    erf = np.vectorize(math.erf)

    def m(y, h):
        d1 = _SQRT_2_OVER_PI * np.exp(-0.5 * h * h)
        return -3.0 * h * d1 + (y - erf(h * _INV_SQRT2)) * (1.0 - h * h)

    def bisect(lo, hi):
        lo = np.full_like(ys, lo)
        hi = np.full_like(ys, hi)
        valid = (m(ys, lo) < 0.0) & (m(ys, hi) > 0.0)
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            up = m(ys, mid) > 0.0
            hi = np.where(up, mid, hi)
            lo = np.where(up, lo, mid)
        return np.where(valid, 0.5 * (lo + hi), np.nan)

    main = bisect(-1.6, -0.95)
    second = np.where(ys < 1.0, bisect(1.45, 4.0), np.nan)
    return main, second




@jit
def _curvature(y, h):
    """(l''(h), m(h), m'(h), g'(h)) of l(y, h) = (y - g(h))^2/2, g = erf(h/sqrt 2), with l''' = g' m."""
    g = math.erf(h * _INV_SQRT2)
    d1 = _SQRT_2_OVER_PI * math.exp(-0.5 * h * h)
    r = y - g
    return d1 * d1 + r * h * d1, -3.0 * h * d1 + r * (1.0 - h * h), d1 * (4.0 * h * h - 4.0) - 2.0 * h * r, d1


_CURVATURE_MAIN, _CURVATURE_SECOND = _curvature_table()


def _curvature_minimum_values(minima):
    """l''(h_m) at the tabulated minima h_m of l'' (rows y = 0, CURVATURE_Y_STEP, ...; NaN where none)."""
    ys = np.arange(minima.size) * CURVATURE_Y_STEP
    erf = np.vectorize(math.erf)
    d1 = _SQRT_2_OVER_PI * np.exp(-0.5 * minima * minima)
    return d1 * d1 + (ys - erf(minima * _INV_SQRT2)) * minima * d1


_CURVATURE_MAIN_L2 = _curvature_minimum_values(_CURVATURE_MAIN)
_CURVATURE_SECOND_L2 = _curvature_minimum_values(_CURVATURE_SECOND)
MAX_CUSPS = 8
"""Room for the labels of :func:`erf_erm_cusps` (two per minimum of l'' whose curvature changes sign once in |y|)."""


@jit
def _interpolated_kappa(minima, y, c):
    """1 + c l''(h_m) at label y >= 0, h_m interpolated in the table ``minima`` as :func:`erf_erm_branches` does."""
    u = y / CURVATURE_Y_STEP
    i = min(int(u), minima.shape[0] - 2)
    f = u - i
    return 1.0 + c * _curvature(y, minima[i] + f * (minima[i + 1] - minima[i]))[0]


@jit
def _add_cusps(minima, values, c, out, count):
    """Append to ``out`` the labels +-y where 1 + c l''(h_m) changes sign, h_m the minimum of l'' tabulated in
    ``minima`` (``values``: l''(h_m) at the table's rows); bisection in y between rows; returns the new count."""
    step = CURVATURE_Y_STEP
    for i in range(values.shape[0] - 1):
        k0 = 1.0 + c * values[i]
        k1 = 1.0 + c * values[i + 1]
        if math.isnan(k0) or math.isnan(k1) or (k0 > 0.0) == (k1 > 0.0) or count + 2 > out.shape[0]:
            continue
        lo = i * step
        hi = lo + step
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            if mid <= lo or mid >= hi:
                break
            if (_interpolated_kappa(minima, mid, c) > 0.0) == (k0 > 0.0):
                lo = mid
            else:
                hi = mid
        out[count] = -0.5 * (lo + hi)
        out[count + 1] = 0.5 * (lo + hi)
        count += 2
    return count


@jit
def erf_erm_cusps(c, out):
    """The labels y (ascending, |y| <= CURVATURE_Y_MAX) where the Moreau objective's curvature at a minimum h_m of l''
    changes sign at c = gamma^2 chi (1 + c l''(h_m) = 0, h_m as :func:`erf_erm_branches` interpolates it): there a
    jump of h*(a) is born (a cusp: the jump's size grows like the square root of the distance in y), and the line
    averages of the proximal map are not analytic in y (measured: a spike in their 5th and 6th differences in y, none
    in the 3rd; a Gauss-Hermite rule in the label noise converges only like ~1/n^2 across it). Returns the count
    (``out``: MAX_CUSPS entries). Not listed: cusps beyond |y| = CURVATURE_Y_MAX."""
    count = _add_cusps(_CURVATURE_MAIN, _CURVATURE_MAIN_L2, c, out, 0)
    count = _add_cusps(_CURVATURE_SECOND, _CURVATURE_SECOND_L2, c, out, count)
    out[:count].sort()
    return count


@jit
def _stationary_a(y, c, h):
    """The a at which h is a stationary point of the Moreau objective: a = h + c l'(h)."""
    g = math.erf(h * _INV_SQRT2)
    return h - c * (y - g) * _SQRT_2_OVER_PI * math.exp(-0.5 * h * h)


@jit
def _curvature_root(y, c, edge, h, neg, pos):
    """Safeguarded Newton from h on m(h) (``edge`` False: the minimum of l'') or on 1 + c l''(h) (True: an edge of the
    stretch of negative curvature, slope c g' m), keeping ``neg`` and ``pos`` where the function is negative and
    positive; stops when a Newton step is below WALK_NEWTON_TOL (1 + |h|) (a bisection step: 1e-14 (1 + |h|))."""
    for _ in range(100):
        l2, mm, dm, d1 = _curvature(y, h)
        f = 1.0 + c * l2 if edge else mm
        slope = c * d1 * mm if edge else dm
        if f > 0.0:
            pos = h
        else:
            neg = h
        new = h - f / slope if slope != 0.0 else 0.5 * (neg + pos)
        tol = WALK_NEWTON_TOL
        if not min(neg, pos) < new < max(neg, pos):
            new = 0.5 * (neg + pos)
            tol = 1e-14
        if abs(new - h) <= tol * (1.0 + abs(h)):
            return new
        h = new
    return h


@jit
def _unstable_edge(y, c, h_min, step, direction):
    """The edge of the interval around h_min (where 1 + c l'' < 0) on the side ``direction`` (+-1): outward steps from
    ``step`` doubling until 1 + c l'' > 0, then :func:`_curvature_root` from there."""
    inner = h_min
    outer = h_min + direction * step
    for _ in range(60):
        if 1.0 + c * _curvature(y, outer)[0] > 0.0:
            break
        inner = outer
        step *= 2.0
        outer = h_min + direction * step
    return _curvature_root(y, c, True, outer, inner, outer)


@jit
def _branch_minimum(y, a, c, lo, hi, guess):
    """(h, objective) of the local minimiser of l(y, h) + (h - a)^2/(2c) in the convex stretch (lo, hi) of h."""
    bound = erf_prox_bound(y, c)
    lo = max(lo, a - bound)
    hi = min(hi, a + bound)
    h = erf_newton_state(y, a, c, min(max(guess, lo), hi), lo, hi, WALK_NEWTON_TOL)[0]
    r = y - math.erf(h * _INV_SQRT2)
    return h, 0.5 * r * r + (h - a) ** 2 / (2.0 * c)


@jit
def _maxwell(y, c, lo_i, hi_i, lo_j, hi_j, a_lo, a_hi, certain):
    """The a in (a_lo, a_hi) where the local minima in the convex stretches (lo_i, hi_i) < (lo_j, hi_j) of h have equal
    objective (the right one lower above it; the difference increases with a at rate (h_j - h_i)/c), or inf where the
    right one is not lower at a_hi (not checked where ``certain``: adjacent branches with a_hi the left one's fold,
    where it is higher by the saddle-node at the fold)."""
    if not a_hi > a_lo:
        return math.inf
    if not certain:
        v_i = _branch_minimum(y, a_hi, c, lo_i, hi_i, hi_i)[1]
        v_j = _branch_minimum(y, a_hi, c, lo_j, hi_j, lo_j)[1]
        if not v_i > v_j:
            return math.inf
    a = 0.5 * (a_lo + a_hi)
    h_i, v_i = _branch_minimum(y, a, c, lo_i, hi_i, hi_i)
    h_j, v_j = _branch_minimum(y, a, c, lo_j, hi_j, lo_j)
    lo = a_lo
    hi = a_hi
    for _ in range(100):
        d = v_i - v_j
        if d > 0.0:
            hi = a
        else:
            lo = a
        slope = (h_j - h_i) / c
        new = a - d / slope if slope > 0.0 else 0.5 * (lo + hi)
        tol = WALK_NEWTON_TOL if slope > 0.0 else 1e-14
        if not lo < new < hi:
            new = 0.5 * (lo + hi)
            tol = 1e-14
        if abs(new - a) <= tol * (1.0 + abs(a)):
            return new
        a = new
        h_i, v_i = _branch_minimum(y, a, c, lo_i, hi_i, h_i)
        h_j, v_j = _branch_minimum(y, a, c, lo_j, hi_j, h_j)
    return a


@jit
def erf_erm_branches(y, c, centers, widths, jumps, stretch_lo, stretch_hi, scratch):
    """The global minimiser h*(a) of erf's Moreau objective at label y and c = gamma^2 chi, piece by piece in a, and
    its narrow features; returns (features, jumps) written (``scratch``: BRANCH_SCRATCH entries).

    h*(a) lies in the convex stretch (stretch_lo[p], stretch_hi[p]) of h for a between jumps[p - 1] and jumps[p]
    (-inf and inf at the ends; at most 2 jumps, 3 pieces), where the local minimiser is unique (safeguarded Newton
    finds it). Features (``centers``/``widths`` in a, at most MAX_LINE_FEATURES) are where h*(a) is not analytic or
    nearly so: a jump is a split (width 0) followed by the same centre with the distance to the nearer fold (where
    either branch ends, a square-root singularity) as its width; a steep point has the distance of its complex branch
    points from the real axis as width.

    The curvature of the objective in h is (1 + c l''(h))/c. l'' has one minimum on the side of -sign(y) and, for
    |y| < 1, a second one beyond erf^-1(y) (found by Newton in brackets that hold them for |y| <= 4; a second minimum
    beyond |h| = 4 is shallower than -1e-3 and ignored). At a minimum h_m of curvature kappa = 1 + c l''(h_m) > 0,
    h*(a) is steep near a = h_m + c l'(h_m): the inverse of the stationarity a = h + c l'(h) has complex branch points
    at distance (2/3) kappa sqrt(2 kappa/K) from the real axis, K = c l''''(h_m). Where kappa <= 0 the interval of
    negative curvature around h_m separates two branches of local minima, the left one existing for a below its
    fold, the right one above its own; h*(a) follows the lowest and jumps where another branch undercuts it (the
    Maxwell point, :func:`_maxwell`; with three branches the first to undercut wins, the middle one possibly never).
    """
    ya = abs(y)
    sign = 1.0 if y >= 0.0 else -1.0
    minima = scratch[0:2]
    count = 0
    if ya <= CURVATURE_Y_MAX:
        u = ya / CURVATURE_Y_STEP
        i = min(int(u), _CURVATURE_MAIN.shape[0] - 2)
        f = u - i
        minima[count] = sign * (_CURVATURE_MAIN[i] + f * (_CURVATURE_MAIN[i + 1] - _CURVATURE_MAIN[i]))
        count += 1
        second = _CURVATURE_SECOND[i] + f * (_CURVATURE_SECOND[i + 1] - _CURVATURE_SECOND[i])
        if not math.isnan(second):
            minima[count] = sign * second
            count += 1
    else:
        minima[count] = sign * _curvature_root(ya, c, False, -1.275, -1.6, -0.95)  # l(y, h) = l(-y, -h)
        count += 1
    if count == 2 and minima[1] < minima[0]:
        minima[0], minima[1] = minima[1], minima[0]
    unstable_lo = scratch[2:4]
    unstable_hi = scratch[4:6]
    n_unstable = 0
    written = 0
    for k in range(count):
        h_m = minima[k]
        l2, _, dm, d1 = _curvature(y, h_m)
        kappa = 1.0 + c * l2
        big_k = c * d1 * dm
        if kappa > 0.0:
            centers[written] = _stationary_a(y, c, h_m)
            widths[written] = (2.0 / 3.0) * kappa * math.sqrt(2.0 * kappa / big_k) if big_k > 0.0 else math.inf
            written += 1
            continue
        step = max(math.sqrt(-2.0 * kappa / big_k), 1e-3) if big_k > 0.0 else 0.1
        lo = _unstable_edge(y, c, h_m, step, -1.0)
        hi = _unstable_edge(y, c, h_m, step, 1.0)
        if n_unstable > 0 and lo <= unstable_hi[n_unstable - 1]:  # one interval holds both minima
            unstable_hi[n_unstable - 1] = max(hi, unstable_hi[n_unstable - 1])
            continue
        unstable_lo[n_unstable] = lo
        unstable_hi[n_unstable] = hi
        n_unstable += 1
    # branch b: h in (unstable_hi[b - 1], unstable_lo[b]), a local minimum for a in (start[b], end[b])
    branch_lo = scratch[6:9]
    branch_hi = scratch[9:12]
    start = scratch[12:15]
    end = scratch[15:18]
    for b in range(3):
        branch_lo[b] = -math.inf
        branch_hi[b] = math.inf
        start[b] = -math.inf
        end[b] = math.inf
    for b in range(n_unstable):
        branch_hi[b] = unstable_lo[b]
        end[b] = _stationary_a(y, c, unstable_lo[b])
        branch_lo[b + 1] = unstable_hi[b]
        start[b + 1] = _stationary_a(y, c, unstable_hi[b])
    current = 0
    n_jumps = 0
    stretch_lo[0] = branch_lo[0]
    stretch_hi[0] = branch_hi[0]
    while current < n_unstable:
        best = math.inf
        following = -1
        for j in range(current + 1, n_unstable + 1):
            a_hi = min(end[current], end[j])
            a_j = _maxwell(y, c, branch_lo[current], branch_hi[current], branch_lo[j], branch_hi[j],
                           max(start[current], start[j]), a_hi, j == current + 1 and a_hi == end[current])
            if a_j < best:
                best = a_j
                following = j
        if following < 0:
            break
        centers[written] = best
        widths[written] = 0.0
        centers[written + 1] = best
        widths[written + 1] = min(end[current] - best, best - start[following])
        written += 2
        jumps[n_jumps] = best
        n_jumps += 1
        stretch_lo[n_jumps] = branch_lo[following]
        stretch_hi[n_jumps] = branch_hi[following]
        current = following
    return written, n_jumps


@jit
def erf_erm_walk(y, c, a_x, order, jumps, n_jumps, stretch_lo, stretch_hi, h_out, dh_out, loss_out, env_out, memo,
                 reuse, c_before, y_before):
    """:func:`erf_erm_line` given the pieces of :func:`erf_erm_branches`: at each node the unique local minimiser in
    its piece's convex stretch by safeguarded Newton (:func:`.channels.erf_newton_state`), from the previous node's h*
    extrapolated to second order in a within a piece (d2h*/da2 = -c l''' (dh*/da)^3), stopped at a step below
    WALK_NEWTON_TOL (1 + |h|).

    ``memo`` (3 x n, n = 0: none) holds (a, h*, dh*/da) of the first n nodes of this walk, written here; where
    ``reuse`` (the same nodes at c_before and label y_before, an earlier state), a node whose a, c and y moved by so
    little that the first-order change dh* = (dh*/da) (da + g_a dc + c g'(h*) dy) (g_a = (h* - a)/c; from the
    stationarity h - a + c l'(h) = 0, l' = -(y - g) g') is below MEMO_REACH starts from there
    instead (error ~ MEMO_REACH^2: Newton then stops after one step). Only the start changes: Newton still converges
    to the one minimiser in the piece's stretch."""
    bound = erf_prox_bound(y, c)
    dc = c - c_before
    dy = y - y_before
    memo_n = memo.shape[1]
    piece = 0
    prev_a = math.nan
    prev_h = 0.0
    prev_dh = 0.0
    prev_d2h = 0.0
    for t in range(order.shape[0]):
        j = order[t]
        a = a_x[j]
        while piece < n_jumps and a > jumps[piece]:
            piece += 1
            prev_a = math.nan
        if math.isnan(prev_a):
            start = a
        else:
            step = a - prev_a
            start = prev_h + step * (prev_dh + 0.5 * prev_d2h * step)
        if reuse and t < memo_n:
            move = memo[2, t] * (a - memo[0, t] + (memo[1, t] - memo[0, t]) / c_before * dc)
            if dy != 0.0:  # a label on a split noise rule (its nodes follow c)
                move += memo[2, t] * c_before * _SQRT_2_OVER_PI * math.exp(-0.5 * memo[1, t] ** 2) * dy
            if abs(move) <= MEMO_REACH:
                start = memo[1, t] + move
        lo = max(stretch_lo[piece], a - bound)
        hi = min(stretch_hi[piece], a + bound)
        h, g, d1 = erf_newton_state(y, a, c, min(max(start, lo), hi), lo, hi, WALK_NEWTON_TOL)
        r = y - g
        lh = 0.5 * r * r
        dh = (1.0 / c) / (d1 * d1 + r * h * d1 + 1.0 / c)
        h_out[j] = h
        dh_out[j] = dh
        loss_out[j] = lh
        env_out[j] = lh + (h - a) ** 2 / (2.0 * c)
        if t < memo_n:
            memo[0, t] = a
            memo[1, t] = h
            memo[2, t] = dh
        prev_a = a
        prev_h = h
        prev_dh = dh
        prev_d2h = -c * d1 * (-3.0 * h * d1 + r * (1.0 - h * h)) * dh**3
