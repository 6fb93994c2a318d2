"""Gaussian averages of the squared loss through one output channel.

Everything here concerns a single label y and a Gaussian pre-activation h ~ N(a, b) of the student
(b is a variance), with the per-sample loss l(y, h) = (y - g(h))^2 / 2 of SCIENCE.md. Three objects:

- :func:`expected_loss`: e(y, a, b) = E_h[l(y, h)] and its derivatives e_a, e_b (high-temperature limit
  and the generalization error).
- :func:`tilted`: the partition function Z(y, a, b) = E_h[exp(-beta_T l(y, h))] of finite-temperature
  Gibbs learning, through log Z, g_a = d log Z/da, g_aa = d^2 log Z/da^2 and the tilted mean loss.
  g_a = (<h> - a)/b and g_aa = (Var h - b)/b^2 for the tilted measure (Gaussian integration by parts).
- :func:`moreau`: the Moreau envelope M(y, a, c) = min_h [l(y, h) + (h - a)^2/(2c)] of the T -> 0 limit,
  its minimiser h* and dh*/da.

Linear, relu and sign are in closed form (truncated-normal moments; for relu and sign split into the part that depends
on the pre-activation only, :func:`kinked_prefix`, and the rest, :func:`kinked_tilted`, so that an average over labels
at one pre-activation computes the first once), and so is erf's :func:`expected_loss` (the
bivariate normal distribution function). erf's :func:`tilted` is a quadrature with rules fixed in this module
(:func:`_erf_tilted`): Gauss-Hermite around the tilted measure's peak where the pre-activation spread is small,
Gauss-Legendre panels in h with the saturated tails in closed form elsewhere.
"""

import math

import numpy as np

from ._jit import jit
from .activations import activation, activation_derivatives
from .bivariate_normal import norm_cdf2
from .codes import ERF, LINEAR, RELU, SIGN
from .panels import hermite_table
from .special import log_ndtr, norm_cdf, norm_pdf, truncated_above_zero, truncated_below_zero

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
SMALL_VARIANCE = 1e-8
MAX_ERF_CURVATURE = math.sqrt(2.0 / math.pi) * math.exp(-0.5)
"""max |g"(h)| of g = erf(h/sqrt 2), at |h| = 1."""


@jit
def loss(code, y, h):
    """l(y, h) = (y - g(h))^2 / 2."""
    r = y - activation(code, h)
    return 0.5 * r * r


@jit
def expected_loss(code, y, a, b):
    """(e, e_a, e_b) with e = E[l(y, h)], h ~ N(a, b); e_b = e_aa / 2 by the heat equation.

    erf: with u = a/sqrt(1 + b), E[g(h)] = 2 Phi(u) - 1 and E[g(h)^2] = 4 Phi2(u, u; b/(1 + b)) - 4 Phi(u) + 1
    (g(h) = 2 P(X < h) - 1 for X ~ N(0, 1) independent of h, and P(X1 < h, X2 < h) is a bivariate normal
    probability); their derivatives in a are elementary, with v = u/sqrt(1 + 2b) and r = erf(v/sqrt 2) - y:
    e_a = 2 phi(u) r/sqrt(1 + b), e_b = phi(u) (2 phi(v)/sqrt(1 + 2b) - u r)/(1 + b).
    """
    if b <= 0.0:
        g = activation(code, a)
        d1, d2 = activation_derivatives(code, a)
        return 0.5 * (y - g) ** 2, -(y - g) * d1, 0.5 * (d1 * d1 - (y - g) * d2)
    if code == LINEAR:
        return 0.5 * ((y - a) ** 2 + b), a - y, 0.5
    if code == ERF:
        spread = 1.0 + b
        u = a / math.sqrt(spread)
        cdf = norm_cdf(u)
        pdf = norm_pdf(u)
        second = 4.0 * norm_cdf2(u, u, b / spread) - 4.0 * cdf + 1.0
        wide = math.sqrt(1.0 + 2.0 * b)
        v = u / wide
        r = 2.0 * norm_cdf(v) - 1.0 - y
        e = 0.5 * (y * y - 2.0 * y * (2.0 * cdf - 1.0) + second)
        return e, 2.0 * pdf * r / math.sqrt(spread), pdf * (2.0 * norm_pdf(v) / wide - u * r) / spread
    s = math.sqrt(b)
    z = a / s
    if code == RELU:
        cdf = norm_cdf(z)
        pdf = norm_pdf(z)
        m1 = a * cdf + s * pdf
        m2 = (a * a + b) * cdf + a * s * pdf
        return 0.5 * y * y - y * m1 + 0.5 * m2, m1 - y * cdf, 0.5 * cdf - 0.5 * y * pdf / s
    if code == SIGN:
        cdf = norm_cdf(z)
        pdf = norm_pdf(z)
        return 0.5 * (y * y + 1.0) - y * (2.0 * cdf - 1.0), -2.0 * y * pdf / s, y * z * pdf / b
    return math.nan, math.nan, math.nan


