"""Analysis A: the analytic gamma decay zeta(M) and the O(1/M) gap against the exact Monte-Carlo gap."""

import math

import numpy as np
import pytest
from tolerances import FINITE_DIFFERENCE_RTOL, MONTE_CARLO_SIGMAS

from statmech_bn.cli import main
from statmech_bn.records import DECOMPOSE_SCHEMA
from statmech_bn.store import read_curves
from statmech_bn.theory import METHOD_TABLE, Problem, SolverSettings, solve_curve
from statmech_bn.theory.decomposition import INPUT_LAWS, expansion, expansion_penalty, monte_carlo_gap

EXPANSION_ALLOWANCE = 2.0
"""The expansion drops O(1/M^2) terms, i.e. a relative error C/M; C = 2 bounds what the Monte-Carlo scan
over M in ``test_expansion_error_shrinks_like_one_over_m`` measures (|ratio - 1| ~ 1/M for erf at M = 4..16)."""


@pytest.mark.parametrize("law", ["gaussian", "laplace"])
@pytest.mark.parametrize("gamma,beta,overlap", [(1.3, 0.2, 0.6), (0.5, -0.4, 0.9)])
def test_linear_activation_closed_form(law, gamma, beta, overlap):
    """g(z) = z: l'' = 1 and l' = gamma z + beta - y, so zeta = (1 + (kappa - 1)/4)/(2M) and
    first_order = (gamma/M)(gamma - R)(3(kappa - 1)/8 - kappa/2) (E z^3 = 0, E z^4 = kappa)."""
    kappa = INPUT_LAWS[law][1]
    for m in (2, 16, 1024):
        e = expansion("linear", law, overlap, gamma, beta, m)
        assert e.zeta == pytest.approx((1 + (kappa - 1) / 4) / (2 * m), rel=1e-12)
        want = gamma / m * (gamma - overlap) * (3 * (kappa - 1) / 8 - kappa / 2)
        assert e.first_order == pytest.approx(want, rel=1e-10, abs=1e-14)


