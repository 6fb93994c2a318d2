"""Gibbs averages of an erf student: the tilted channel of every line of one teacher field on one grid in h.

:func:`.saddle.gibbs_sums` needs erf's tilted channel Z(y, a, b) = E_{h ~ N(a, b)} exp(-beta_T l(y, h)) (log Z,
g_a, g_aa and the mean loss, :func:`.channels.tilted`) at every node (tau, xi, eta) of its outer rules, with the label
y = g*(tau) + noise xi and a = gamma (m tau + sqrt(q - m^2) eta) + beta. Per node, :func:`.channels.tilted` lays a
rule on the tilted measure and evaluates erf and two exponentials at each of its 8 to 32 points (or Legendre panels).
Here all the nodes of one teacher field tau (its lines, one per label) share one uniform grid h_k = k delta:

- Z is a trapezoidal sum over the grid. The integrand is analytic in a strip around the real axis, so the sum
  converges geometrically in 1/delta (for the Gaussian factor alone the error is ~ exp(-2 pi^2 b/delta^2)); the step
  :func:`grid_step` was chosen by measured errors (GRID_STEP_PER_STD and friends).
- erf and g' at the grid points are computed once per teacher field, and the loss terms exp(-beta_T l), l', l'^2,
  l'' and l once per line (one exponential per point), for every node of the line;
- the Gaussian factor exp(-(h_k - a)^2/(2b)) once per node a of the replica field, by a recurrence (three
  exponentials), for all the lines of that teacher field; each node of each line is then five dot products.

By Gaussian integration by parts in the prior, g_a = -beta_T <l'> and g_aa = beta_T^2 Var(l') - beta_T <l''> under the
tilted measure (as :func:`.channels._finish`), so no division by b.
"""

import math

import numpy as np

from ._jit import jit, jit_inline
from .kinked import add_channel

GRID_STEP_PER_STD = 0.6
GRID_STEP_MAX = 0.2
GRID_STEP_TILT = 0.3
"""The grid step is delta = min(GRID_STEP_PER_STD sqrt(b), GRID_STEP_MAX, GRID_STEP_TILT/sqrt(beta_T))
(:func:`grid_step`): the Gaussian prior's scale, the scale of erf and that of the tilt exp(-beta_T l) (whose growth off
the real axis is ~ exp(beta_T Im(g)^2/2)). Measured worst errors of the channel (log Z, g_a, g_aa, mean loss, relative
to 1 + |value|) against :func:`.channels.tilted` over 6,000 random states with |y| < 4, |a| < 8, 1e-3 < b < 4, at
beta_T = 1 / 2 / 5 / 10, with GRID_STEP_TILT = 0.35: 2e-8 / 3e-10 / 6e-12 / 7e-13, at 0.3: 2e-10 / 5e-12 / 6e-13 /
7e-13, at 0.25: 4e-11 / 3e-12 / 6e-13 / 7e-13 (the floor is the reference's own error: where the two differ most, at
y = 3.4, the grid agrees with adaptive quadrature within 5e-15 and the reference is off by 1.5e-10). The Gaussian
factor's step 0.6 sqrt(b) leaves an error ~ exp(-2 pi^2/0.36) = 1e-24."""
GRID_MAX_BETA = 10.0
"""The grid serves beta_T up to this (the range measured above); :func:`.channels.tilted` above."""
GRID_LOG_CUT = 37.0
"""Grid points whose term is below exp(-GRID_LOG_CUT) = 9e-17 times the term nearest a are left out: the window
|h - a| <= :func:`grid_half_width` (exp(-(h - a)^2/(2b)) times the largest ratio exp(beta_T (l(a) - l(h))) of the
tilt, beta_T (|y| + 1)^2/2)."""
GRID_MAX_POINTS = 512
"""Most grid points of one teacher field; where its lines need more (small b with a long line: the step follows
sqrt(b)), the caller takes :func:`.channels.tilted` per node."""
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT2 = 1.0 / math.sqrt(2.0)


