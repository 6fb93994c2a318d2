"""Learning dynamics (analysis B): the ODE against closed forms, Monte Carlo and finite-N simulation; eta_max."""

import dataclasses
import math

import h5py
import numpy as np
import pytest
from naive import gauss_expect
from scipy import optimize
from scipy.special import erf
from tolerances import CLOSED_FORM_RTOL, FINITE_SIZE_ALLOWANCE, MONTE_CARLO_SIGMAS

from statmech_bn.cli import main
from statmech_bn.dynamics.ode import Drift, integrate_ode
from statmech_bn.dynamics.problem import DynamicsProblem
from statmech_bn.dynamics.reduced import simulate_reduced
from statmech_bn.dynamics.simulation import simulate_online
from statmech_bn.dynamics.stability import (
    LimitKind,
    branch_limit,
    converges,
    maximal_rate,
    spectral_abscissa,
    stationary_branch,
    threshold,
)
from statmech_bn.store import read_curves
from statmech_bn.theory.decomposition import zeta as analytic_zeta


def linear_none_error(t, eta, noise, m, overlap0=0.0, norm0=1.0):
    """eps_g(t) of online SGD, linear/none, beta = 0: de/dt = -eta (2 - eta/M) e + eta^2 sigma^2/M, e = 2 eps_g
    (derived in statmech_bn/dynamics/ode.py from the m and Q equations)."""
    e_inf = eta * noise**2 / (2 * m - eta)
    e0 = 1.0 + norm0**2 - 2.0 * overlap0 * norm0
    return 0.5 * (e_inf + (e0 - e_inf) * np.exp(-eta * (2.0 - eta / m) * t))


@pytest.mark.parametrize("eta, m", [(0.5, 1), (1.5, 1), (3.0, 4)])
def test_linear_none_ode_is_its_closed_form(eta, m):
    times = np.array([0.0, 0.3, 1.0, 4.0, 20.0])
    problem = DynamicsProblem("linear", "none", eta, batch_size=m, noise=0.3, initial_overlap=0.2, initial_norm=0.7)
    trajectory = integrate_ode(problem, times)
    expected = linear_none_error(times, eta, 0.3, m, 0.2, 0.7)
    np.testing.assert_allclose(trajectory.eps_gen, expected, rtol=CLOSED_FORM_RTOL)


def test_asymptotic_error_of_the_online_linear_perceptron():
    """SCIENCE.md (literature): eps_g -> eta sigma^2/(2(2 - eta)) for M = 1."""
    for eta in (0.5, 1.0, 1.8):
        problem = DynamicsProblem("linear", "none", eta, noise=0.4)
        final = integrate_ode(problem, np.array([0.0, 400.0])).eps_gen[-1]
        assert final == pytest.approx(eta * 0.16 / (2 * (2 - eta)), rel=1e-5)


@pytest.mark.parametrize("m", [1, 4])
def test_eta_max_of_linear_none_is_2m(m):
    """Linear stability gives 2M (closed form, SCIENCE.md: 0 < eta < 2 for M = 1); the integration bisection
    approaches it from below (the return time diverges at the threshold)."""
    stable, integrated = threshold(DynamicsProblem("linear", "none", 1.0, batch_size=m))
    assert stable == pytest.approx(2.0 * m, rel=1e-3)
    assert 0.95 * stable < integrated <= stable * (1 + 1e-3)


@pytest.mark.parametrize("normalizer, activation", [("none", "relu"), ("pn", "relu"), ("pn", "erf"), ("wn", "linear")])
def test_eta_max_by_stability_equals_eta_max_by_integration(normalizer, activation):
    stable, integrated = threshold(DynamicsProblem(activation, normalizer, 1.0))
    assert math.isfinite(stable) and 0.95 * stable < integrated <= stable * (1 + 1e-3)
    below = DynamicsProblem(activation, normalizer, 0.98 * stable)
    above = dataclasses.replace(below, learning_rate=1.02 * stable)
    assert spectral_abscissa(below) < 0.0 < spectral_abscissa(above)


