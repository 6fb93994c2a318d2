"""Piecewise Gauss-Legendre rules: :func:`legendre_panels` splits an interval at given points (the kinks of an
integrand) and puts a Gauss-Legendre rule on every piece, so that every kink sits at a piece's edge;
:func:`feature_rule` builds a rule for a Gaussian average whose integrand has narrow features (smoothed kinks and steps
of known centre and width): Legendre pieces graded toward each feature, Gauss rules of the normal density beyond."""

import math

from ._jit import jit


@jit
def legendre_panels(lower, upper, cuts, count, legendre_x, legendre_w, nodes, weights):
    """Fill ``nodes`` and ``weights`` ((count + 1) n entries, n Legendre nodes) for the integral over [lower, upper]
    split at the ascending points cuts[:count] (each clipped into what is left of the interval).

    The weights are those of the Lebesgue measure (half-width x Legendre weight): multiply them by a density for an
    expectation. A piece of zero width gets zero weights.
    """
    n = legendre_x.shape[0]
    lo = lower
    for piece in range(count + 1):
        hi = upper if piece == count else min(max(cuts[piece], lo), upper)
        half = 0.5 * (hi - lo)
        mid = 0.5 * (hi + lo)
        for k in range(n):
            nodes[piece * n + k] = mid + half * legendre_x[k]
            weights[piece * n + k] = half * legendre_w[k]
        lo = hi


FEATURE_BROAD = 2.5
"""A feature (a smoothed kink or step of the integrand) at least this wide, in units of the standard normal variable,
needs no refinement: the Gauss rules of the normal density (``tail_x``, 16 nodes) resolve it (their error for a
singularity at distance d from the real axis is ~exp(-2 d sqrt(2 n)))."""
FEATURE_GRADING = 2.0
"""Each Legendre piece graded toward a feature at distance d from its near end is at most FEATURE_GRADING d / (1 +
FEATURE_GRADING) long approaching it and FEATURE_GRADING d long leaving it (never below the feature's width)."""
FEATURE_PIECE = 1.5
"""Longest Legendre piece, and how far (1.5 of it on either side) the graded stretch around a feature reaches before
the Gauss rules of the normal density's tails take over."""
FEATURE_CUT = 9.0
"""The normal variable is truncated at +-9 (tail mass 2e-19), as :data:`statmech_bn.quadrature.TAIL_CUT`."""
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_MIN_WIDTH = 1e-9


PIECES_PER_FEATURE = 46
"""Most graded pieces that one feature bounds: at most 1 + log_3(2.25/1e-9) < 21 pieces approaching it as the
distance shrinks threefold per piece down to the smallest width (1e-9), two of that width, as many leaving it."""


@jit
def feature_rule_capacity(count, legendre_n, tail_n):
    """Room that :func:`feature_rule` needs for ``count`` features with ``legendre_n`` nodes per piece and tail rules
    of ``tail_n`` nodes: two tails, the pieces that FEATURE_PIECE bounds on [-FEATURE_CUT, FEATURE_CUT] and
    PIECES_PER_FEATURE per feature."""
    return 2 * tail_n + (int(2.0 * FEATURE_CUT / FEATURE_PIECE) + 1 + PIECES_PER_FEATURE * count) * legendre_n


@jit
def _graded_pieces(lo, hi, centers, widths, count, legendre_x, legendre_w, nodes, weights, filled):
    """Legendre pieces from lo to hi (finite) times the normal density: at most FEATURE_PIECE long, graded toward every
    feature (centers[:count], widths[:count]; width <= 0: a kink, split at but not graded), each center a piece's
    edge. Appends after ``filled`` entries; returns the new count."""
    n = legendre_x.shape[0]
    x = lo
    while x < hi:
        target = hi
        for j in range(count):
            if x < centers[j] < target:
                target = centers[j]
        h = min(FEATURE_PIECE, hi - x)
        stretch = math.inf  # the bound of the features not centred at the target, which a stretched piece must keep
        for j in range(count):
            if widths[j] <= 0.0:
                continue
            c = centers[j]
            width = max(widths[j], _MIN_WIDTH)
            if c > x:
                bound = max(width, FEATURE_GRADING * (c - x) / (1.0 + FEATURE_GRADING))
            else:
                bound = max(width, FEATURE_GRADING * (x - c))
            h = min(h, bound)
            if c != target:
                stretch = min(stretch, bound)
        nx = x + h
        if nx >= target - 0.3 * h and target - x <= stretch:  # no sliver before a center or the end
            nx = target
        half = 0.5 * (nx - x)
        mid = 0.5 * (nx + x)
        for k in range(n):
            t = mid + half * legendre_x[k]
            nodes[filled] = t
            weights[filled] = half * legendre_w[k] * math.exp(-0.5 * t * t - _LOG_SQRT_2PI)
            filled += 1
        x = nx
    return filled


