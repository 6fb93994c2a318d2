"""Output-channel kernels (closed forms and inner Gauss-Hermite) against slow SciPy references."""

import naive
import numpy as np
import pytest
from tolerances import ERF_INNER_RTOL, FINITE_DIFFERENCE_RTOL, QUADRATURE_RTOL

from statmech_bn.kernels import channels
from statmech_bn.model import ACTIVATIONS
from statmech_bn.quadrature import gauss_hermite

INNER = gauss_hermite(96)
INNER_LOG = (INNER[0], np.log(INNER[1]))
"""The rule as :func:`channels.tilted` takes it: nodes and log weights."""
CASES = [(0.7, 0.3, 0.5), (-0.4, -1.2, 2.0), (1.5, 0.9, 0.05), (0.0, -0.1, 1.0)]


@pytest.mark.parametrize("name", ["linear", "relu", "erf", "sign"])
@pytest.mark.parametrize("y,a,b", CASES)
def test_expected_loss(name, y, a, b):
    got = channels.expected_loss(ACTIVATIONS[name].code, y, a, b, *INNER)
    want = naive.expected_loss(name, y, a, b)
    assert got[0] == pytest.approx(want[0], rel=QUADRATURE_RTOL, abs=1e-12)
    assert got[1:] == pytest.approx(want[1:], rel=FINITE_DIFFERENCE_RTOL, abs=1e-8)


@pytest.mark.parametrize("name", ["linear", "relu", "erf", "sign"])
@pytest.mark.parametrize("y,a,b", CASES)
@pytest.mark.parametrize("beta_t", [0.5, 4.0])
def test_tilted_partition_function(name, y, a, b, beta_t):
    got = channels.tilted(ACTIVATIONS[name].code, y, a, b, beta_t, *INNER_LOG)
    want = naive.tilted(name, y, a, b, beta_t)
    rtol = ERF_INNER_RTOL if name == "erf" else QUADRATURE_RTOL
    assert got[0] == pytest.approx(want[0], rel=rtol, abs=1e-10)
    assert got[3] == pytest.approx(want[3], rel=rtol, abs=1e-10)
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
    below = channels.tilted(code, 0.4, 0.3, 0.5e-8, 2.0, *INNER_LOG)
    above = channels.tilted(code, 0.4, 0.3, 2e-8, 2.0, *INNER_LOG)
    assert np.allclose(below, above, rtol=1e-6, atol=1e-6)