def _agree(activation, law, m, gamma=1.0, beta=0.1, overlap=0.8, n_batches=None):
    e = expansion(activation, law, overlap, gamma, beta, m)
    mc, sem = monte_carlo_gap(activation, law, overlap, gamma, beta, 0.0, m, n_batches or 4_000_000 // m, 7)
    return e, mc, sem


@pytest.mark.parametrize("activation", ["linear", "relu", "erf"])
def test_monte_carlo_gap_matches_the_expansion_at_large_m(activation):
    e, mc, sem = _agree(activation, "gaussian", 128)
    analytic = e.gap(1.0)
    assert abs(mc - analytic) <= MONTE_CARLO_SIGMAS * sem + EXPANSION_ALLOWANCE / 128 * abs(analytic)


def test_expansion_error_shrinks_like_one_over_m():
    """|MC/analytic - 1| at small M is far beyond the Monte-Carlo error and shrinks as M grows."""
    deviations = []
    for m in (4, 16, 64):
        e, mc, sem = _agree("erf", "gaussian", m)
        deviations.append((abs(mc / e.gap(1.0) - 1), sem / e.gap(1.0)))
    assert deviations[0][0] > 10 * deviations[0][1]  # the failure at M = 4 is real, not noise
    assert deviations[0][0] > deviations[1][0] > deviations[2][0] - MONTE_CARLO_SIGMAS * deviations[2][1]
    for (dev, rel_sem), m in zip(deviations, (4, 16, 64), strict=True):
        assert dev <= EXPANSION_ALLOWANCE / m + MONTE_CARLO_SIGMAS * rel_sem


def test_gap_falls_like_one_over_m():
    products = []
    for m in (64, 512):
        e, mc, sem = _agree("relu", "gaussian", m, n_batches=40_000)
        products.append((m * mc, m * sem, m * e.gap(1.0)))
    (a, sa, _), (b, sb, ref) = products
    assert abs(a - b) <= MONTE_CARLO_SIGMAS * np.hypot(sa, sb) + EXPANSION_ALLOWANCE / 64 * ref


def test_second_order_part_scales_like_gamma_squared():
    """For g(z) = z, zeta does not depend on gamma: (MC gap - first order)/gamma^2 is the same at every gamma."""
    values = []
    for gamma in (0.5, 1.0, 2.0):
        e, mc, sem = _agree("linear", "gaussian", 128, gamma=gamma)
        values.append(((mc - e.first_order) / gamma**2, sem / gamma**2, e.zeta))
    zeta = values[0][2]
    for v, s, _ in values:
        assert abs(v - zeta) <= MONTE_CARLO_SIGMAS * s + EXPANSION_ALLOWANCE / 128 * zeta


@pytest.mark.parametrize("activation", ["linear", "relu"])
def test_heavier_tails_give_a_larger_gap_as_predicted(activation):
    gauss, laplace = (_agree(activation, law, 128) for law in ("gaussian", "laplace"))
    assert laplace[0].zeta > gauss[0].zeta  # the formula's direction: kappa 6 > 3 with E[l'' z^2] > 0
    assert laplace[1] - gauss[1] > MONTE_CARLO_SIGMAS * np.hypot(laplace[2], gauss[2])


def test_monte_carlo_is_reproducible_from_its_seed():
    a = monte_carlo_gap("relu", "laplace", 0.8, 1.0, 0.1, 0.2, 8, 1000, 42)
    b = monte_carlo_gap("relu", "laplace", 0.8, 1.0, 0.1, 0.2, 8, 1000, 42)
    c = monte_carlo_gap("relu", "laplace", 0.8, 1.0, 0.1, 0.2, 8, 1000, 43)
    assert a == b and a != c


def test_monte_carlo_gap_does_not_depend_on_the_thread_count():
    """The streams run on threads but each stream's batches are summed in order, and the streams in stream order."""
    import numba

    before = numba.get_num_threads()
    try:
        results = []
        for threads in (1, numba.config.NUMBA_NUM_THREADS):
            numba.set_num_threads(threads)
            results.append(monte_carlo_gap("erf", "gaussian", 0.8, 1.3, -0.2, 0.3, 5, 3001, 11))
    finally:
        numba.set_num_threads(before)
    assert results[0] == results[1]


@pytest.mark.parametrize("method", ["gibbs", "erm", "high_temperature"])
def test_self_consistent_bn_equals_pn_gd_at_its_own_zeta(method):
    solver = SolverSettings(branches="forward", tolerance=1e-11)
    bn = Problem("relu", "bn", method, temperature=0.5, noise=0.5, batch_size=16)
    points = list(solve_curve(METHOD_TABLE[method](bn), np.array([2.0, 4.0]), solver))
    for p in points:
        assert p.converged
        zeta = p.observables["zeta_in_force"]
        s = p.state
        gamma_slot = 1 if method == "high_temperature" else 2
        assert zeta == pytest.approx(expansion("relu", "gaussian", s[0], s[gamma_slot], s[gamma_slot + 1], 16).zeta,
                                     rel=1e-12)
        fixed = Problem("relu", "pn_gd", method, temperature=0.5, noise=0.5, zeta=zeta)
        again = list(solve_curve(METHOD_TABLE[method](fixed), np.array([p.alpha]), solver, warm_state=p.state))[0]
        np.testing.assert_allclose(again.state, p.state, rtol=1e-7, atol=1e-9)


def test_bn_regularization_weakens_with_batch_size():
    solver = SolverSettings(branches="forward")
    zetas = []
    for m in (4, 16, 64):
        p = Problem("relu", "bn", "gibbs", temperature=0.5, noise=0.5, batch_size=m)
        point = list(solve_curve(METHOD_TABLE["gibbs"](p), np.array([3.0]), solver))[0]
        zetas.append(point.observables["zeta_in_force"])
    assert zetas[0] > zetas[1] > zetas[2] > 0


def test_decompose_command_writes_the_store(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    args = ["decompose", "--activation", "relu", "--input", "gaussian,laplace", "--gamma", "1", "--batch-sizes",
            "4,64", "--samples", "20000", "--no-progress", "-o", "d.h5"]
    assert main(args) == 0
    curves = read_curves("d.h5")
    assert len(curves) == 2
    for curve in curves.values():
        assert sorted(k for k in curve if k != "attrs") == sorted(DECOMPOSE_SCHEMA.names)
        np.testing.assert_array_equal(curve["batch_size"], [4, 64])
        assert curve["attrs"]["kurtosis"] in (3.0, 6.0)
    assert main(args) == 0  # rerun: resumes, nothing to do
    capsys.readouterr()
    assert main(["sweep", "-o", "d.h5", "--no-progress"]) == 2  # a decompose file is not a sweep file
    assert "is a statmech_bn.decompose file, not a statmech_bn.sweep file" in capsys.readouterr().err


# -- the bn theory with the whole O(1/M) gap in the saddle point (bn_regularizer = "expansion") -----------------------
def _biased_std_mean(m):
    """E[s] for the biased standard deviation s of m standard normals: sqrt(2/m) Gamma(m/2)/Gamma((m-1)/2)."""
    return math.sqrt(2.0 / m) * math.exp(math.lgamma(m / 2) - math.lgamma((m - 1) / 2))


@pytest.mark.parametrize("m", [3, 4, 16])
def test_linear_gap_is_exactly_gamma_r_times_one_minus_mean_batch_std(m):
    """For g(z) = z the BN-PN gap is exactly gamma R (1 - E[s]) whatever beta: E[z_hat] = 0 and E[z_hat^2] = 1, so the
    gap is -gamma E[y (z_hat - z)] = gamma R (1 - E[z z_hat]), and E[z z_hat] = E[s] by exchangeability within the
    batch. Its O(1/M) expansion is 3 gamma R/(4M) (E[s] = 1 - 3/(4M) + O(1/M^2)): linear in gamma, not the gamma decay
    zeta gamma^2 = 3 gamma^2/(4M), whose gamma-derivative at gamma = R is twice the true one."""
    for gamma, beta, overlap in ((1.3, 0.2, 0.6), (0.5, -0.4, 0.9)):
        exact = gamma * overlap * (1.0 - _biased_std_mean(m))
        mc, sem = monte_carlo_gap("linear", "gaussian", overlap, gamma, beta, 0.0, m, 1_000_000 // m, 11)
        assert abs(mc - exact) <= MONTE_CARLO_SIGMAS * sem
        assert expansion("linear", "gaussian", overlap, gamma, beta, m).gap(gamma) == pytest.approx(
            0.75 * gamma * overlap / m, rel=1e-12)
    assert 1.0 - _biased_std_mean(1024) == pytest.approx(0.75 / 1024, rel=2.0 / 1024)


@pytest.mark.parametrize("m", [4, 64])
def test_expansion_penalty_of_the_linear_activation_in_closed_form(m):
    """G = 3 gamma R/(4M) for g(z) = z (Gaussian inputs), so dG/dR = 3 gamma/(4M), dG/dgamma = 3 R/(4M), dG/dbeta = 0;
    also at |R| within a difference step of 1 (the one-sided branch)."""
    for gamma, beta, overlap in ((1.3, 0.2, 0.6), (0.7, -0.3, -0.4), (0.9, 0.1, 1.0 - 2e-6)):
        value, grad = expansion_penalty("linear", overlap, gamma, beta, m)
        assert value == pytest.approx(0.75 * gamma * overlap / m, rel=1e-12)
        np.testing.assert_allclose(grad, [0.75 * gamma / m, 0.75 * overlap / m, 0.0], rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("activation", ["relu", "erf"])
def test_expansion_penalty_gradient_against_richardson_differences(activation):
    """The gradient (steps 1e-5) against Richardson-extrapolated central differences of steps 1e-2 and 5e-3."""
    state = np.array([0.7, 0.9, 0.2])
    _, grad = expansion_penalty(activation, *state, 16)
    reference = np.empty(3)
    for i in range(3):
        def diff(h, i=i):
            up, down = state.copy(), state.copy()
            up[i] += h
            down[i] -= h
            return (expansion(activation, "gaussian", *up, 16).gap(up[1])
                    - expansion(activation, "gaussian", *down, 16).gap(down[1])) / (2 * h)
        reference[i] = (4 * diff(5e-3) - diff(1e-2)) / 3
    np.testing.assert_allclose(grad, reference, rtol=1e-6, atol=1e-9)


BN_STATES = {"gibbs": [0.6, 0.5, 0.8, 0.1], "erm": [0.6, 1.3, 0.9, 0.1], "high_temperature": [0.5, 0.8, 0.1]}


@pytest.mark.parametrize("method", ["gibbs", "erm", "high_temperature"])
@pytest.mark.parametrize("activation", ["relu", "erf"])
def test_expansion_stationarity_is_the_gradient_of_the_free_entropy(method, activation):
    """With the whole gap G(R, gamma, beta) the saddle-point equations are still the gradient of the free entropy,
    the R-derivative of G included."""
    problem = Problem(activation, "bn", method, temperature=0.7, noise=0.2, batch_size=8, bn_regularizer="expansion")
    saddle = METHOD_TABLE[method](problem)
    x = np.array(BN_STATES[method])
    alpha = 1.7
    analytic = saddle.stationarity(x, alpha)
    numeric = np.empty_like(x)
    for i in range(len(x)):
        up, down = x.copy(), x.copy()
        up[i] += 1e-5
        down[i] -= 1e-5
        numeric[i] = (saddle.free_entropy(up, alpha) - saddle.free_entropy(down, alpha)) / 2e-5
    atol = 1e-5 if (method == "erm" and activation == "erf") else 1e-6  # erf prox: Newton to 1e-14
    np.testing.assert_allclose(analytic, numeric, rtol=FINITE_DIFFERENCE_RTOL, atol=atol)
    gap_slot = 1 if method == "high_temperature" else 2
    gap = expansion_penalty(activation, x[0], x[gap_slot], x[gap_slot + 1], 8)[1]
    assert abs(gap[0]) > 1e-3  # the R-derivative is not negligible here: the test sees it


@pytest.mark.parametrize("method", ["gibbs", "erm", "high_temperature"])
def test_expansion_solutions_are_stationary_and_carry_their_penalty(method):
    solver = SolverSettings(branches="forward", tolerance=1e-11)
    problem = Problem("relu", "bn", method, temperature=0.5, noise=0.5, batch_size=16, bn_regularizer="expansion")
    saddle = METHOD_TABLE[method](problem)
    gamma_decay = Problem("relu", "bn", method, temperature=0.5, noise=0.5, batch_size=16)
    for p, q in zip(solve_curve(saddle, np.array([5.0, 8.0]), solver),
                    solve_curve(METHOD_TABLE[method](gamma_decay), np.array([5.0, 8.0]), solver), strict=True):
        assert p.converged and q.converged
        np.testing.assert_allclose(saddle.stationarity(p.state, p.alpha), 0.0, atol=1e-8)
        o = p.observables
        g = expansion("relu", "gaussian", o["R"], o["gamma"], o["beta"], 16)
        assert o["penalty_in_force"] == pytest.approx(g.gap(o["gamma"]), rel=1e-12)
        assert o["zeta_in_force"] == pytest.approx(g.zeta, rel=1e-12)
        assert abs(o["gamma"] - q.observables["gamma"]) > 1e-3  # the first-order term moves the solution
        if method == "erm":  # f = alpha (eps_t + G) at the minimum, an identity the code never imposes
            assert o["free_energy"] == pytest.approx(p.alpha * (o["eps_train"] + o["penalty_in_force"]), rel=1e-7)
