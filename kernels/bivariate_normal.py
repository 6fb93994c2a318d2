"""The bivariate standard normal distribution function Phi2(h, k; rho) = P(X <= h, Y <= k), accurate to ~1e-15.

(X, Y) are standard normals with correlation rho. The kernels follow the method of Drezner & Wesolowsky (1990) in
the form Genz (2004, section 2.2) gives it, with Gauss-Legendre rules of 6, 12 or 20 nodes chosen by |rho|:

- Drezner, Z. & Wesolowsky, G. O. (1990). On the computation of the bivariate normal integral. Journal of Statistical
  Computation and Simulation 35, 101-107.
- Genz, A. (2004). Numerical computation of rectangular bivariate and trivariate normal and t probabilities.
  Statistics and Computing 14, 251-260.

Both branches integrate the density over the correlation, d/dt P(X > h, Y > k; t) = phi2(h, k; t):

- |rho| < 0.925: from t = 0, where the orthant is Phi(-h) Phi(-k), in the angle t = sin(theta), so that
  P = Phi(-h) Phi(-k) + (1/2 pi) int_0^{asin rho} exp(-(h^2 + k^2 - 2 h k sin theta) / (2 cos^2 theta)) d theta,
  a smooth integrand on a short interval.
- |rho| >= 0.925 (rho > 0; rho < 0 by Y -> -Y): back from t = 1, where the orthant is Phi(-max(h, k)), in
  x = sqrt(1 - t^2): P = Phi(-max(h, k)) - (1/2 pi) int_0^{sqrt(1 - rho^2)} f(x) dx with
  f(x) = exp(-(h - k)^2 / (2 x^2) - h k / (1 + sqrt(1 - x^2))) / sqrt(1 - x^2). f has the essential behaviour
  exp(-(h - k)^2 / (2 x^2)) at x = 0; the second-order expansion of the rest in x^2,
  f ~ exp(-h k / 2 - (h - k)^2 / (2 x^2)) (1 + c x^2 + c d x^4), c = (4 - h k)/8, d = (12 - h k)/16, is integrated
  in closed form (int_0^a exp(-b^2/(2 x^2)) dx = a exp(-b^2/(2 a^2)) - b sqrt(2 pi) Phi(-b/a), and the recursion
  (2n + 1) I_n = a^(2n+1) exp(-b^2/(2 a^2)) - b^2 I_(n-1) for I_n = int_0^a x^(2n) exp(-b^2/(2 x^2)) dx), and only
  the smooth, small difference f - expansion by the Gauss-Legendre rule.

Arguments are clamped to [-ARGUMENT_CLAMP, ARGUMENT_CLAMP], which changes no result by more than Phi(-40) < 1e-300
(the accuracy is absolute: tail probabilities far below 1e-16 carry no relative accuracy). Tested against Owen's T
function (SciPy), one-dimensional adaptive quadrature and SciPy's multivariate normal in tests/test_bivariate_normal.py.
"""

import math

import numpy as np

from ._jit import jit
from .special import norm_cdf

ARGUMENT_CLAMP = 40.0
"""|h|, |k| beyond this are taken as 40: Phi(-40) ~ 4e-350 is zero in double precision."""
LOW_CORRELATION = 0.3
"""Below this |rho|, 6 Gauss-Legendre nodes (Genz 2004)."""
MID_CORRELATION = 0.75
"""Below this |rho|, 12 nodes; above, 20."""
HIGH_CORRELATION = 0.925
"""From this |rho| on, the integral runs back from |rho| = 1 (Genz 2004)."""

_X6, _W6 = np.polynomial.legendre.leggauss(6)
_X12, _W12 = np.polynomial.legendre.leggauss(12)
_X20, _W20 = np.polynomial.legendre.leggauss(20)
_TWO_PI = 2.0 * math.pi
_SQRT_TWO_PI = math.sqrt(2.0 * math.pi)