@jit
def _combine_two(log_w1, mean1, var1, loss1, log_w2, mean2, var2, loss2):
    """log of the total weight, mean, variance and mean loss of a two-component mixture (one exp and one log1p: the
    weights are p2 = 1/(1 + e^(-d)), d = log_w2 - log_w1, computed from the smaller of e^(-d), e^d)."""
    d = log_w2 - log_w1
    if d > 0.0:
        e = math.exp(-d)
        p2 = 1.0 / (1.0 + e)
        p1 = e * p2
        log_total = log_w2 + math.log1p(e)
    else:
        e = math.exp(d)
        p1 = 1.0 / (1.0 + e)
        p2 = e * p1
        log_total = log_w1 + math.log1p(e)
    mean = p1 * mean1 + p2 * mean2
    var = p1 * var1 + p2 * var2 + p1 * p2 * (mean1 - mean2) ** 2
    return log_total, mean, var, p1 * loss1 + p2 * loss2


ERF_SATURATION = 8.0
"""Beyond |h| = 8, erf(h/sqrt 2) is +-1 within 2 Phi(-8) = 1.2e-15: there the tilt is constant and the prior's two tails
are closed forms (:func:`_erf_tilted_panels`; their relative error beta_t |y -+ 1| 2 Phi(-8) is 2.5e-13 at beta_t = 50,
|y| = 3)."""
HERMITE_SIZES = (8, 12, 16, 20, 24, 32)
HERMITE_SPREADS = (0.15, 0.27, 0.36, 0.42, 0.54, 0.6)
"""erf's tilted average with Gauss-Hermite rules (:func:`_erf_tilted_hermite`): the rule of HERMITE_SIZES[i] nodes is
used for spreads u = sqrt(b (1 + beta_t)) up to HERMITE_SPREADS[i], panels above the last. Measured worst errors (all
four returned values, relative to 1 + |value|, against adaptive quadrature over 13,700 states with |y| < 3, |a| < 6,
beta_t in (0.05, 50)) of each rule on its range of u: 5e-14, 4e-14, 4e-14, 9e-15, 1e-13, 8e-14; on the next 15% of u
above it: 2e-13, 1e-12, 1e-12, 1e-12, 2e-10, 6e-12. Beyond u = 0.65 no rule up to 64 nodes is reliable (the tilted
measure turns non-Gaussian or bimodal); the panels' worst is 5e-13 there."""
PANEL_NODES = 16
"""Gauss-Legendre nodes per panel of :func:`_erf_tilted_panels`."""
PANEL_CELL = 0.25
"""The window [-ERF_SATURATION, ERF_SATURATION] is cut into cells of this width; panels are runs of cells."""
PANEL_CORE = 4.0
"""Panels in |h| < PANEL_CORE, where erf bends, are at most PANEL_CORE_WIDTH long; beyond, PANEL_OUTER_WIDTH."""
PANEL_CORE_WIDTH = 2.0
PANEL_OUTER_WIDTH = 4.0
PANEL_CURVATURE = 16.0
"""A panel of width w is split until w^2 times a bound on the curvature |f''| of the log integrand over it is at most
this (the Bernstein-ellipse error of 16-point Gauss-Legendre for exp(-K x^2/2) with K w^2 = 16 is ~1e-18)."""
PANEL_CUT = 46.0
"""Cells whose bound on the integrand is below exp(-46) times a lower bound of Z are skipped (64 cells: < 1e-18)."""

