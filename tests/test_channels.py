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