@jit
def norm_sf2(h, k, rho):
    """P(X > h, Y > k) for standard normals X, Y with correlation rho in [-1, 1] (NaN outside).

    See the module docstring for the method; absolute error ~1e-15 for all arguments, rho = +-1 included.
    """
    if not abs(rho) <= 1.0 or math.isnan(h) or math.isnan(k):
        return math.nan
    h = min(max(h, -ARGUMENT_CLAMP), ARGUMENT_CLAMP)
    k = min(max(k, -ARGUMENT_CLAMP), ARGUMENT_CLAMP)
    size = abs(rho)
    if size < LOW_CORRELATION:
        nodes, weights = _X6, _W6
    elif size < MID_CORRELATION:
        nodes, weights = _X12, _W12
    else:
        nodes, weights = _X20, _W20
    hk = h * k
    if size < HIGH_CORRELATION:
        half_square = 0.5 * (h * h + k * k)
        angle = math.asin(rho)
        total = 0.0
        for i in range(nodes.shape[0]):
            s = math.sin(0.5 * angle * (1.0 + nodes[i]))
            total += weights[i] * math.exp((s * hk - half_square) / (1.0 - s * s))
        # d theta = (angle / 2) d node, and the factor 1 / (2 pi)
        return total * angle / (2.0 * _TWO_PI) + norm_cdf(-h) * norm_cdf(-k)
    if rho < 0.0:  # Y -> -Y: P(X > h, Y > k; rho) = P(X > h) - P(X > h, -Y > -k; -rho)
        k = -k
        hk = -hk
    integral = 0.0  # int_0^a f(x) dx, a = sqrt(1 - rho^2)
    if size < 1.0:
        a_square = (1.0 - size) * (1.0 + size)
        a = math.sqrt(a_square)
        b_square = (h - k) * (h - k)
        c = (4.0 - hk) / 8.0
        d = (12.0 - hk) / 16.0
        integral = a * math.exp(-0.5 * (b_square / a_square + hk)) * (
            1.0 - c * (b_square - a_square) * (1.0 - d * b_square / 5.0) / 3.0 + c * d * a_square * a_square / 5.0)
        if hk > -160.0:  # below, exp(-hk/2) Phi(-b/a) b underflows to 0 (b^2 >= 4|hk|, a^2 < 0.15)
            b = math.sqrt(b_square)
            integral -= (math.exp(-0.5 * hk) * _SQRT_TWO_PI * norm_cdf(-b / a) * b
                         * (1.0 - c * b_square * (1.0 - d * b_square / 5.0) / 3.0))
        half = 0.5 * a
        for i in range(nodes.shape[0]):
            x = half * (1.0 + nodes[i])
            x_square = x * x
            root = math.sqrt(1.0 - x_square)
            exact = math.exp(-0.5 * b_square / x_square - hk / (1.0 + root)) / root
            expansion = math.exp(-0.5 * (b_square / x_square + hk)) * (1.0 + c * x_square * (1.0 + d * x_square))
            integral += half * weights[i] * (exact - expansion)
    if rho > 0.0:
        return norm_cdf(-max(h, k)) - integral / _TWO_PI
    # P(X > h) - P(X > h, Y' > k) with k already negated: P(X > h) - Phi(-max(h, k)) + integral / (2 pi)
    probability = integral / _TWO_PI
    if k > h:
        if h < 0.0:  # both differences of lower-tail values (or an O(1) result)
            probability += norm_cdf(k) - norm_cdf(h)
        else:  # both upper tails: keeps their digits
            probability += norm_cdf(-h) - norm_cdf(-k)
    return probability


@jit
def norm_cdf2(h, k, rho):
    """Phi2(h, k; rho) = P(X <= h, Y <= k) for standard normals with correlation rho in [-1, 1]: P(-X > -h, -Y > -k),
    the pair (-X, -Y) having the same law; :func:`norm_sf2`."""
    return norm_sf2(-h, -k, rho)
