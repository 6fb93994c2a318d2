"""Piecewise Gauss-Legendre rules: :func:`legendre_panels` splits an interval at given points (the kinks of an
integrand) and puts a Gauss-Legendre rule on every piece, so that every kink sits at a piece's edge;
:func:`feature_rule` builds a rule for a Gaussian average whose integrand has narrow features (smoothed kinks and steps
of known centre and width): Legendre pieces graded toward each feature, Gauss rules of the normal density beyond."""

import math

import numpy as np

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
TAIL_ORDERS = (16, 10, 8, 6)
"""Orders of the Gauss rules of the normal tails, side by side in the columns of ``tail_x``/``tail_w``
(:func:`statmech_bn.quadrature.build_rules`); a table of 16 columns holds the first only."""
TAIL_ORDER_WIDTHS = (0.0, 3.0, 4.0, 8.0)
"""The smallest feature width (or distance from the interval) at which :func:`adaptive_feature_rule` takes each order
where nothing is narrow. Measured error of the shifted half-line rules (any start, 40 feature centres in [-5, 5]) on
softplus((u - c)/w), log Phi((u - c)/w), the inverse Mills ratio and Phi((u - c)/w), relative to 1 + E|f|: 16 nodes
5e-16 at w = 2.5; 10 nodes 1e-13 at w = 3; 8 nodes 1e-13 at w = 4; 6 nodes 7e-14 at w = 8 (6e-13 at 6; 4 nodes still
3e-10 at w = 12)."""


HERMITE_ORDERS = (16, 20, 24, 28, 32, 36, 40, 44, 48, 56, 64)
HERMITE_WIDTHS = (1.94, 1.6, 1.4, 1.25, 1.15, 1.06, 1.0, 0.93, 0.9, 0.78, 0.75)
"""Where a feature is narrower than FEATURE_BROAD but no narrower than HERMITE_WIDTHS[-1] and the interval is the whole
line, :func:`hermite_feature_rule` and :func:`adaptive_feature_rule` take the Gauss-Hermite rule of the normal density
of the lowest order of HERMITE_ORDERS whose width (the same position) is at most the narrowest feature's, instead of
graded pieces and two tails (52 nodes or more, typically 70-140). Measured worst error (softplus, log Phi, Phi and the
inverse Mills ratio of (u - c)/w, 57 centres c in [-7, 7], against adaptive quadrature, relative to 1 + E|f|) at each
order's width: 6e-14, 6e-14, 5e-14, 4e-14, 2e-14, 5e-14 for 20, 24, 32, 40, 48, 64 nodes (at 0.9 times it: 1e-12 to
2e-12); the orders 16, 28, 36, 44 and 56 (fewer nodes for features between those widths) at the least width where that
error is 6.4e-14 or less (bisection, rounded up). Rules of 80 and 96 nodes (calibrated widths 0.65 and 0.58: 7e-14,
8e-14) missed relu's Gibbs sums with noise by up to 1.3e-9 as outer rules, and are not used."""
HERMITE_STEP_WIDTHS = (1.49, 1.2, 1.02, 0.9, 0.81, 0.75, 0.69, 0.65, 0.61, 0.56, 0.51)
"""The same for a feature that is a normal step Phi((u - c)/w) (an entire function: the rules resolve narrower ones),
the first ``steps`` features of those rules: the least width at which the order's worst error on Phi((u - c)/w) and on
its integral (u - c)/w Phi((u - c)/w) + phi((u - c)/w), 141 centres c in [-7, 7], relative to 1 + E|f|, is 1e-13 or
less (bisection, rounded up; 5e-13 to 1e-12 at 0.95 times it)."""


def hermite_table(orders):
    """Row i: the probabilists' Gauss-Hermite rule of orders[i] nodes (weights summing to one), zero-padded to the
    largest order (module-level tables of the kernels, built once at import)."""
    nodes = np.zeros((len(orders), max(orders)))
    weights = np.zeros_like(nodes)
    for row, n in enumerate(orders):
        x, w = np.polynomial.hermite_e.hermegauss(n)
        nodes[row, :n] = x
        weights[row, :n] = w / w.sum()
    return nodes, weights


_HERMITE_X, _HERMITE_W = hermite_table(HERMITE_ORDERS)
_HERMITE_N = np.array(HERMITE_ORDERS)
_HERMITE_WIDTH = np.array(HERMITE_WIDTHS)
_HERMITE_STEP_WIDTH = np.array(HERMITE_STEP_WIDTHS)
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_MIN_WIDTH = 1e-9


PIECES_PER_FEATURE = 46
"""Most graded pieces that one feature bounds: at most 1 + log_3(2.25/1e-9) < 21 pieces approaching it as the
distance shrinks threefold per piece down to the smallest width (1e-9), two of that width, as many leaving it."""