@pytest.mark.parametrize("activation", ["linear", "relu", "erf"])
@pytest.mark.parametrize("normalizer", ["none", "pn_gd"])
def test_drift_averages_against_monte_carlo(activation, normalizer):
    """The quadrature averages inside the ODE's right-hand side against a Monte-Carlo estimate of the same
    expectations (2e6 samples), within MONTE_CARLO_SIGMAS standard errors."""
    overlap, scale, beta, noise = 0.6, 1.3, 0.2, 0.3
    problem = DynamicsProblem(activation, normalizer, 0.7, batch_size=3, zeta=0.1, noise=noise)
    y = np.array([overlap * scale, scale**2, scale, beta]) if normalizer == "none" else \
        np.array([overlap, 1.0, scale, beta])
    drift = Drift(problem)(0.0, y)
    rng = np.random.default_rng(5)
    k = 2_000_000
    lam = rng.standard_normal(k)
    u = overlap * lam + math.sqrt(1 - overlap**2) * rng.standard_normal(k)
    xi = rng.standard_normal(k)
    g = {"linear": lambda z: z, "relu": lambda z: np.maximum(z, 0), "erf": lambda z: erf(z / math.sqrt(2))}[activation]
    g1 = {"linear": np.ones_like, "relu": lambda z: (z > 0).astype(float),
          "erf": lambda z: math.sqrt(2 / math.pi) * np.exp(-z * z / 2)}[activation]
    a = scale * lam + beta
    d = (g(a) - g(u) - noise * xi) * g1(a)
    eta, m = 0.7, 3
    if normalizer == "none":
        terms = [-eta * d * u, -2 * eta * scale * d * lam + eta**2 * d * d / m, np.zeros(k), -eta * d]
    else:
        terms = [-eta * scale * d * (u - overlap * lam), eta**2 * scale**2 * d * d / m,
                 -eta * (d * lam + 2 * 0.1 * scale), -eta * d]
    for value, samples in zip(drift, terms, strict=True):
        sem = samples.std() / math.sqrt(k)
        assert abs(value - samples.mean()) <= MONTE_CARLO_SIGMAS * sem + 1e-12


@pytest.mark.parametrize("normalizer", ["bn", "pn", "wn", "pn_gd", "none"])
def test_ode_against_finite_n_simulation(normalizer):
    """relu, M = 4, eta = 0.5, noise 0.3, from R = 0: eps_g and R at t = 3 and 10 of the full simulation at
    N = 1000 (6 seeds) against the ODE, within MONTE_CARLO_SIGMAS standard errors plus FINITE_SIZE_ALLOWANCE/N."""
    n = 1000
    problem = DynamicsProblem("relu", normalizer, 0.5, batch_size=4, zeta=0.05, noise=0.3)
    times = np.array([0.0, 3.0, 10.0])
    ode = integrate_ode(problem, times)
    runs = [simulate_online(problem, n, times, seed) for seed in range(6)]
    for key, predicted in (("eps_gen", ode.eps_gen), ("R", ode.overlap)):
        values = np.array([r[key] * (np.sign(r["gamma"]) if key == "R" and problem.spherical else 1.0)
                           for r in runs])
        mean, sem = values.mean(axis=0), values.std(axis=0, ddof=1) / math.sqrt(len(runs))
        for i in (1, 2):
            bound = MONTE_CARLO_SIGMAS * sem[i] + FINITE_SIZE_ALLOWANCE / n
            assert abs(mean[i] - predicted[i]) < bound, (key, times[i], mean[i], sem[i], predicted[i])