_SQRT_2_OVER_PI_E = math.sqrt(2.0 / math.pi) * math.exp(-0.5)  # max |h| g'(h), at |h| = 1
_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_MIN_HERMITE_CURVATURE = 0.25


def _hermite_table():
    """Rows: the Gauss-Hermite rules of HERMITE_SIZES (probabilists', weights summing to one), padded with zeros; the
    log weights carry + x^2/2 (the rule integrates against the standard normal, the integrand carries its own)."""
    nodes, weights = hermite_table(HERMITE_SIZES)
    log_weights = np.full_like(weights, -np.inf)
    used = weights > 0.0
    log_weights[used] = np.log(weights[used]) + 0.5 * nodes[used] ** 2
    return nodes, log_weights


def _cell_table():
    """Cell edges of the panel window, erf and erf' at the edges, and per cell the largest g'(h) and |h g'(h)|."""
    edges = -ERF_SATURATION + PANEL_CELL * np.arange(int(round(2.0 * ERF_SATURATION / PANEL_CELL)) + 1)
    slope = _SQRT_2_OVER_PI * np.exp(-0.5 * edges * edges)
    lo, hi = edges[:-1], edges[1:]
    near = np.where(lo * hi <= 0.0, 0.0, np.minimum(np.abs(lo), np.abs(hi)))
    bend = np.where((lo <= 1.0) & (hi >= 1.0) | (lo <= -1.0) & (hi >= -1.0), _SQRT_2_OVER_PI_E,
                    np.maximum(np.abs(lo) * slope[:-1], np.abs(hi) * slope[1:]))
    return (edges, np.array([math.erf(e * _INV_SQRT2) for e in edges]), _SQRT_2_OVER_PI * np.exp(-0.5 * near * near),
            bend)


_HERMITE_X, _HERMITE_LOG_W = _hermite_table()
_HERMITE_N = np.array(HERMITE_SIZES)
_HERMITE_U = np.array(HERMITE_SPREADS)
_EDGES, _EDGE_G, _CELL_SLOPE, _CELL_BEND = _cell_table()
_N_CELLS = _CELL_SLOPE.shape[0]
_PANEL_X, _PANEL_W = np.polynomial.legendre.leggauss(PANEL_NODES)
_PANEL_LOG_W = np.log(_PANEL_W)


@jit
def _erf_loss_terms(y, h):
    """l(y, h), dl/dh and d^2l/dh^2 for g = erf(h/sqrt 2) (g' = sqrt(2/pi) exp(-h^2/2), g'' = -h g')."""
    g = math.erf(h * _INV_SQRT2)
    d = _SQRT_2_OVER_PI * math.exp(-0.5 * h * h)
    r = y - g
    return 0.5 * r * r, -r * d, d * d + r * h * d


@jit
def _add_node(sums, t, lk, slope, curvature):
    """Add the node of log weight t (loss lk, centred dl/dh ``slope``, d^2l/dh^2 ``curvature``) to the running sums
    (top, total, slope, slope^2, curvature, loss), each term times exp(t - top): a log-sum-exp whose reference ``top``
    is the largest t so far; the sums are rescaled when it grows, so every exp is of a number <= 0 (Z itself
    underflows at large beta_t, log Z does not)."""
    top, total, s1, s2, s3, sl = sums
    if t > top:
        scale = math.exp(top - t)
        total *= scale
        s1 *= scale
        s2 *= scale
        s3 *= scale
        sl *= scale
        top = t
    p = math.exp(t - top)
    return top, total + p, s1 + p * slope, s2 + p * slope * slope, s3 + p * curvature, sl + p * lk


@jit
def _finish(sums, beta_t, center, log_offset):
    """(log Z, g_a, g_aa, <l>) from the sums of :func:`_add_node`: by Gaussian integration by parts in the prior,
    g_a = -beta_t <l'> and g_aa = beta_t^2 Var(l') - beta_t <l''> (no division by b: exact as b -> 0); ``center`` is
    what was subtracted from l'."""
    top, total, s1, s2, s3, sl = sums
    m1 = s1 / total
    var = max(s2 / total - m1 * m1, 0.0)
    return (top + math.log(total) + log_offset, -beta_t * (m1 + center), beta_t * beta_t * var - beta_t * s3 / total,
            sl / total)