@jit
def feature_rule_capacity(count, legendre_n):
    """Room that :func:`feature_rule` needs for ``count`` features with ``legendre_n`` nodes per piece: two tails (of
    at most TAIL_ORDERS[0] nodes), the pieces that FEATURE_PIECE bounds on [-FEATURE_CUT, FEATURE_CUT] and
    PIECES_PER_FEATURE per feature."""
    return graded_rule_capacity(count, legendre_n, FEATURE_PIECE)


@jit
def graded_rule_capacity(count, legendre_n, longest):
    """Room that :func:`graded_rule` (and :func:`feature_rule`) needs on [-FEATURE_CUT, FEATURE_CUT] with pieces at most
    ``longest`` long: :func:`feature_rule_capacity` with the pieces that min(longest, FEATURE_PIECE) bounds."""
    pieces = int(2.0 * FEATURE_CUT / min(longest, FEATURE_PIECE)) + 1
    return 2 * TAIL_ORDERS[0] + (pieces + PIECES_PER_FEATURE * count) * legendre_n


@jit
def _graded_pieces(lo, hi, centers, widths, count, legendre_x, legendre_w, nodes, weights, filled, longest):
    """Legendre pieces from lo to hi (finite) times the normal density: at most ``longest`` long, graded toward every
    feature (centers[:count], widths[:count]; width <= 0: a kink, split at but not graded), each center a piece's
    edge. Appends after ``filled`` entries; returns the new count."""
    n = legendre_x.shape[0]
    x = lo
    while x < hi:
        target = hi
        for j in range(count):
            if x < centers[j] < target:
                target = centers[j]
        h = min(longest, hi - x)
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
def graded_rule(lo, hi, centers, widths, count, legendre_x, legendre_w, nodes, weights, longest):
    """Nodes and weights (normal density included) for E[f(X); lo < X < hi], lo and hi finite, by Legendre pieces at
    most ``longest`` (<= FEATURE_PIECE, or more where less accuracy will do) long graded toward the features
    centers[:count] of widths[:count] (width <= 0: a kink, split at but not graded) all the way, with no Gauss rules of
    the normal tails (for integrands whose other singularities are too near the real axis for those); returns the
    number of nodes (:func:`graded_rule_capacity` bounds it)."""
    return _graded_pieces(lo, hi, centers, widths, count, legendre_x, legendre_w, nodes, weights, 0, longest)


@jit
def _normal_tail(start, direction, tail_x, tail_w, first, order, nodes, weights, filled):
    """The ``order``-node Gauss rule of the normal density on [start, inf) (direction 1) or (-inf, start] (direction
    -1), columns first:first + order of the tables: the tabulated rule of the nearest grid start g (rows:
    g = -FEATURE_CUT ... FEATURE_CUT evenly), shifted by d = start - g and reweighted by phi(x + d)/phi(x) =
    exp(-d x - d^2/2), a smooth factor the rule integrates to round-off."""
    tail_lo = -FEATURE_CUT
    tail_step = 2.0 * FEATURE_CUT / (tail_x.shape[0] - 1)
    s = direction * start
    i = min(max(int(round((s - tail_lo) / tail_step)), 0), tail_x.shape[0] - 1)
    d = s - (tail_lo + i * tail_step)
    for k in range(first, first + order):
        x = tail_x[i, k]
        nodes[filled] = direction * (x + d)
        weights[filled] = tail_w[i, k] * math.exp(-d * x - 0.5 * d * d)
        filled += 1
    return filled


@jit
def _tail_order(narrowest, tail_x):
    """(first column, order) of the lowest tabulated order that resolves a feature of width ``narrowest``."""
    first = 0
    chosen, order = 0, TAIL_ORDERS[0]
    for j in range(len(TAIL_ORDERS)):
        if first + TAIL_ORDERS[j] > tail_x.shape[1]:
            break
        if narrowest >= TAIL_ORDER_WIDTHS[j]:
            chosen, order = first, TAIL_ORDERS[j]
        first += TAIL_ORDERS[j]
    return chosen, order


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
    return _feature_rule(lo, hi, centers, widths, count, legendre_x, legendre_w, tail_x, tail_w, nodes, weights,
                         False, -1)


@jit
def hermite_feature_rule(lo, hi, centers, widths, count, steps, legendre_x, legendre_w, tail_x, tail_w, nodes,
                         weights):
    """:func:`feature_rule`, but on the whole line with no feature too narrow for HERMITE_ORDERS (HERMITE_WIDTHS; for
    the first ``steps`` features, normal steps, HERMITE_STEP_WIDTHS) one Gauss-Hermite rule of the order that resolves
    every feature instead of graded pieces."""
    return _feature_rule(lo, hi, centers, widths, count, legendre_x, legendre_w, tail_x, tail_w, nodes, weights,
                         False, steps)