@pytest.mark.slow
def test_simulation_deviations_shrink_like_one_over_sqrt_n():
    """The seed-to-seed spread of R(t) around the ODE falls like 1/sqrt(N): N = 250 -> 4000 divides it by ~4."""
    problem = DynamicsProblem("relu", "bn", 0.5, batch_size=4, noise=0.3)
    times = np.array([0.0, 5.0])
    ode = integrate_ode(problem, times).overlap[-1]
    spread = {}
    for n in (250, 4000):
        values = np.array([simulate_online(problem, n, times, seed)["R"][-1] for seed in range(12)])
        spread[n] = math.sqrt(np.mean((values - ode) ** 2))
    assert 2.0 < spread[250] / spread[4000] < 8.0


@pytest.mark.slow
@pytest.mark.parametrize("activation", ["relu", "erf"])
def test_bn_against_pn_gd_at_its_analytic_zeta(activation):
    """Analysis A in the dynamics: online bn at batch size M against pn_gd with zeta(M) of the decomposition taken
    at bn's final state. Measured (relu, eta 0.5, noise 0.3, t = 100): gamma 0.655 / 0.921 / 0.979 for bn at
    M = 4 / 16 / 64 and 0.536 / 0.808 / 0.940 for pn_gd(zeta(M)): zeta(M) gamma^2 over-regularizes (cf. the
    first-order term of analysis A), but both shrink gamma below pn's and the eps_g gap closes as M grows."""
    times = np.array([0.0, 100.0])
    gaps = []
    for m in (4, 16, 64):
        bn = integrate_ode(DynamicsProblem(activation, "bn", 0.5, batch_size=m, noise=0.3), times)
        z = analytic_zeta(activation, bn.overlap[-1], bn.gamma[-1], bn.beta[-1], m)
        gd = integrate_ode(DynamicsProblem(activation, "pn_gd", 0.5, batch_size=m, noise=0.3, zeta=z), times)
        pn = integrate_ode(DynamicsProblem(activation, "pn", 0.5, batch_size=m, noise=0.3), times)
        assert gd.gamma[-1] < bn.gamma[-1] < pn.gamma[-1]
        gaps.append(abs(bn.eps_gen[-1] - gd.eps_gen[-1]))
    assert gaps[0] > gaps[1] > gaps[2]


