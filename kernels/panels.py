"""Piecewise Gauss-Legendre rules: the one kernel that splits an interval at given points (the kinks of an
integrand) and puts a Gauss-Legendre rule on every piece, so that every kink sits at a piece's edge."""

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