@jit
def _erf_tilted_hermite(y, a, b, beta_t, row):
    """erf's tilted average by the Gauss-Hermite rule ``row`` of the table, centred and scaled to the tilted measure.

    Two Newton steps from a on the stationarity of beta_t l(h) + (h - a)^2/(2b) (convex where the rule is used:
    b beta_t <= 0.36) give the centre h_c and the curvature k there; the rule in x is laid on h = h_c + s x/sqrt(b k),
    with the ratio of the integrand to the Gaussian of the rule in the weights. NaN log Z where the curvature on the
    way is below _MIN_HERMITE_CURVATURE (labels far outside [-1, 1]): the caller takes the panels.
    """
    s = math.sqrt(b)
    c = b * beta_t
    shift = 0.0
    lk, slope, curvature = _erf_loss_terms(y, a)
    for _ in range(2):
        k = 1.0 + c * curvature
        if k < _MIN_HERMITE_CURVATURE:
            return math.nan, math.nan, math.nan, math.nan
        shift -= (c * slope + shift) / k
        lk, slope, curvature = _erf_loss_terms(y, a + shift)
    k = 1.0 + c * curvature
    if k < _MIN_HERMITE_CURVATURE:
        return math.nan, math.nan, math.nan, math.nan
    ratio = 1.0 / math.sqrt(k)
    z_center = shift / s
    center = slope
    sums = (-math.inf, 0.0, 0.0, 0.0, 0.0, 0.0)
    for j in range(_HERMITE_N[row]):
        z = z_center + ratio * _HERMITE_X[row, j]
        lk, slope, curvature = _erf_loss_terms(y, a + s * z)
        sums = _add_node(sums, _HERMITE_LOG_W[row, j] - 0.5 * z * z - beta_t * lk, lk, slope - center, curvature)
    return _finish(sums, beta_t, center, math.log(ratio))


@jit
def _cell_bounds(i, y, a, b, beta_t):
    """Upper bounds over cell i of the log integrand -(h - a)^2/(2b) - beta_t l(h) (plus log of the cell's width) and
    of its curvature 1/b + beta_t |l''| (|l''| <= g'^2 + |y - g| |h g'|)."""
    lo = _EDGES[i]
    hi = _EDGES[i + 1]
    dist = max(lo - a, a - hi, 0.0)
    r_lo = y - _EDGE_G[i]
    r_hi = y - _EDGE_G[i + 1]
    r_min = 0.0 if r_lo * r_hi <= 0.0 else min(abs(r_lo), abs(r_hi))
    r_max = max(abs(r_lo), abs(r_hi))
    slope = _CELL_SLOPE[i]
    top = -0.5 * dist * dist / b - 0.5 * beta_t * r_min * r_min + math.log(PANEL_CELL)
    return top, 1.0 / b + beta_t * (slope * slope + r_max * _CELL_BEND[i])


@jit
def _in_core(i):
    return -PANEL_CORE <= _EDGES[i] and _EDGES[i + 1] <= PANEL_CORE