def test_dynamics_command_writes_trajectories_thresholds_and_scans(tmp_path, capsys):
    out = tmp_path / "dyn.h5"
    (tmp_path / "dyn.toml").write_text("[thresholds]\neta_scan = [1.0, 8.0]\nt_max = 30.0\ntarget = 0.05\n")
    args = ["dynamics", str(tmp_path / "dyn.toml"), "--normalizer", "bn,none", "--method", "ode,sim", "--batch-size",
            "8", "--noise", "0.3", "--t-max", "2", "--size", "200", "--seeds", "2", "--no-progress", "-o", str(out)]
    assert main(args) == 0
    curves = read_curves(str(out))
    kinds = sorted(c["attrs"]["kind"] for c in curves.values())
    assert kinds == ["eta_scan", "stationary"] + ["thresholds"] * 2 + ["trajectory"] * 4
    for curve in curves.values():
        if curve["attrs"]["kind"] == "stationary":  # bn's branch: stable, R* falls as eta_eff grows
            assert curve["learning_rate"].tolist() == [1.0, 8.0] and np.all(curve["converged"])
            assert np.all(curve["abscissa"] < 0.0) and curve["R"][1] < curve["R"][0] < 1.0
            assert np.all(curve["eta_eff"] == pytest.approx(curve["learning_rate"] * curve["gamma"], rel=1e-12))
            # relu bn at M = 8 integrates the batch exactly: one drift seed, no Monte-Carlo error
            assert np.all(curve["R_sem"] == 0.0) and curve["attrs"]["drift_seeds"].size == 1
            continue
        if curve["attrs"]["kind"] == "thresholds":  # none: the teacher's 2M; relu bn: stable to the cap, all seeds
            assert curve["batch_size"].tolist() == [8]
            if curve["attrs"]["normalizer"] == "none":
                assert curve["threshold_stability"][0] == pytest.approx(16.0, rel=1e-3)
                assert curve["limit_kind"][0] == 0 and curve["threshold_stability_sem"][0] == 0.0
            else:
                assert curve["threshold_stability"][0] == np.inf and curve["limit_kind"][0] == 3
                assert curve["threshold_stability_sem"][0] == 0.0 and curve["seed"][0] > 0
            continue
        if curve["attrs"]["kind"] == "eta_scan":  # bn: a larger eta reaches the target sooner, eta_eff stays O(1)
            assert curve["learning_rate"].tolist() == [1.0, 8.0] and np.all(curve["reached"])
            assert 0.0 < curve["reference_eps_gen"][0] < 0.05  # bn's error as eta_eff -> 0
            assert curve["t_target"][1] < curve["t_target"][0]
            assert curve["eta_eff_final"][1] < 0.5 * 8.0  # the growth of L lowers eta_eff far below eta
            continue
        assert curve["t"][0] == 0.0 and curve["t"][-1] == pytest.approx(2.0, rel=1e-2)
        assert np.all(curve["converged"]) and np.all(np.isfinite(curve["eps_gen"]))
        if curve["attrs"]["method"] == "sim":
            assert curve["eps_gen_seeds"].shape == (curve["t"].size, 2)
    # rerunning resumes (nothing to do) and leaves the file identical
    before = {k: {f: v for f, v in c.items() if f != "attrs"} for k, c in curves.items()}
    with h5py.File(out, "r+") as f:  # drop the last two points of one trajectory, as a kill would
        f["curves"]["001-relu-bn-M8-eta0.5-sim"].attrs["n_points"] -= 2
    assert main(args) == 0
    after = read_curves(str(out))
    for name in before:
        for field, value in before[name].items():
            np.testing.assert_array_equal(after[name][field], value)


def test_eta_max_of_linear_none_checked_by_simulation():
    """The reduced finite-N simulation (N = 1000) converges just below eta_max = 2 and diverges just above."""
    times = np.array([0.0, 50.0])
    below = simulate_reduced(DynamicsProblem("linear", "none", 1.8, initial_overlap=0.5), 1000, times, 1)
    above = simulate_reduced(DynamicsProblem("linear", "none", 2.2, initial_overlap=0.5), 1000, times, 1)
    assert below["eps_gen"][-1] < 1e-5
    assert not above["eps_gen"][-1] < 1e3


@pytest.mark.parametrize("eta", [10.0, 50.0])
def test_scale_invariance_lets_any_learning_rate_converge(eta):
    """pn (relu, noise-free, no weight decay) at eta far above its threshold eta_eff_max = 2: the norm grows until
    eta_eff = eta gamma/L^2 is below the threshold, then the student converges to the teacher (SCIENCE.md claim 2);
    the ODE and the reduced simulation (N = 1000) agree on it."""
    problem = DynamicsProblem("relu", "pn", eta, initial_overlap=0.2)
    stable, _ = threshold(problem)
    times = np.array([0.0, 50.0])
    ode = integrate_ode(problem, times)
    run = simulate_reduced(problem, 1000, times, 3)
    for eps, norm, gamma in ((ode.eps_gen[-1], ode.norm[-1], ode.gamma[-1]),
                             (run["eps_gen"][-1], run["L"][-1], abs(run["gamma"][-1]))):
        assert eps < 1e-6 and norm > 2.0
        assert eta * gamma / norm**2 < stable < eta