@jit
def grid_step(b, beta_t):
    """The step delta of the grid in h for prior variance b > 0 and inverse temperature beta_t > 0."""
    return min(GRID_STEP_PER_STD * math.sqrt(b), GRID_STEP_MAX, GRID_STEP_TILT / math.sqrt(beta_t))


@jit
def grid_half_width(y_abs, b, beta_t):
    """Half-width of the window around a outside which no term reaches exp(-GRID_LOG_CUT) of the term at a, for
    labels |y| <= y_abs."""
    return math.sqrt(b * (2.0 * GRID_LOG_CUT + beta_t * (y_abs + 1.0) ** 2))


@jit
def _erf_rows(first, delta, size, table):
    """table[0, i] = g(h), table[1, i] = g'(h) at h = (first + i) delta, i < size (g = erf(h/sqrt 2))."""
    for i in range(size):
        h = (first + i) * delta
        table[0, i] = math.erf(h * _INV_SQRT2)
        table[1, i] = _SQRT_2_OVER_PI * math.exp(-0.5 * h * h)


@jit
def _loss_rows(y, beta_t, first, delta, size, table, rows):
    """Columns i < size of ``rows`` at h = (first + i) delta (``table`` from :func:`_erf_rows`): exp(-beta_t (l -
    l_min)) times 1, l', l'^2, l'' and l, with l_min = max(|y| - 1, 0)^2/2 the smallest loss at label y (so no row
    overflows)."""
    l_min = 0.5 * max(abs(y) - 1.0, 0.0) ** 2
    for i in range(size):
        h = (first + i) * delta
        d = table[1, i]
        r = y - table[0, i]
        loss = 0.5 * r * r
        slope = -r * d
        t = math.exp(-beta_t * (loss - l_min))
        rows[0, i] = t
        rows[1, i] = t * slope
        rows[2, i] = t * slope * slope
        rows[3, i] = t * (d * d + r * h * d)
        rows[4, i] = t * loss


@jit
def _gaussian_row(a, b, delta, first, center, lo, hi, row):
    """row[i] = exp(-(h_i - a)^2/(2b)) at h_i = (first + i) delta for lo <= i < hi, from the point ``center`` (the one
    nearest a) outwards: the ratio of neighbours is itself geometric (factor exp(-delta^2/b)), and never above one."""
    x = (first + center) * delta - a
    scale = 0.5 / b
    row[center] = math.exp(-x * x * scale)
    factor = math.exp(-2.0 * delta * delta * scale)
    ratio = math.exp(-(2.0 * x * delta + delta * delta) * scale)
    for i in range(center + 1, hi):
        row[i] = row[i - 1] * ratio
        ratio *= factor
    ratio = math.exp((2.0 * x * delta - delta * delta) * scale)
    for i in range(center - 1, lo - 1, -1):
        row[i] = row[i + 1] * ratio
        ratio *= factor


@jit_inline
def _grid_channel(line, gauss, lo, hi, y, beta_t, log_norm):
    """(log Z, g_a, g_aa, <l>) from the loss rows ``line`` of :func:`_loss_rows` and the Gaussian factors ``gauss``
    over the window lo <= i < hi; ``log_norm`` = log(delta/sqrt(2 pi b))."""
    total = 0.0
    s1 = 0.0
    s2 = 0.0
    s3 = 0.0
    sl = 0.0
    for i in range(lo, hi):
        p = gauss[i]
        total += p * line[0, i]
        s1 += p * line[1, i]
        s2 += p * line[2, i]
        s3 += p * line[3, i]
        sl += p * line[4, i]
    m1 = s1 / total
    var = max(s2 / total - m1 * m1, 0.0)
    log_z = math.log(total) + log_norm - 0.5 * beta_t * max(abs(y) - 1.0, 0.0) ** 2
    return log_z, -beta_t * m1, beta_t * beta_t * var - beta_t * s3 / total, sl / total


