"""Scalar special functions of the standard normal distribution, stable deep into the tails.

Conventions: ``phi`` is the density, ``Phi`` the distribution function of N(0, 1). ``log_ndtr`` and
``mills`` stay finite and accurate (relative error below 1e-12) for arguments down to -1e150, where the
naive ``log(Phi(x))`` underflows.
"""

import math

from ._jit import jit

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_INV_SQRT2 = 1.0 / math.sqrt(2.0)


@jit
def norm_logpdf(x):
    """log phi(x)."""
    return -0.5 * x * x - _LOG_SQRT_2PI


@jit
def norm_pdf(x):
    """phi(x) = exp(-x^2/2) / sqrt(2 pi)."""
    return math.exp(-0.5 * x * x - _LOG_SQRT_2PI)


@jit
def norm_cdf(x):
    """Phi(x), computed as erfc(-x/sqrt 2)/2 so that the lower tail keeps its relative accuracy."""
    return 0.5 * math.erfc(-x * _INV_SQRT2)


@jit
def log_ndtr(x):
    """log Phi(x).

    For x > 0 this is log1p(-erfc(x/sqrt 2)/2), for -30 < x <= 0 log(erfc(-x/sqrt 2)/2); below, the asymptotic series
    log Phi(x) = log phi(x) - log(-x) + log(1 - 1/x^2 + 3/x^4 - 15/x^6 + 105/x^8), whose truncation
    error at x = -30 is below 1e-12 (Abramowitz & Stegun 26.2.12).
    """
    if x > 0.0:
        return math.log1p(-0.5 * math.erfc(x * _INV_SQRT2))
    if x > -30.0:
        return math.log(0.5 * math.erfc(-x * _INV_SQRT2))
    x2 = 1.0 / (x * x)
    series = 1.0 - x2 * (1.0 - x2 * (3.0 - x2 * (15.0 - 105.0 * x2)))
    return norm_logpdf(x) - math.log(-x) + math.log(series)


@jit
def mills(x):
    """Inverse Mills ratio phi(x)/Phi(x), stable for x -> -inf (where it tends to -x)."""
    return math.exp(norm_logpdf(x) - log_ndtr(x))


@jit
def truncated_above_zero(mean, std):
    """log P(X > 0), and the mean and variance of X ~ N(mean, std^2) conditioned on X > 0 (one log_ndtr serves the mass
    and the inverse Mills ratio)."""
    z = mean / std
    log_mass = log_ndtr(z)
    r = math.exp(norm_logpdf(z) - log_mass)
    return log_mass, mean + std * r, std * std * max(1.0 - r * (z + r), 0.0)


@jit
def truncated_below_zero(mean, std):
    """log P(X < 0), and the mean and variance of X ~ N(mean, std^2) conditioned on X < 0."""
    z = mean / std
    log_mass = log_ndtr(-z)
    r = math.exp(norm_logpdf(-z) - log_mass)
    return log_mass, mean - std * r, std * std * max(1.0 - r * (r - z), 0.0)