@jit
def _erf_tilted_panels(y, a, b, beta_t):
    """erf's tilted average in h: the prior's tails beyond +-ERF_SATURATION in closed form (constant tilt, normal
    tail probability), the window between by Gauss-Legendre panels over runs of cells.

    Cells that cannot matter (bound below exp(-PANEL_CUT) times a lower bound of Z, from the integrand at the cell
    edges and at a) are skipped; the others are merged into panels up to PANEL_CORE_WIDTH (PANEL_OUTER_WIDTH outside
    the core) as long as w^2 times the curvature bound stays below PANEL_CURVATURE, relaxed by exp(gap/PANEL_NODES)
    for a panel whose bound is a gap below the lower bound of Z; a single cell that exceeds it is split evenly.
    """
    s = math.sqrt(b)
    log_norm = math.log(s) + _LOG_SQRT_2PI
    loss_low = 0.5 * (y + 1.0) ** 2
    loss_high = 0.5 * (y - 1.0) ** 2
    sums = (-math.inf, 0.0, 0.0, 0.0, 0.0, 0.0)
    sums = _add_node(sums, log_ndtr((-ERF_SATURATION - a) / s) - beta_t * loss_low, loss_low, 0.0, 0.0)
    sums = _add_node(sums, log_ndtr((a - ERF_SATURATION) / s) - beta_t * loss_high, loss_high, 0.0, 0.0)
    floor = sums[0]
    for i in range(_N_CELLS + 1):
        floor = max(floor, -0.5 * (_EDGES[i] - a) ** 2 / b - 0.5 * beta_t * (y - _EDGE_G[i]) ** 2 - log_norm - 5.0)
    if -ERF_SATURATION < a < ERF_SATURATION:
        floor = max(floor, -0.5 * beta_t * (y - math.erf(a * _INV_SQRT2)) ** 2 - log_norm - 5.0)
    floor += log_norm  # compare with the cell bounds, which leave out the normalisation
    i = 0
    while i < _N_CELLS:
        top, curv = _cell_bounds(i, y, a, b, beta_t)
        if top < floor - PANEL_CUT:
            i += 1
            continue
        core = _in_core(i)
        longest = PANEL_CORE_WIDTH if core else PANEL_OUTER_WIDTH
        j = i
        while j + 1 < _N_CELLS and _in_core(j + 1) == core:
            next_top, next_curv = _cell_bounds(j + 1, y, a, b, beta_t)
            if next_top < floor - PANEL_CUT:
                break
            width = (j + 2 - i) * PANEL_CELL
            merged = max(curv, next_curv)
            gain = math.exp(max(floor - max(top, next_top), 0.0) / PANEL_NODES)
            if width > longest or width * width * merged > PANEL_CURVATURE * gain * gain:
                break
            j += 1
            curv = merged
            top = max(top, next_top)
        width = (j + 1 - i) * PANEL_CELL
        gain = math.exp(max(floor - top, 0.0) / PANEL_NODES)
        pieces = int(math.ceil(max(width * math.sqrt(curv / PANEL_CURVATURE) / gain, 1.0)))
        half = 0.5 * width / pieces
        log_half = math.log(half) - log_norm
        for piece in range(pieces):
            mid = _EDGES[i] + (2 * piece + 1) * half
            for k in range(PANEL_NODES):
                h = mid + half * _PANEL_X[k]
                lk, slope, curvature = _erf_loss_terms(y, h)
                t = log_half + _PANEL_LOG_W[k] - 0.5 * (h - a) ** 2 / b - beta_t * lk
                sums = _add_node(sums, t, lk, slope, curvature)
        i = j + 1
    return _finish(sums, beta_t, 0.0, 0.0)


@jit
def _erf_tilted(y, a, b, beta_t):
    """(log Z, g_a, g_aa, <l>) for g = erf(h/sqrt 2): the b -> 0 limit at b = 0, Gauss-Hermite
    (:func:`_erf_tilted_hermite`) with the smallest rule whose spread covers sqrt(b (1 + beta_t)), panels
    (:func:`_erf_tilted_panels`) above HERMITE_SPREADS[-1] or where the Newton curvature is too small."""
    if b <= 0.0:
        lk, slope, curvature = _erf_loss_terms(y, a)
        return -beta_t * lk, -beta_t * slope, -beta_t * curvature, lk
    spread = math.sqrt(b * (1.0 + beta_t))
    for row in range(_HERMITE_U.shape[0]):
        if spread <= _HERMITE_U[row]:
            result = _erf_tilted_hermite(y, a, b, beta_t, row)
            if not math.isnan(result[0]):
                return result
            break
    return _erf_tilted_panels(y, a, b, beta_t)


@jit
def tilted(code, y, a, b, beta_t):
    """(log Z, g_a, g_aa, <l>) of Z = E_{h ~ N(a, b)} exp(-beta_t * l(y, h)), b >= 0, beta_t > 0.

    erf: :func:`_erf_tilted` (within 1e-12 of adaptive quadrature for |y| < 3, |a| < 6, b <= 36, beta_t < 50,
    tests/test_erf_channel.py). The others in closed form; there, below b = SMALL_VARIANCE (1 + a^2), the moment
    formulas g_a = (<h> - a)/b lose all digits to cancellation and the b -> 0 limit log Z = -beta_t l(y, a) is used,
    whose error is O(b). relu and sign: :func:`kinked_tilted` with :func:`kinked_prefix`.
    """
    if code == ERF:
        return _erf_tilted(y, a, b, beta_t)
    if code == RELU or code == SIGN:
        return kinked_tilted(code, y, a, b, beta_t, kinked_prefix(code, a, b, beta_t))
    if b < SMALL_VARIANCE * (1.0 + a * a):
        return _small_variance_tilted(code, y, a, beta_t)
    if code == LINEAR:
        k = 1.0 + beta_t * b
        log_z = -0.5 * math.log(k) - 0.5 * beta_t * (y - a) ** 2 / k
        mean = (a + beta_t * b * y) / k
        var = b / k
        return log_z, beta_t * (y - a) / k, -beta_t / k, 0.5 * ((y - mean) ** 2 + var)
    return math.nan, math.nan, math.nan, math.nan