def test_weight_decay_parks_the_normalized_student_at_the_edge_of_stability():
    """pn, relu, noise-free, weight decay 0.01: the teacher is learned, then the decay shrinks L until
    eta_eff = eta gamma/L^2 reaches the stability threshold eta_eff_max (2 for relu, M = 1), where it stays with a
    residual error: with weight decay no eta converges to R = 1 exactly, every eta ends at eta_eff ~ eta_eff_max.
    The ODE and the reduced simulation (N = 1000) agree."""
    problem = DynamicsProblem("relu", "pn", 0.5, weight_decay=0.01)
    stable, _ = threshold(problem)
    times = np.array([0.0, 100.0, 2000.0])
    ode = integrate_ode(problem, times)
    run = simulate_reduced(problem, 1000, times, 1)
    assert ode.eps_gen[1] < 1e-4 < ode.eps_gen[2]
    for eta_eff in (ode.eta_eff[-1], 0.5 * abs(run["gamma"][-1]) / run["L"][-1] ** 2):
        assert eta_eff == pytest.approx(stable, rel=0.03)


def test_stationary_branch_at_small_eta_minimizes_the_gamma_decayed_loss():
    """pn_gd, relu: as eta_eff -> 0 the stationary state goes to R = 1 with (gamma, beta) minimizing
    E[(relu(gamma lambda + beta) - relu(lambda))^2]/2 + zeta gamma^2 (the drift of gamma and beta is its gradient),
    minimized here independently by Nelder-Mead over adaptive quadrature (tests/naive.py)."""
    zeta = 0.05

    def loss(x):
        gamma, beta = x
        return 0.5 * gauss_expect(lambda z: (max(gamma * z + beta, 0.0) - max(z, 0.0)) ** 2, 0.0, 1.0,
                                  kinks=(0.0, -beta / gamma)) + zeta * gamma**2

    best = optimize.minimize(loss, [0.7, 0.2], method="Nelder-Mead", options={"xatol": 1e-9, "fatol": 1e-14}).x
    state = stationary_branch(DynamicsProblem("relu", "pn_gd", 1.0, zeta=zeta), [1e-3])[0]
    assert state.converged and 1.0 - state.overlap < 1e-4
    np.testing.assert_allclose([state.gamma, state.beta], best, atol=1e-4)  # R* = 1 - O(eta_eff)


def test_gamma_decay_stays_stable_where_the_teacher_of_pn_is_unstable():
    """SCIENCE.md claim 2, at M = 1 (relu, noise-free): pn's teacher loses stability at eta_eff = 2; pn_gd's
    stationary state at eta_eff = 2.24 is linearly stable (negative spectral abscissa) and the ODE integrated from a
    perturbed state returns to it, while R* < 1 and eps_g* grow continuously along the branch."""
    pn_threshold, _ = threshold(DynamicsProblem("relu", "pn", 1.0))
    branch = stationary_branch(DynamicsProblem("relu", "pn_gd", 1.0, zeta=0.05), [0.5, 1.0, 2.0, 4.0, 16.0])
    assert all(s.converged and s.abscissa < 0.0 for s in branch)
    overlaps = [s.overlap for s in branch]
    assert np.all(np.diff(overlaps) < 0.0) and np.all(np.diff([s.eps_gen for s in branch]) > 0.0)
    above = branch[3]
    assert above.eta_eff > 1.1 * pn_threshold
    assert spectral_abscissa(DynamicsProblem("relu", "pn", above.eta_eff)) > 0.0
    state = np.array([above.overlap, above.gamma, above.beta])
    assert converges(DynamicsProblem("relu", "pn_gd", above.learning_rate, zeta=0.05), state=state)


def _late_means(runs, times, eta, t_from):
    late = times >= t_from
    values = {"R": [r["R"][late].mean() for r in runs], "gamma": [abs(r["gamma"][late]).mean() for r in runs],
              "beta": [r["beta"][late].mean() for r in runs],
              "eta_eff": [(eta * np.abs(r["gamma"]) / r["L"] ** 2)[late].mean() for r in runs]}
    return {k: (np.mean(v), np.std(v, ddof=1) / math.sqrt(len(v))) for k, v in values.items()}


