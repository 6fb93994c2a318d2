"""The bivariate normal distribution function (kernels/bivariate_normal.py) against 40-digit values, Owen's T
formula, SciPy's multivariate normal and its closed values."""

import math

import numpy as np
import pytest
from naive import bivariate_cdf_owen
from scipy import special, stats
from tolerances import BIVARIATE_NORMAL_ATOL, BIVARIATE_REFERENCE_ATOL

from statmech_bn.kernels.bivariate_normal import norm_cdf2

ARGUMENTS = [-8.0, -3.0, -1.2, -0.3, 0.0, 0.4, 1.5, 3.3, 8.0]
CORRELATIONS = [-0.999999, -0.99, -0.93, -0.92, -0.8, -0.5, -0.2, 0.0, 0.1, 0.29, 0.31, 0.6, 0.76, 0.9, 0.924,
                0.926, 0.97, 0.999999]  # both sides of every switch of the method (0.3, 0.75, 0.925)

# (h, k, rho, Phi2) by mpmath at 40 digits: mp.quad of npdf(x) ncdf((k - rho x)/sqrt(1 - rho^2)) over x < h, split at
# k/rho + (0, +-1, +-4, +-20) sqrt(1 - rho^2) where the integrand steps as |rho| -> 1.
MPMATH = [
    (0.5, -0.5, 0.0, 0.21334212592289703259),
    (1.5, 1.5, 0.999999, 0.93311972626039175621),
    (0.0, -3.0, 0.999999, 0.0013498980316300945267),
    (-0.3, 3.3, -0.999999, 0.38160515366866358942),
    (1.5, 1.5, -0.999999, 0.86638559746228386799),
    (8.0, -3.0, -0.99, 0.0013498980316294724306),
    (2.0, -1.0, 0.93, 0.15865525393145704272),
    (-1.2, 0.4, 0.924, 0.11506901657579027769),
    (0.4, 0.0, -0.926, 0.16717031873299522906),
    (3.3, 8.0, 0.31, 0.99951657585761572821),
    (-3.0, -3.0, 0.75, 0.00029276979122844029456),
    (-1.0, 2.0, -0.29, 0.15017295424990753889),
    (-2.5, -2.0, 0.6, 0.0021940169407740461838),
    (-8.0, 8.0, 0.5, 6.2209605742717841235e-16),
    (0.7, 0.7, 0.9999999999, 0.75803458607268780845),
    (-0.2, -0.25, -0.97, 0.0012768681618683773175),
]


@pytest.mark.parametrize("h, k, rho, expected", MPMATH)
def test_against_forty_digit_values(h, k, rho, expected):
    assert abs(norm_cdf2(h, k, rho) - expected) <= BIVARIATE_NORMAL_ATOL


@pytest.mark.parametrize("rho", CORRELATIONS)
def test_against_owens_t_and_scipy(rho):
    mvn = stats.multivariate_normal([0.0, 0.0], [[1.0, rho], [rho, 1.0]])
    for h in ARGUMENTS:
        for k in ARGUMENTS:
            got = norm_cdf2(h, k, rho)
            if h != 0.0 or k != 0.0:
                assert abs(got - bivariate_cdf_owen(h, k, rho)) <= BIVARIATE_REFERENCE_ATOL, (h, k)
            assert abs(got - mvn.cdf([h, k])) <= BIVARIATE_REFERENCE_ATOL, (h, k)


def test_random_points_near_perfect_correlation_against_owens_t():
    """1 - |rho| from 1e-1 down to 1e-12, where the integrand of the method steps."""
    rng = np.random.default_rng(11)
    for _ in range(300):
        h, k = rng.normal(0.0, 2.0, 2)
        rho = rng.choice([-1.0, 1.0]) * (1.0 - 10.0 ** rng.uniform(-12.0, -1.0))
        assert abs(norm_cdf2(h, k, rho) - bivariate_cdf_owen(h, k, rho)) <= BIVARIATE_REFERENCE_ATOL, (h, k, rho)


@pytest.mark.parametrize("rho", [-1.0, -0.999999, -0.95, -0.5, 0.0, 0.3, 0.8, 0.999999, 1.0])
def test_closed_values(rho):
    """Phi2(0, 0; rho) = 1/4 + asin(rho)/(2 pi) (Sheppard), Phi2(h, k; 0) = Phi(h) Phi(k), Phi2(h, k; 1) =
    Phi(min(h, k)), Phi2(h, k; -1) = max(Phi(h) - Phi(-k), 0), the symmetry in (h, k) and
    Phi2(h, k; rho) + Phi2(h, -k; -rho) = Phi(h)."""
    assert abs(norm_cdf2(0.0, 0.0, rho) - (0.25 + math.asin(rho) / (2.0 * math.pi))) <= BIVARIATE_NORMAL_ATOL
    for h in ARGUMENTS:
        for k in ARGUMENTS:
            got = norm_cdf2(h, k, rho)
            assert abs(got - norm_cdf2(k, h, rho)) <= BIVARIATE_NORMAL_ATOL
            assert abs(got + norm_cdf2(h, -k, -rho) - special.ndtr(h)) <= BIVARIATE_NORMAL_ATOL, (h, k)
            if rho == 0.0:
                assert abs(got - special.ndtr(h) * special.ndtr(k)) <= BIVARIATE_NORMAL_ATOL
            if rho == 1.0:
                assert abs(got - special.ndtr(min(h, k))) <= BIVARIATE_NORMAL_ATOL
            if rho == -1.0:
                assert abs(got - max(special.ndtr(h) - special.ndtr(-k), 0.0)) <= BIVARIATE_NORMAL_ATOL


def test_infinite_and_invalid_arguments():
    assert norm_cdf2(math.inf, 0.3, 0.6) == pytest.approx(special.ndtr(0.3), abs=BIVARIATE_NORMAL_ATOL)
    assert norm_cdf2(-math.inf, 0.3, -0.99) == 0.0
    assert norm_cdf2(math.inf, math.inf, 0.95) == 1.0
    assert math.isnan(norm_cdf2(0.1, 0.2, 1.0 + 1e-12))
    assert math.isnan(norm_cdf2(math.nan, 0.2, 0.5))