@jit
def _small_variance_tilted(code, y, a, beta_t):
    """The b -> 0 limit of :func:`tilted`: log Z = -beta_t l(y, a) and its a-derivatives."""
    g = activation(code, a)
    d1, d2 = activation_derivatives(code, a)
    la = 0.5 * (y - g) ** 2
    return -beta_t * la, beta_t * (y - g) * d1, -beta_t * (d1 * d1 - (y - g) * d2), la


@jit
def kinked_prefix(code, a, b, beta_t):
    """The parts of relu's and sign's tilted channel that do not depend on the label y, for :func:`kinked_tilted`
    (a label average at fixed pre-activation computes them once): log P(h < 0), mean and variance of h < 0 for
    h ~ N(a, b); sign: the same for h > 0 (NaN for relu); relu: log(1 + beta_t b)/2 (NaN for sign). All NaN where
    b < SMALL_VARIANCE (1 + a^2) (the b -> 0 limit needs none)."""
    if b < SMALL_VARIANCE * (1.0 + a * a):
        return math.nan, math.nan, math.nan, math.nan, math.nan, math.nan, math.nan
    s = math.sqrt(b)
    log_mass_neg, mean_neg, var_neg = truncated_below_zero(a, s)
    if code == SIGN:
        log_mass_pos, mean_pos, var_pos = truncated_above_zero(a, s)
        return log_mass_neg, mean_neg, var_neg, log_mass_pos, mean_pos, var_pos, math.nan
    return log_mass_neg, mean_neg, var_neg, math.nan, math.nan, math.nan, 0.5 * math.log(1.0 + beta_t * b)


@jit
def kinked_tilted(code, y, a, b, beta_t, prefix):
    """:func:`tilted` for relu and sign (code RELU or SIGN) given ``prefix`` = :func:`kinked_prefix` (code, a, b,
    beta_t): the tilted measure is a mixture of the prior's branches h < 0 and h > 0 (relu's positive branch a
    Gaussian N((a + beta_t b y)/k, b/k), k = 1 + beta_t b, truncated to h > 0), combined by their log weights."""
    if b < SMALL_VARIANCE * (1.0 + a * a):
        return _small_variance_tilted(code, y, a, beta_t)
    log_mass_neg, mean_neg, var_neg, log_mass_pos, mean_pos, var_pos, half_log_k = prefix
    if code == RELU:
        k = 1.0 + beta_t * b
        std_pos = math.sqrt(b / k)
        log_mass_pos, mean_pos, var_pos = truncated_above_zero((a + beta_t * b * y) / k, std_pos)
        loss_pos = 0.5 * ((y - mean_pos) ** 2 + var_pos)
        log_z, mean, var, mean_loss = _combine_two(
            -0.5 * beta_t * y * y + log_mass_neg, mean_neg, var_neg, 0.5 * y * y,
            -half_log_k - 0.5 * beta_t * (y - a) ** 2 / k + log_mass_pos, mean_pos, var_pos, loss_pos,
        )
    else:
        loss_neg = 0.5 * (y + 1.0) ** 2
        loss_pos = 0.5 * (y - 1.0) ** 2
        log_z, mean, var, mean_loss = _combine_two(
            -beta_t * loss_neg + log_mass_neg, mean_neg, var_neg, loss_neg,
            -beta_t * loss_pos + log_mass_pos, mean_pos, var_pos, loss_pos,
        )
    return log_z, (mean - a) / b, (var - b) / (b * b), mean_loss


@jit
def erf_prox_bound(y, c):
    """The minimiser of l(y, h) + (h - a)^2/(2c) for g = erf(h/sqrt 2) lies within this distance of a: c |l'| <=
    c (|y| + 1) sqrt(2/pi)."""
    return c * (abs(y) + 1.0) * _SQRT_2_OVER_PI