@jit
def adaptive_feature_rule(lo, hi, centers, widths, count, steps, legendre_x, legendre_w, tail_x, tail_w, nodes,
                          weights):
    """:func:`feature_rule` for an integrand whose every smoothness scale is among the features (broad ones
    included): where none is narrow, the Gauss rule of the tails takes the lowest order of TAIL_ORDERS that resolves
    the narrowest (a feature counting as wide as its distance from the interval, if that is more; none listed: the
    highest order); on the whole line with no feature too narrow for HERMITE_ORDERS, as :func:`hermite_feature_rule`
    (the first ``steps`` features are normal steps)."""
    return _feature_rule(lo, hi, centers, widths, count, legendre_x, legendre_w, tail_x, tail_w, nodes, weights,
                         True, steps)


@jit
def _hermite_row(centers, widths, count, steps):
    """Row of the lowest order of HERMITE_ORDERS that resolves every feature on the whole line (one beyond +-FEATURE_CUT
    counting as wide as its distance from it; the first ``steps`` by HERMITE_STEP_WIDTHS), or -1 where one is too
    narrow for all."""
    last = _HERMITE_N.shape[0] - 1
    row = 0
    for j in range(count):
        width = max(widths[j], abs(centers[j]) - FEATURE_CUT)
        table = _HERMITE_STEP_WIDTH if j < steps else _HERMITE_WIDTH
        if not width >= table[last]:
            return -1
        while row < last and width < table[row]:
            row += 1
    return row


@jit
def _hermite_rule(row, nodes, weights):
    """The Gauss-Hermite rule of row ``row`` of the table into ``nodes``/``weights``; returns its order."""
    n = _HERMITE_N[row]
    for k in range(n):
        nodes[k] = _HERMITE_X[row, k]
        weights[k] = _HERMITE_W[row, k]
    return n


@jit
def _feature_rule(lo, hi, centers, widths, count, legendre_x, legendre_w, tail_x, tail_w, nodes, weights, adaptive,
                  steps):
    """The rules above; ``steps`` < 0: no Gauss-Hermite rule (:func:`feature_rule`)."""
    if lo <= -FEATURE_CUT:
        lo = -math.inf
    if hi >= FEATURE_CUT:
        hi = math.inf
    if lo >= hi or lo >= FEATURE_CUT or hi <= -FEATURE_CUT:
        return 0
    reach = 1.5 * FEATURE_PIECE
    s_lo = math.inf
    s_hi = -math.inf
    narrowest = 0.0 if count == 0 else math.inf
    for j in range(count):
        c = centers[j]
        if widths[j] < FEATURE_BROAD and max(lo, -FEATURE_CUT) < c + reach and c - reach < min(hi, FEATURE_CUT):
            side = 0.0 if widths[j] <= 0.0 else reach
            s_lo = min(s_lo, c - side)
            s_hi = max(s_hi, c + side)
        away = max(max(lo, -FEATURE_CUT) - c, c - min(hi, FEATURE_CUT), 0.0)
        narrowest = min(narrowest, max(widths[j], away))
    first, order = 0, TAIL_ORDERS[0]
    if adaptive and math.isinf(s_lo):  # nothing narrow
        first, order = _tail_order(narrowest, tail_x)
    if not math.isinf(lo):
        s_lo = lo
        s_hi = max(s_hi, lo)
    if not math.isinf(hi):
        s_hi = hi
        s_lo = min(s_lo, hi)
    if math.isinf(s_lo):
        return _normal_tail(-FEATURE_CUT, 1.0, tail_x, tail_w, first, order, nodes, weights, 0)
    if steps >= 0 and math.isinf(lo) and math.isinf(hi):
        row = _hermite_row(centers, widths, count, steps)
        if row >= 0:
            return _hermite_rule(row, nodes, weights)
    s_lo = max(s_lo, -FEATURE_CUT)
    s_hi = min(s_hi, FEATURE_CUT)
    filled = 0
    if math.isinf(lo) and s_lo > -FEATURE_CUT:
        filled = _normal_tail(s_lo, -1.0, tail_x, tail_w, first, order, nodes, weights, filled)
    if s_hi > s_lo:
        filled = _graded_pieces(s_lo, s_hi, centers, widths, count, legendre_x, legendre_w, nodes, weights, filled,
                                FEATURE_PIECE)
    if math.isinf(hi) and s_hi < FEATURE_CUT:
        filled = _normal_tail(s_hi, 1.0, tail_x, tail_w, first, order, nodes, weights, filled)
    return filled
