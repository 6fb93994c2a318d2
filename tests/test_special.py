"""Normal-distribution helpers of the kernels against SciPy."""

import numpy as np
import pytest
from scipy import special, stats

from statmech_bn.kernels import special as ks


@pytest.mark.parametrize("x", [-1e6, -200.0, -40.0, -30.0001, -29.9999, -10.0, -1.0, 0.0, 2.0, 8.0, 40.0])
def test_log_ndtr_matches_scipy_deep_in_the_tail(x):
    assert ks.log_ndtr(x) == pytest.approx(special.log_ndtr(x), rel=1e-12, abs=1e-300)


@pytest.mark.parametrize("x", [-50.0, -5.0, 0.0, 3.0])
def test_mills_ratio(x):
    assert ks.mills(x) == pytest.approx(np.exp(stats.norm.logpdf(x) - stats.norm.logcdf(x)), rel=1e-11)


@pytest.mark.parametrize("mean,std", [(0.3, 1.0), (-2.0, 0.5), (4.0, 2.0), (-12.0, 1.0)])
def test_truncated_moments_match_scipy_truncnorm(mean, std):
    above = stats.truncnorm((0 - mean) / std, np.inf, loc=mean, scale=std)
    below = stats.truncnorm(-np.inf, (0 - mean) / std, loc=mean, scale=std)
    log_mass, m, v = ks.truncated_above_zero(mean, std)
    assert (m, v) == pytest.approx((above.mean(), above.var()), rel=1e-7)
    assert log_mass == pytest.approx(stats.norm.logcdf(mean / std), rel=1e-12)
    log_mass, m, v = ks.truncated_below_zero(mean, std)
    assert (m, v) == pytest.approx((below.mean(), below.var()), rel=1e-7)
    assert log_mass == pytest.approx(stats.norm.logcdf(-mean / std), rel=1e-12)