@jit
def erf_prox_convex(y, c):
    """True where l(y, h) + (h - a)^2/(2c) is strictly convex in h for every a: 1/c > max|g''| (|y| + 1) >= -l''
    (max|g''| = sqrt(2/pi) e^(-1/2))."""
    return 1.0 / c > MAX_ERF_CURVATURE * (abs(y) + 1.0)


@jit
def erf_newton(y, a, c, h, lo, hi):
    """Safeguarded Newton on the stationarity of l(y, h) + (h - a)^2/(2c) (g = erf(h/sqrt 2)) from h, keeping a
    bracket [lo, hi] by the sign of the gradient (bisection where the step leaves it, or is not below half the step
    before the last: from a far start Newton can cycle between two points inside the bracket, the gradient's
    inflection turning each step back); stops when a step is below 1e-14 (1 + |h|)."""
    return erf_newton_state(y, a, c, h, lo, hi, 1e-14)[0]


@jit
def erf_newton_state(y, a, c, h, lo, hi, tol):
    """:func:`erf_newton` stopping at a step below tol (1 + |h|), returning (h, g(h), g'(h)): g and g' of the last
    iterate moved by the step to first order (off by ~step^2)."""
    last = math.inf
    before = math.inf
    for _ in range(100):
        g = math.erf(h * _INV_SQRT2)
        d1 = _SQRT_2_OVER_PI * math.exp(-0.5 * h * h)
        d2 = -h * d1
        grad = -(y - g) * d1 + (h - a) / c
        curv = d1 * d1 - (y - g) * d2 + 1.0 / c
        if grad > 0.0:
            hi = h
        else:
            lo = h
        new = h - grad / curv if curv > 0.0 else 0.5 * (lo + hi)
        step = new - h
        if abs(step) <= tol * (1.0 + abs(h)):
            # before the bracket test: a converged step lands on the end of the bracket it just moved
            return new, g + d1 * step, d1 * (1.0 - h * step)
        if not lo < new < hi or abs(step) > 0.5 * abs(before):
            new = 0.5 * (lo + hi)
        before = last
        last = new - h
        h = new
    return h, math.erf(h * _INV_SQRT2), _SQRT_2_OVER_PI * math.exp(-0.5 * h * h)


@jit
def erf_prox_terms(y, h, c):
    """(l(y, h), dh*/da) at the minimiser h = h*(a) of the Moreau objective of erf: dh*/da = (1/c)/(l''(h) + 1/c)."""
    g = math.erf(h * _INV_SQRT2)
    d1 = _SQRT_2_OVER_PI * math.exp(-0.5 * h * h)
    r = y - g
    return 0.5 * r * r, (1.0 / c) / (d1 * d1 + r * h * d1 + 1.0 / c)


ERF_PROX_GRID = 32
"""Intervals of the grid across [a - bound, a + bound] on which the global minimum of erf's Moreau objective is
sought where it may be non-convex (:func:`_erf_prox`, :func:`.erf_erm.erf_erm_line`)."""