@jit
def erf_grid_lines(ys, line_ws, count, tau, m, cross, gamma, beta, v, b, beta_t, eta_x, eta_w, negligible, table,
                   rows, gauss, out):
    """Add to ``out`` the Gibbs summands (:func:`.kinked.gibbs_add`) of ``count`` lines of one teacher field tau, line t
    with label ys[t] and weight line_ws[t], at the replica nodes (eta_x, eta_w) without the nodes of weight below
    ``negligible``; erf's tilted channel on the grid of :func:`grid_step` (b > 0). Returns False, adding nothing, where
    the lines need more than GRID_MAX_POINTS grid points.

    ``table`` (2 x GRID_MAX_POINTS), ``rows`` (at least count x 5 x GRID_MAX_POINTS) and ``gauss`` (GRID_MAX_POINTS)
    are scratch."""
    delta = grid_step(b, beta_t)
    y_abs = 0.0
    top_w = 0.0
    for t in range(count):
        y_abs = max(y_abs, abs(ys[t]))
        top_w = max(top_w, line_ws[t])
    a_lo = math.inf
    a_hi = -math.inf
    for j in range(eta_x.shape[0]):
        if top_w * eta_w[j] >= negligible:
            a = gamma * (m * tau + cross * eta_x[j]) + beta
            if not math.isfinite(a):
                return False  # grid indices from a NaN are meaningless; the per-node channel gives NaN
            a_lo = min(a_lo, a)
            a_hi = max(a_hi, a)
    if a_lo > a_hi:
        return True  # every node negligible
    half = grid_half_width(y_abs, b, beta_t)
    if not half <= GRID_MAX_POINTS * delta:
        return False  # also a NaN label
    width = int(math.ceil(half / delta)) + 1
    first = int(round(a_lo / delta)) - width
    size = int(round(a_hi / delta)) + width + 1 - first
    if size > GRID_MAX_POINTS:
        return False
    _erf_rows(first, delta, size, table)
    for t in range(count):
        _loss_rows(ys[t], beta_t, first, delta, size, table, rows[t])
    log_norm = math.log(delta) - 0.5 * math.log(b) - _LOG_SQRT_2PI
    widths = np.empty(count, dtype=np.int64)  # each line's own window, within the widest
    for t in range(count):
        widths[t] = int(math.ceil(grid_half_width(abs(ys[t]), b, beta_t) / delta)) + 1
    for j in range(eta_x.shape[0]):
        if top_w * eta_w[j] < negligible:
            continue
        omega = m * tau + cross * eta_x[j]
        a = gamma * omega + beta
        center = int(round(a / delta)) - first
        lo = center - width
        hi = center + width + 1
        _gaussian_row(a, b, delta, first, center, lo, hi, gauss)
        for t in range(count):
            w = line_ws[t] * eta_w[j]
            if w < negligible:
                continue
            add_channel(_grid_channel(rows[t], gauss, center - widths[t], center + widths[t] + 1, ys[t], beta_t,
                                      log_norm), omega, gamma, v, w, w * tau, out)
    return True


@jit
def erf_tilted_grid(y, a, b, beta_t):
    """erf's tilted channel (log Z, g_a, g_aa, <l>) at one node by the grid of :func:`erf_grid_lines` (for tests);
    NaN where the window needs more than GRID_MAX_POINTS points."""
    delta = grid_step(b, beta_t)
    half = grid_half_width(abs(y), b, beta_t)
    if not (half <= GRID_MAX_POINTS * delta and math.isfinite(a)):
        return math.nan, math.nan, math.nan, math.nan
    width = int(math.ceil(half / delta)) + 1
    size = 2 * width + 1
    if size > GRID_MAX_POINTS:
        return math.nan, math.nan, math.nan, math.nan
    first = int(round(a / delta)) - width
    table = np.empty((2, size))
    rows = np.empty((5, size))
    gauss = np.empty(size)
    _erf_rows(first, delta, size, table)
    _loss_rows(y, beta_t, first, delta, size, table, rows)
    _gaussian_row(a, b, delta, first, width, 0, size, gauss)
    return _grid_channel(rows, gauss, 0, size, y, beta_t, math.log(delta) - 0.5 * math.log(b) - _LOG_SQRT_2PI)