@jit
def _normal_tail(start, direction, tail_x, tail_w, nodes, weights, filled):
    """The Gauss rule of the normal density on [start, inf) (direction 1) or (-inf, start] (direction -1): the
    tabulated rule of the nearest grid start g (rows: g = -FEATURE_CUT ... FEATURE_CUT evenly), shifted by
    d = start - g and reweighted by phi(x + d)/phi(x) = exp(-d x - d^2/2), a smooth factor the rule integrates to
    round-off."""
    tail_lo = -FEATURE_CUT
    tail_step = 2.0 * FEATURE_CUT / (tail_x.shape[0] - 1)
    s = direction * start
    i = min(max(int(round((s - tail_lo) / tail_step)), 0), tail_x.shape[0] - 1)
    d = s - (tail_lo + i * tail_step)
    for k in range(tail_x.shape[1]):
        x = tail_x[i, k]
        nodes[filled] = direction * (x + d)
        weights[filled] = tail_w[i, k] * math.exp(-d * x - 0.5 * d * d)
        filled += 1
    return filled


@jit
def feature_rule(lo, hi, centers, widths, count, legendre_x, legendre_w, tail_x, tail_w, nodes, weights):
    """Nodes and weights (normal density included) for E[f(X); lo < X < hi], X ~ N(0, 1), lo and hi possibly
    infinite, for f smooth apart from the features centers[:count] of widths[:count] (width <= 0: a kink).

    Features narrower than FEATURE_BROAD (and near [lo, hi]) get a stretch of graded Legendre pieces
    (:func:`_graded_pieces`) reaching 1.5 FEATURE_PIECE beyond them; a finite lo or hi is an edge of that stretch.
    Beyond it, on either infinite side, a shifted Gauss rule of the normal tail (``tail_x``, ``tail_w``: rows for
    [g, inf), g from -FEATURE_CUT to FEATURE_CUT evenly, :func:`statmech_bn.quadrature.normal_tail_rules`). Nothing
    narrow on the whole line: one Gauss rule of the full density.
    Returns the number of nodes (``nodes``/``weights`` must hold them: 2 tails plus the pieces).
    """
    if lo <= -FEATURE_CUT:
        lo = -math.inf
    if hi >= FEATURE_CUT:
        hi = math.inf
    if lo >= hi or lo >= FEATURE_CUT or hi <= -FEATURE_CUT:
        return 0
    reach = 1.5 * FEATURE_PIECE
    s_lo = math.inf
    s_hi = -math.inf
    for j in range(count):
        c = centers[j]
        if widths[j] < FEATURE_BROAD and max(lo, -FEATURE_CUT) < c + reach and c - reach < min(hi, FEATURE_CUT):
            side = 0.0 if widths[j] <= 0.0 else reach
            s_lo = min(s_lo, c - side)
            s_hi = max(s_hi, c + side)
    if not math.isinf(lo):
        s_lo = lo
        s_hi = max(s_hi, lo)
    if not math.isinf(hi):
        s_hi = hi
        s_lo = min(s_lo, hi)
    if math.isinf(s_lo):
        return _normal_tail(-FEATURE_CUT, 1.0, tail_x, tail_w, nodes, weights, 0)
    s_lo = max(s_lo, -FEATURE_CUT)
    s_hi = min(s_hi, FEATURE_CUT)
    filled = 0
    if math.isinf(lo) and s_lo > -FEATURE_CUT:
        filled = _normal_tail(s_lo, -1.0, tail_x, tail_w, nodes, weights, filled)
    if s_hi > s_lo:
        filled = _graded_pieces(s_lo, s_hi, centers, widths, count, legendre_x, legendre_w, nodes, weights, filled)
    if math.isinf(hi) and s_hi < FEATURE_CUT:
        filled = _normal_tail(s_hi, 1.0, tail_x, tail_w, nodes, weights, filled)
    return filled