def test_weight_decay_fixed_point_lies_on_the_stationary_branch_and_is_simulated():
    """pn_gd, relu, noise-free, eta = 25 with weight decay 0.01: the full ODE settles where
    eta_eff^2 E[d^2] = 2 eta wd, above pn's threshold 2. Its (R, gamma, beta) equal the frozen-norm branch at the same
    eta_eff (root finding by continuation against integration, 1e-6), and the reduced simulation (N = 10^4, 8 seeds,
    time averages over t in [50, 100]) agrees within MONTE_CARLO_SIGMAS SEM + FINITE_SIZE_ALLOWANCE/N."""
    problem = DynamicsProblem("relu", "pn_gd", 25.0, zeta=0.05, weight_decay=0.01, initial_overlap=0.2)
    ode = integrate_ode(problem, np.array([0.0, 300.0, 400.0]))
    assert abs(ode.overlap[-1] - ode.overlap[-2]) < 1e-8 and ode.eta_eff[-1] > 2.1
    state = stationary_branch(problem, [ode.eta_eff[-1] / ode.gamma[-1]])[0]
    np.testing.assert_allclose([state.overlap, state.gamma, state.beta, state.eta_eff],
                               [ode.overlap[-1], ode.gamma[-1], ode.beta[-1], ode.eta_eff[-1]], rtol=1e-6)
    times = np.linspace(0.0, 100.0, 51)
    n = 10_000
    means = _late_means([simulate_reduced(problem, n, times, s) for s in range(8)], times, 25.0, 50.0)
    for name, expected in (("R", state.overlap), ("gamma", state.gamma), ("beta", state.beta)):
        mean, sem = means[name]
        assert abs(mean - expected) < MONTE_CARLO_SIGMAS * sem + FINITE_SIZE_ALLOWANCE / n, name


@pytest.mark.parametrize("gamma, beta", [(0.69, 0.22), (1.3, -0.4)])
def test_drift_near_the_teacher_direction_matches_one_dimensional_quadrature(gamma, beta):
    """relu, pn_gd, R = 1 - 1e-9: the teacher's kink sits at lambda = 0, smoothed over sqrt(1 - R^2); the 2-D rule
    must resolve it (a rule split only at the student's kink was off by 4e-4 here). Reference: E over lambda at
    R = 1 by adaptive quadrature (tests/naive.py); the drift moves by O(1 - R) between the two."""
    problem = DynamicsProblem("relu", "pn_gd", 1.0, zeta=0.05)
    drift = Drift(problem)(0.0, np.array([1.0 - 1e-9, 1.0, gamma, beta]))

    def error(z):
        return max(gamma * z + beta, 0.0) - max(z, 0.0) if gamma * z + beta > 0.0 else 0.0

    kinks = (0.0, -beta / gamma)
    e_d = gauss_expect(error, 0.0, 1.0, kinks)
    e_dl = gauss_expect(lambda z: error(z) * z, 0.0, 1.0, kinks)
    np.testing.assert_allclose(drift[2:], [-(e_dl + 2 * 0.05 * gamma), -e_d], atol=1e-7)