@jit
def erf_prox_on_grid(y, a, c, low, step, grid_loss, floor, guess):
    """Global minimiser of l(y, h) + (h - a)^2/(2c) for g = erf(h/sqrt 2), given the losses ``grid_loss[k]`` at
    h = low + k step (a grid that covers [a - bound, a + bound], :func:`erf_prox_bound`): every discrete local minimum
    of the objective on the grid points inside that window is refined by :func:`erf_newton` within its neighbours,
    and the lowest objective wins. (Refining only the lowest grid point can pick the wrong basin where two minima are
    within the grid's error of each other, near the jump of h*(a): by up to 3e-2 in the objective.)

    ``floor``: a known lower bound of the minimiser (-inf if none; along a line of increasing a, the previous node's
    minimiser, since h*(a) is non-decreasing): grid points more than a step below it are skipped. ``guess``: where
    Newton starts in the basin whose bracket holds it (NaN: every basin from its grid point)."""
    bound = erf_prox_bound(y, c)
    scale = 0.5 / c
    size = grid_loss.shape[0]
    first = max(int(math.ceil((a - bound - low) / step)), 0)
    last = min(int(math.floor((a + bound - low) / step)), size - 1)
    if floor > -math.inf:
        first = max(first, min(int(math.floor((floor - low) / step)) - 1, last))
    best_h = a
    best_v = math.inf
    previous = math.inf
    if first > 0 and low + (first - 1) * step >= a - bound:
        previous = grid_loss[first - 1] + (low + (first - 1) * step - a) ** 2 * scale
    for k in range(first, last + 1):
        hk = low + k * step
        value = grid_loss[k] + (hk - a) ** 2 * scale
        following = math.inf
        if k < last:
            following = grid_loss[k + 1] + (hk + step - a) ** 2 * scale
        if value <= previous and value <= following:
            lo = max(hk - step, a - bound)
            hi = min(hk + step, a + bound)
            h = erf_newton(y, a, c, guess if lo < guess < hi else hk, lo, hi)
            r = y - math.erf(h * _INV_SQRT2)
            v = 0.5 * r * r + (h - a) ** 2 * scale
            if v < best_v:
                best_v = v
                best_h = h
        previous = value
    return best_h


@jit
def erf_loss_grid(y, low, step, size):
    """l(y, low + k step) for k = 0, ..., size - 1 (g = erf(h/sqrt 2))."""
    grid_loss = np.empty(size)
    for k in range(size):
        r = y - math.erf((low + k * step) * _INV_SQRT2)
        grid_loss[k] = 0.5 * r * r
    return grid_loss


@jit
def _erf_prox(y, a, c):
    """Global minimiser of l(y, h) + (h - a)^2/(2c) for g = erf(h/sqrt 2).

    The minimiser lies within :func:`erf_prox_bound` of a. Where the objective is convex (:func:`erf_prox_convex`)
    safeguarded Newton from a finds it directly; otherwise :func:`erf_prox_on_grid` on ERF_PROX_GRID + 1 points
    across [a - bound, a + bound].
    """
    bound = erf_prox_bound(y, c)
    if erf_prox_convex(y, c):
        return erf_newton(y, a, c, a, a - bound, a + bound)
    step = 2.0 * bound / ERF_PROX_GRID
    low = a - bound
    return erf_prox_on_grid(y, a, c, low, step, erf_loss_grid(y, low, step, ERF_PROX_GRID + 1), -math.inf, math.nan)


@jit
def moreau(code, y, a, c):
    """(M, h*, dh*/da, l(y, h*)) of the Moreau envelope M(y, a, c) = min_h l(y, h) + (h - a)^2/(2c)."""
    if code == LINEAR:
        h = (a + c * y) / (1.0 + c)
        dh = 1.0 / (1.0 + c)
    elif code == RELU:
        h = a if a < 0.0 else 0.0
        dh = 1.0 if a < 0.0 else 0.0
        value = 0.5 * y * y + (h - a) ** 2 / (2.0 * c)
        h_pos = (a + c * y) / (1.0 + c)
        if h_pos > 0.0 and 0.5 * (y - h_pos) ** 2 + (h_pos - a) ** 2 / (2.0 * c) < value:
            h = h_pos
            dh = 1.0 / (1.0 + c)
    elif code == ERF:
        h = _erf_prox(y, a, c)
        lh, dh = erf_prox_terms(y, h, c)
        return lh + (h - a) ** 2 / (2.0 * c), h, dh, lh
    else:
        return math.nan, math.nan, math.nan, math.nan
    lh = loss(code, y, h)
    return lh + (h - a) ** 2 / (2.0 * c), h, dh, lh


@jit
def moreau_kinks(code, y, c, kinks):
    """Points a where the proximal map h*(a) of :func:`moreau` is not smooth; returns how many (<= 3).

    relu: a = 0 (h* = a meets the clamp h* = 0), a = -c y (the positive branch (a + c y)/(1 + c) meets
    zero), and for y > 0 the jump a = y (1 - sqrt(1 + c)) where the negative and positive branches have
    equal value. linear: none. erf: unknown in closed form (none reported).
    """
    if code != RELU:
        return 0
    kinks[0] = 0.0
    kinks[1] = -c * y
    if y > 0.0:
        kinks[2] = y * (1.0 - math.sqrt(1.0 + c))
        return 3
    return 2
