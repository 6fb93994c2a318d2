"""Output-channel kernels against slow SciPy references (finite differences for the derivatives); erf's channel over its
whole domain is in test_erf_channel.py."""

import naive
import numpy as np
import pytest
from tolerances import FINITE_DIFFERENCE_RTOL, QUADRATURE_RTOL

from statmech_bn.kernels import channels
from statmech_bn.model import ACTIVATIONS

CASES = [(0.7, 0.3, 0.5), (-0.4, -1.2, 2.0), (1.5, 0.9, 0.05), (0.0, -0.1, 1.0)]


@pytest.mark.parametrize("name", ["linear", "relu", "erf", "sign"])
@pytest.mark.parametrize("y,a,b", CASES)
def test_expected_loss(name, y, a, b):
    got = channels.expected_loss(ACTIVATIONS[name].code, y, a, b)
    want = naive.expected_loss(name, y, a, b)
    assert got[0] == pytest.approx(want[0], rel=QUADRATURE_RTOL, abs=1e-12)
    assert got[1:] == pytest.approx(want[1:], rel=FINITE_DIFFERENCE_RTOL, abs=1e-8)


@pytest.mark.parametrize("name", ["linear", "relu", "erf", "sign"])
@pytest.mark.parametrize("y,a,b", CASES)
@pytest.mark.parametrize("beta_t", [0.5, 4.0])
def test_tilted_partition_function(name, y, a, b, beta_t):
    got = channels.tilted(ACTIVATIONS[name].code, y, a, b, beta_t)
    want = naive.tilted(name, y, a, b, beta_t)
    assert got[0] == pytest.approx(want[0], rel=QUADRATURE_RTOL, abs=1e-10)
    assert got[3] == pytest.approx(want[3], rel=QUADRATURE_RTOL, abs=1e-10)
    assert got[1] == pytest.approx(want[1], rel=FINITE_DIFFERENCE_RTOL, abs=1e-6)
    assert got[2] == pytest.approx(want[2], rel=1e-3, abs=1e-4)  # second difference: step^2 round-off


@pytest.mark.parametrize("name", ["linear", "relu", "erf"])
@pytest.mark.parametrize("y,a,c", [(0.7, 0.3, 0.5), (-0.4, -1.2, 2.0), (1.5, 0.9, 0.05), (0.9, -0.5, 3.0)])
def test_moreau_envelope(name, y, a, c):
    got = channels.moreau(ACTIVATIONS[name].code, y, a, c)
    want = naive.moreau(name, y, a, c)
    assert got[0] == pytest.approx(want[0], rel=1e-9, abs=1e-12)
    assert got[1] == pytest.approx(want[1], rel=1e-6, abs=1e-7)
    assert got[2] == pytest.approx(want[2], rel=1e-4, abs=1e-5)


def test_tilted_small_variance_limit_is_continuous():
    code = ACTIVATIONS["erf"].code
    below = channels.tilted(code, 0.4, 0.3, 0.5e-8, 2.0)
    above = channels.tilted(code, 0.4, 0.3, 2e-8, 2.0)
    assert np.allclose(below, above, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", ["relu", "sign"])
def test_kinked_prefix_serves_every_label(name):
    """relu and sign: the label-free part of the channel (kinked_prefix), computed once for a pre-activation, gives at
    every label what tilted gives, in both regimes (b above and below SMALL_VARIANCE (1 + a^2))."""
    code = ACTIVATIONS[name].code
    for a, b in ((0.3, 0.5), (-2.0, 0.01), (1.0, 1e-10)):
        prefix = channels.kinked_prefix(code, a, b, 4.0)
        for y in np.linspace(-3.0, 3.0, 13):
            assert channels.kinked_tilted(code, y, a, b, 4.0, prefix) == channels.tilted(code, y, a, b, 4.0)


def test_two_component_mixture_weights():
    """The mixture of relu's and sign's channel: log of the total weight against NumPy's logaddexp, the weights summing
    to one, including weights 700 apart and a component of weight zero."""
    rng = np.random.default_rng(3)
    for log_w1, log_w2 in [*rng.uniform(-50.0, 50.0, (20, 2)), (0.0, -700.0), (-700.0, 1.0), (-np.inf, 2.0),
                           (2.0, -np.inf)]:
        log_total, mean, var, mean_loss = channels._combine_two(log_w1, 1.0, 0.5, 2.0, log_w2, -1.0, 0.25, 4.0)
        assert log_total == pytest.approx(np.logaddexp(log_w1, log_w2), rel=1e-15, abs=1e-15)
        p2 = 1.0 / (1.0 + np.exp(log_w1 - log_w2))
        assert mean == pytest.approx(1.0 - 2.0 * p2, abs=1e-15)
        assert mean_loss == pytest.approx(2.0 + 2.0 * p2, abs=1e-15)
        assert var == pytest.approx(0.5 - 0.25 * p2 + 4.0 * p2 * (1.0 - p2), abs=1e-15)
