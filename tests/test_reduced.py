"""The reduced simulation of online SGD against the full one: the same law of (R, L, gamma, eps_g)."""

import numpy as np
import pytest
from scipy import stats
from tolerances import KS_P_VALUE_MIN

from statmech_bn.dynamics.problem import DynamicsProblem
from statmech_bn.dynamics.reduced import simulate_reduced
from statmech_bn.dynamics.simulation import simulate_online


@pytest.mark.parametrize("normalizer, m", [("bn", 4), ("pn", 1), ("wn", 4), ("pn_gd", 4), ("none", 1)])
def test_reduced_simulation_is_indistinguishable_from_the_full_one(normalizer, m):
    """64 seeds of each at N = 200, relu, eta 0.5, noise 0.3, weight decay 0.1, t = 3: two-sample KS test on
    R, L, gamma and eps_g. A wrong term (e.g. dropping the Wishart part of x_j.x_k, which carries the
    eta^2 growth of L) moves L by many of its standard errors and fails it."""
    problem = DynamicsProblem("relu", normalizer, 0.5, batch_size=m, zeta=0.05, noise=0.3, weight_decay=0.1)
    times = np.array([0.0, 3.0])
    full = [simulate_online(problem, 200, times, seed) for seed in range(64)]
    reduced = [simulate_reduced(problem, 200, times, 10_000 + seed) for seed in range(64)]
    for key in ("R", "L", "gamma", "eps_gen"):
        a = np.array([run[key][-1] for run in full])
        b = np.array([run[key][-1] for run in reduced])
        if np.ptp(a) == 0.0 and np.ptp(b) == 0.0:  # none's gamma is 1
            assert a[0] == b[0]
            continue
        assert stats.ks_2samp(a, b).pvalue > KS_P_VALUE_MIN, key


def test_reduced_simulation_reproduces_its_seed_and_starts_at_the_initial_state():
    problem = DynamicsProblem("erf", "bn", 0.5, batch_size=4, noise=0.2, initial_overlap=0.3, initial_norm=1.5)
    times = np.array([0.0, 0.5, 2.0])
    first, second = simulate_reduced(problem, 300, times, 7), simulate_reduced(problem, 300, times, 7)
    for key in first:
        np.testing.assert_array_equal(first[key], second[key])
    assert first["R"][0] == pytest.approx(0.3) and first["L"][0] == pytest.approx(1.5)


def test_reduced_simulation_needs_room_for_the_batch():
    with pytest.raises(ValueError, match="N - 2 >= M"):
        simulate_reduced(DynamicsProblem("relu", "bn", 0.5, batch_size=16), 12, np.array([0.0, 1.0]), 0)