@pytest.mark.slow
def test_bn_weight_decay_fixed_point_against_simulation_and_branch():
    """bn, M = 8, relu, noise-free, eta = 25, weight decay 0.01: the ODE's fixed point (3 Monte-Carlo batch sets of
    the drift: mean +- SEM) against the reduced simulation (N = 10^4, 8 seeds, time averages over t in [50, 100]),
    within MONTE_CARLO_SIGMAS combined SEM + FINITE_SIZE_ALLOWANCE/N; and, for each batch set, the frozen-norm
    stationary branch at the same eta_eff equals the fixed point (1e-6)."""
    problem = DynamicsProblem("relu", "bn", 25.0, batch_size=8, weight_decay=0.01, initial_overlap=0.2)
    fixed = []
    for seed in range(3):
        ode = integrate_ode(problem, np.array([0.0, 300.0, 400.0]), seed)
        state = stationary_branch(problem, [ode.eta_eff[-1] / ode.gamma[-1]], seed)[0]
        np.testing.assert_allclose([state.overlap, state.gamma, state.beta],
                                   [ode.overlap[-1], ode.gamma[-1], ode.beta[-1]], rtol=1e-6)
        fixed.append({"R": ode.overlap[-1], "gamma": ode.gamma[-1], "beta": ode.beta[-1]})
    times = np.linspace(0.0, 100.0, 51)
    n = 10_000
    means = _late_means([simulate_reduced(problem, n, times, s) for s in range(8)], times, 25.0, 50.0)
    for name in ("R", "gamma", "beta"):
        theory = np.array([f[name] for f in fixed])
        mean, sem = means[name]
        combined = math.hypot(sem, theory.std(ddof=1) / math.sqrt(theory.size))
        assert abs(mean - theory.mean()) < MONTE_CARLO_SIGMAS * combined + FINITE_SIZE_ALLOWANCE / n, name


def test_maximal_rate_of_the_residual_students():
    """relu pn_gd keeps a stable stationary state up to the search cap 16 M (no limit: inf); linear bn matches
    the teacher's direction (its backpropagated signal vanishes at R = 1), and its branch R* = 1 loses stability at
    a finite eta_eff below pn's 2M, where the spectral abscissa changes sign (M = 6, the smallest M whose bn noise
    term has finite variance)."""
    assert maximal_rate(DynamicsProblem("relu", "pn_gd", 1.0, zeta=0.05)) == (math.inf, math.inf, LimitKind.NONE)
    problem = DynamicsProblem("linear", "bn", 1.0, batch_size=6)
    eta_eff, eta, kind = branch_limit(problem)
    assert kind is LimitKind.INSTABILITY and 0.5 * 12.0 < eta_eff < 12.0
    below, above = stationary_branch(problem, [0.98 * eta, 1.02 * eta])
    assert below.overlap > 1.0 - 1e-8 and above.overlap > 1.0 - 1e-8
    assert below.abscissa < 0.0 < above.abscissa


@pytest.mark.slow
def test_linear_bn_limit_by_integration_and_by_simulation():
    """linear bn, M = 8: the stability limit (4 drift seeds: mean +- SEM) equals the integration bisection
    (within 1 %, from below) and the eta_eff at which the reduced finite-N simulation with weight decay parks
    (N = 10^4, eta = 0.5, wd = 0.01, time averages over t in [500, 1000], 2 seeds): there the decay shrinks L
    until the teacher direction loses stability, as for pn (measured 12.04 +- 0.03 against 12.031 +- 0.002).
    Tolerance: MONTE_CARLO_SIGMAS combined SEM plus 1 % for the finite-N offset of the parking point from the
    N -> infinity threshold (measured 0.1 % here; the pn test allows 3 % at N = 1000)."""
    problem = DynamicsProblem("linear", "bn", 1.0, batch_size=8)
    stable, integrated, kind = maximal_rate(problem, seed=7)  # integration on the same drift batches as the state
    assert kind is LimitKind.INSTABILITY and 0.99 * stable < integrated <= stable * 1.001
    limits = np.array([stable, *(maximal_rate(problem, seed=s, integrate=False)[0] for s in (1, 2, 3))])
    times = np.concatenate([[0.0], np.linspace(500.0, 1000.0, 51)])
    park = DynamicsProblem("linear", "bn", 0.5, batch_size=8, weight_decay=0.01)
    parked = [np.mean((0.5 * np.abs(run["gamma"]) / run["L"] ** 2)[1:])
              for run in (simulate_reduced(park, 10_000, times, s) for s in range(2))]
    combined = math.hypot(limits.std(ddof=1) / 2.0, np.std(parked, ddof=1) / math.sqrt(2))
    assert abs(np.mean(parked) - limits.mean()) < MONTE_CARLO_SIGMAS * combined + 0.01 * limits.mean()
