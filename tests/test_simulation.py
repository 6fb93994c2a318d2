"""Finite-width simulations: kernels against references, exact limits, seeds, and theory against simulation.

Fast tests use N <= 150. The slow ones (``pytest -m slow``) check every implemented (normalizer, activation,
method) pair against the replica theory at two loads, and the finite-size scaling of the gap.
"""

import dataclasses
import math

import naive
import numpy as np
import pytest
from tolerances import FINITE_DIFFERENCE_RTOL, FINITE_SIZE_ALLOWANCE, MONTE_CARLO_SIGMAS, SIGN_SIGMAS

from statmech_bn.kernels.sampling import leapfrog, potential_and_gradient
from statmech_bn.simulate import SIMULATION_TABLE, SimulationSettings, point_record, point_seeds
from statmech_bn.simulate.common import teacher_data
from statmech_bn.simulate.erm import fit, relu_active_set
from statmech_bn.simulate.gibbs import run_chain, split_rhat
from statmech_bn.theory import METHOD_TABLE, solve_curve
from statmech_bn.theory.problem import Problem
from statmech_bn.theory.solver import SolverSettings


def theory_eps(problem: Problem, alpha: float) -> tuple[float, bool]:
    """The replica theory's eps_g at alpha (one point, the solver's default: both branches, lower free energy)."""
    point = list(solve_curve(METHOD_TABLE[problem.method](problem), np.array([alpha]), SolverSettings()))[-1]
    return point.observables["eps_gen"], point.converged


def simulate(problem: Problem, method: str, alpha: float, settings: SimulationSettings, first_seed: int = 0):
    outcomes = [SIMULATION_TABLE[method](dataclasses.replace(problem, method=method), alpha, settings, seed)
                for seed in range(first_seed, first_seed + settings.seeds)]
    return point_record(alpha, list(range(settings.seeds)), outcomes)


def assert_agrees(record: dict, theory: float, n: int) -> None:
    """Theory within MONTE_CARLO_SIGMAS standard errors of the seeds plus the finite-size allowance."""
    gap = abs(record["eps_gen"] - theory)
    bound = MONTE_CARLO_SIGMAS * record["eps_gen_sem"] + FINITE_SIZE_ALLOWANCE / n
    assert gap < bound, f"sim {record['eps_gen']:.5f} +- {record['eps_gen_sem']:.5f} vs theory {theory:.5f}"


# -- seeds ----------------------------------------------------------------------------------------------
def test_point_seeds_depend_only_on_master_curve_and_alpha():
    a = point_seeds(1, "curve", 2.0, 5)
    assert a == point_seeds(1, "curve", 2.0, 5)
    assert len(set(a)) == 5 and all(0 <= s < 2**63 for s in a)
    assert a != point_seeds(2, "curve", 2.0, 5)
    assert a != point_seeds(1, "other", 2.0, 5)
    assert a != point_seeds(1, "curve", 2.0 + 1e-12, 5)
    assert point_seeds(1, "curve", 2.0, 7)[:5] == a


@pytest.mark.parametrize("method, normalizer", [("sim_erm", "pn_gd"), ("sim_gibbs", "none"), ("sim_sgd", "bn")])
def test_a_seed_reproduces_its_run_bit_for_bit(method, normalizer):
    problem = Problem("relu", normalizer, method, temperature=0.5, zeta=0.1, weight_decay=0.5, noise=0.5,
                      batch_size=8)
    settings = SimulationSettings(size=60, trajectories=20, max_epochs=30)
    first = SIMULATION_TABLE[method](problem, 2.0, settings, 12345)
    second = SIMULATION_TABLE[method](problem, 2.0, settings, 12345)
    other = SIMULATION_TABLE[method](problem, 2.0, settings, 12346)
    assert dataclasses.asdict(first) == dataclasses.asdict(second)
    assert first.eps_gen != other.eps_gen


# -- ERM ------------------------------------------------------------------------------------------------
def test_linear_erm_is_the_ridge_solution(rng):
    """Linear/none ERM: the minimiser is the ridge solution with an intercept (normal equations)."""
    n, alpha, wd = 50, 2.0, 0.3
    problem = Problem("linear", "none", "sim_erm", weight_decay=wd, noise=0.3)
    _, x, y = teacher_data(problem, alpha, n, rng)
    v, beta, *_ = fit(problem, x, y, rng, SimulationSettings(size=n, gtol=1e-9))
    design = np.hstack([x / math.sqrt(n), np.ones((x.shape[0], 1))])
    system = design.T @ design + np.diag([wd] * n + [0.0])
    exact = np.linalg.solve(system, design.T @ y)
    np.testing.assert_allclose(np.append(v, beta), exact, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("normalizer", ["none", "pn_gd"])
def test_relu_erm_reaches_an_exact_stationary_point_below_plain_lbfgs(rng, normalizer):
    """The active-set solve certifies a point whose minimum-norm subgradient vanishes (round-off), and whose
    energy is at most that of the independent L-BFGS fit of tests/naive.py on (w, gamma, beta)."""
    n, alpha, zeta, wd = 80, 3.0, 0.05, 0.3
    problem = Problem("relu", normalizer, "sim_erm", zeta=zeta, weight_decay=wd, noise=0.5)
    _, x, y = teacher_data(problem, alpha, n, rng)
    v, beta, energy, grad_norm, _, unique = fit(problem, x, y, rng, SimulationSettings(size=n))
    assert unique and grad_norm < 1e-9
    w_ref, gamma_ref, beta_ref = naive.relu_erm_fit(x, y, normalizer, zeta, wd, rng)
    lam = x @ w_ref / np.linalg.norm(w_ref)
    field = gamma_ref * lam + beta_ref if normalizer == "pn_gd" else x @ w_ref / math.sqrt(n) + beta_ref
    reference = 0.5 * np.sum((y - np.maximum(field, 0.0)) ** 2)
    reference += x.shape[0] * zeta * gamma_ref**2 if normalizer == "pn_gd" else 0.5 * wd * w_ref @ w_ref
    assert energy <= reference * (1.0 + 1e-9)
    # a certified point is also a local minimum along random directions
    objective = lambda t: 0.5 * np.sum((y - np.maximum(x @ t[:n] / math.sqrt(n) + t[n], 0)) ** 2)  # noqa: E731
    ridge = 2 * alpha * zeta if normalizer == "pn_gd" else wd
    theta = np.append(v, beta)
    base = objective(theta) + 0.5 * ridge * v @ v
    for _ in range(20):
        step = 1e-5 * rng.standard_normal(n + 1)
        moved = theta + step
        assert objective(moved) + 0.5 * ridge * moved[:n] @ moved[:n] >= base - 1e-12 * base


def test_active_set_gives_up_honestly_on_a_bad_start(rng):
    """From a point far from any minimum the active-set solve may not certify; it then reports the gradient."""
    n = 40
    problem = Problem("relu", "none", "sim_erm", weight_decay=0.3, noise=0.5)
    _, x, y = teacher_data(problem, 3.0, n, rng)
    theta, grad_norm, certified = relu_active_set(np.append(rng.standard_normal(n), 0.0), x, y, 0.3)
    assert certified == (grad_norm < 1e-8)


def test_unregularized_erm_below_the_interpolation_threshold_is_flagged():
    """pn without gamma decay at alpha < 1: any interpolating direction with a large gain is a minimum; the
    replica theory's gain diverges there too. The seed must be flagged, not stored as a result."""
    problem = Problem("linear", "pn", "sim_erm", noise=0.3)
    outcome = SIMULATION_TABLE["sim_erm"](problem, 0.6, SimulationSettings(size=60), 1)
    assert not outcome.converged


# -- HMC --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("normalizer", ["pn_gd", "none"])
@pytest.mark.parametrize("activation", ["relu", "erf"])
def test_hmc_potential_gradient_matches_finite_differences(rng, normalizer, activation):
    problem = Problem(activation, normalizer, "sim_gibbs", temperature=0.7, zeta=0.1, weight_decay=0.4, noise=0.3)
    n = 30
    _, x, y = teacher_data(problem, 2.0, n, rng)
    spherical = problem.spherical
    theta = np.append(rng.standard_normal(n), [0.8, 0.2])
    grad, work = np.empty(n + 2), np.empty(x.shape[0])

    def u(t):
        return potential_and_gradient(problem.code, spherical, x, y, t, 0.7, 0.1, 0.4, np.empty(n + 2), work)

    u(theta)
    potential_and_gradient(problem.code, spherical, x, y, theta, 0.7, 0.1, 0.4, grad, work)
    for i in (0, 7, n - 1, n, n + 1):
        if i == n and not spherical:
            assert grad[i] == 0.0
            continue
        step = np.zeros(n + 2)
        step[i] = 1e-5
        numeric = (u(theta + step) - u(theta - step)) / 2e-5
        assert grad[i] == pytest.approx(numeric, rel=FINITE_DIFFERENCE_RTOL, abs=1e-6)


def test_leapfrog_is_reversible_and_nearly_conserves_energy(rng):
    problem = Problem("erf", "pn", "sim_gibbs", temperature=0.5, noise=0.3)
    n = 40
    _, x, y = teacher_data(problem, 2.0, n, rng)
    theta = np.append(rng.standard_normal(n), [1.0, 0.1])
    inverse_mass = np.append(np.ones(n), [1.0 / n, 1.0 / n])
    grad, work = np.empty(n + 2), np.empty(x.shape[0])
    u0 = potential_and_gradient(problem.code, True, x, y, theta, 0.5, 0.0, 0.0, grad, work)
    momentum = rng.standard_normal(n + 2) / np.sqrt(inverse_mass)
    k0 = 0.5 * np.sum(inverse_mass * momentum**2)
    start = theta.copy()
    u1, k1 = leapfrog(problem.code, True, x, y, theta, momentum, inverse_mass, 0.01, 20, 0.5, 0.0, 0.0, grad, work)
    assert abs((u1 + k1) - (u0 + k0)) < 1e-2 * (u0 + k0)
    momentum *= -1.0
    leapfrog(problem.code, True, x, y, theta, momentum, inverse_mass, 0.01, 20, 0.5, 0.0, 0.0, grad, work)
    np.testing.assert_allclose(theta, start, rtol=0, atol=1e-9)


def test_split_rhat():
    rng = np.random.default_rng(3)
    assert split_rhat(rng.standard_normal((2, 400))) == pytest.approx(1.0, abs=0.02)
    shifted = rng.standard_normal((2, 400)) + np.array([[0.0], [3.0]])
    assert split_rhat(shifted) > 1.5


def test_hmc_samples_the_gaussian_posterior_of_the_linear_block():
    """Linear/none: the posterior of (w, beta) is Gaussian, so <U> = U_min + d/2 with d = N + 1 (equipartition)
    exactly. Eight independent chains on one data set; tolerance MONTE_CARLO_SIGMAS standard errors of the
    chains' means."""
    n, alpha, temperature, wd = 30, 2.0, 0.5, 0.4
    problem = Problem("linear", "none", "sim_gibbs", temperature=temperature, weight_decay=wd, noise=0.3)
    data_rng = np.random.default_rng(11)
    teacher, x, y = teacher_data(problem, alpha, n, data_rng)
    design = np.hstack([x / math.sqrt(n), np.ones((x.shape[0], 1))])
    system = design.T @ design + np.diag([wd] * n + [0.0])
    theta = np.linalg.solve(system, design.T @ y)
    residual = y - design @ theta
    u_min = (0.5 * residual @ residual + 0.5 * wd * theta[:n] @ theta[:n]) / temperature
    settings = SimulationSettings(size=n, trajectories=300)
    means = []
    for chain in range(8):
        rng = np.random.default_rng(100 + chain)
        start = np.concatenate([rng.standard_normal(n), [1.0, 0.0]])
        records, acceptance, _ = run_chain(problem, x, y, teacher, start, settings, rng, problem.rules())
        assert acceptance > 0.5
        means.append(np.mean(records[:, 0]) / temperature)
    sem = np.std(means, ddof=1) / math.sqrt(len(means))
    assert abs(np.mean(means) - (u_min + (n + 1) / 2)) < MONTE_CARLO_SIGMAS * sem


# -- theory against simulation (fast, small N) --------------------------------------------------------------
FAST_CASES = [
    ("sim_erm", Problem("relu", "none", "erm", weight_decay=0.5, noise=0.5)),
    ("sim_erm", Problem("erf", "pn_gd", "erm", zeta=0.1, noise=0.5)),
    ("sim_gibbs", Problem("relu", "pn", "gibbs", temperature=0.5, noise=0.5)),
    ("sim_sgd", Problem("relu", "pn_gd", "erm", zeta=0.1, batch_size=8, noise=0.5)),
]


@pytest.mark.parametrize("method, problem", FAST_CASES, ids=[f"{m}-{p.activation}-{p.normalizer}"
                                                              for m, p in FAST_CASES])
def test_theory_against_simulation_at_small_n(method, problem):
    n, alpha = 120, 2.0
    theory, converged = theory_eps(problem, alpha)
    assert converged
    record = simulate(problem, method, alpha, SimulationSettings(size=n, seeds=8, trajectories=600))
    assert record["converged"]
    assert_agrees(record, theory, n)


def test_linear_simulations_against_marchenko_pastur():
    """Closed forms (Hastie et al. 2019; Dobriban & Wager 2018, see naive.ridge_generalization_error): ridge ERM
    and a Gibbs sample of the Gaussian posterior of linear/none, simulated by sim_erm and sim_gibbs (HMC)."""
    n, alpha, wd, noise, temperature = 120, 1.5, 0.5, 0.3, 0.5
    problem = Problem("linear", "none", "erm", weight_decay=wd, noise=noise, temperature=temperature)
    settings = SimulationSettings(size=n, seeds=8, trajectories=600)
    record = simulate(problem, "sim_erm", alpha, settings)
    assert_agrees(record, naive.ridge_generalization_error(alpha, wd, noise), n)
    record = simulate(problem, "sim_gibbs", alpha, settings)
    assert record["converged"]
    # the closed forms have no intercept; the simulated beta adds O(1/P) (its estimation and posterior variance),
    # inside the finite-size allowance
    assert_agrees(record, naive.ridge_generalization_error(alpha, wd, noise, temperature), n)


def test_sgd_divergence_is_flagged_not_stored_as_a_result():
    problem = Problem("linear", "none", "sim_sgd", weight_decay=0.1, noise=0.3, batch_size=4)
    outcome = SIMULATION_TABLE["sim_sgd"](problem, 2.0, SimulationSettings(size=50, learning_rate=50.0), 3)
    assert not outcome.converged and math.isnan(outcome.eps_gen)


def test_minimum_is_the_same_from_every_start_for_a_convex_case(rng):
    """Linear/none ERM is strictly convex: every start ends at the same point (a check on the multi-start)."""
    problem = Problem("linear", "none", "sim_erm", weight_decay=0.2, noise=0.3)
    _, x, y = teacher_data(problem, 2.0, 40, rng)
    ends = [fit(problem, x, y, np.random.default_rng(s), SimulationSettings(size=40, inits=1, gtol=1e-10))[2]
            for s in range(3)]
    assert np.ptp(ends) < 1e-9 * ends[0]


# -- slow: every implemented pair, finite-size scaling, real bn ---------------------------------------------
def _pairs():
    """(simulation method, theory problem, loads): every normalizer the simulation covers x linear, relu, erf.

    Loads where the theory converges: unregularized ERM of the sphere (pn, wn) has no finite RS solution below
    alpha ~ 5 for relu and erf (gain -> infinity; see README "Known limitations"), so it is compared at 6, 8.
    """
    cases = []
    for act in ("linear", "relu", "erf"):
        noise = 0.5
        for norm, extra in (("pn_gd", {"zeta": 0.1}), ("none", {"weight_decay": 0.5}), ("pn", {}), ("wn", {})):
            loads = (6.0, 8.0) if norm in ("pn", "wn") else (1.5, 4.0)
            cases.append(("sim_erm", Problem(act, norm, "erm", noise=noise, **extra), loads))
            cases.append(("sim_gibbs", Problem(act, norm, "gibbs", temperature=0.5, noise=noise, **extra), (1.0, 3.0)))
            if norm in ("pn_gd", "none"):
                cases.append(("sim_sgd", Problem(act, norm, "erm", noise=noise, batch_size=8, **extra), loads))
    return cases


@pytest.mark.slow
@pytest.mark.parametrize("method, problem, loads", _pairs(),
                         ids=[f"{m}-{p.activation}-{p.normalizer}" for m, p, _ in _pairs()])
def test_every_pair_against_theory(method, problem, loads):
    """The unregularized spherical students (pn, wn) have a free gain: its posterior at alpha = 1 is broad and HMC
    mixes along it slowly (relu, 600 trajectories: split R-hat up to 1.13 over 16 seeds; 1.10 at 1200; <= 1.021 at
    2400), so they get 2400 trajectories per chain; every seed must still pass R-hat <= 1.1."""
    n = 300
    free_gain = problem.normalizer in ("pn", "wn")
    settings = SimulationSettings(size=n, seeds=8, trajectories=2400 if free_gain else 600)
    for alpha in loads:
        theory, converged = theory_eps(problem, alpha)
        assert converged
        record = simulate(problem, method, alpha, settings, first_seed=int(10 * alpha))
        assert record["converged"]
        assert_agrees(record, theory, n)


@pytest.mark.slow
@pytest.mark.parametrize("method, problem", [
    ("sim_gibbs", Problem("relu", "pn", "gibbs", temperature=0.5, noise=0.5)),
    ("sim_sgd", Problem("relu", "pn_gd", "erm", zeta=0.1, noise=0.5, batch_size=8)),
])
def test_finite_size_gap_extrapolates_to_zero(method, problem):
    """gap(N) = sim - theory fitted by a + b/N over N = 100..800 (weighted by the seeds' errors): the
    extrapolated gap a must vanish within MONTE_CARLO_SIGMAS of its standard error."""
    alpha = 3.0
    theory, _ = theory_eps(problem, alpha)
    sizes, gaps, errors = [], [], []
    for n in (100, 200, 400, 800):
        record = simulate(problem, method, alpha, SimulationSettings(size=n, seeds=12, trajectories=600), 500)
        sizes.append(n)
        gaps.append(record["eps_gen"] - theory)
        errors.append(record["eps_gen_sem"])
    design = np.column_stack([np.ones(4), 1.0 / np.array(sizes)]) / np.array(errors)[:, None]
    coef, *_ = np.linalg.lstsq(design, np.array(gaps) / np.array(errors), rcond=None)
    cov = np.linalg.inv(design.T @ design)
    assert abs(coef[0]) < MONTE_CARLO_SIGMAS * math.sqrt(cov[0, 0]), (sizes, gaps, errors)


@pytest.mark.slow
def test_real_bn_regularizes_as_its_theory_predicts():
    """The paper's claim in the generalization setting, on the real bn student (SGD through batch statistics),
    relu, noise 0.5, N = 300, 8 seeds. Measured with data/bn_sgd_vs_theory.toml at N = 1000 (README): at alpha = 2
    bn(M = 4) 0.109 +- 0.001, bn(64) 0.175 +- 0.004, pn 0.268 +- 0.012; at alpha = 8 bn(64) 0.0216 +- 0.0008,
    pn 0.0242 +- 0.0009. The theory (pn_gd with zeta(M)) gets the ordering right but not the values (off by up to
    25 %, README), so the test asserts the ordering and the large-M limit, each beyond MONTE_CARLO_SIGMAS errors."""
    n = 300
    settings = SimulationSettings(size=n, seeds=8)

    def sgd(normalizer, m, alpha):
        problem = Problem("relu", normalizer, "erm", noise=0.5, batch_size=m)
        return simulate(problem, "sim_sgd", alpha, settings, first_seed=700)

    def separated(low, high):
        return high["eps_gen"] - low["eps_gen"] > MONTE_CARLO_SIGMAS * math.hypot(low["eps_gen_sem"],
                                                                                  high["eps_gen_sem"])

    bn4, bn64, pn4 = sgd("bn", 4, 2.0), sgd("bn", 64, 2.0), sgd("pn", 4, 2.0)
    assert separated(bn4, bn64) and separated(bn4, pn4)
    theory4, _ = theory_eps(Problem("relu", "bn", "erm", noise=0.5, batch_size=4), 2.0)
    theory64, _ = theory_eps(Problem("relu", "bn", "erm", noise=0.5, batch_size=64), 2.0)
    assert theory4 < theory64
    bn64, pn64 = sgd("bn", 64, 8.0), sgd("pn", 64, 8.0)
    gap = abs(bn64["eps_gen"] - pn64["eps_gen"])
    assert gap < MONTE_CARLO_SIGMAS * math.hypot(bn64["eps_gen_sem"], pn64["eps_gen_sem"]) + FINITE_SIZE_ALLOWANCE / n


@pytest.mark.slow
def test_sign_gibbs_sampling_against_theory():
    """sign has no gradient: sim_gibbs samples it by single-site Metropolis. pn, T = 0.5, alpha = 0.5 and 1, N = 100,
    8 seeds of 2 chains x 6000 sweeps (measured: 0.699 +- 0.007 against 0.691). At alpha = 3 the same budget
    leaves half the seeds with R-hat > 1.1 (flagged, not converged): slow mixing, not a disagreement."""
    n = 100
    problem = Problem("sign", "pn", "gibbs", temperature=0.5)
    for alpha in (0.5, 1.0):
        theory, converged = theory_eps(problem, alpha)
        assert converged
        record = simulate(problem, "sim_gibbs", alpha, SimulationSettings(size=n, seeds=8, trajectories=6000))
        assert record["converged"]
        assert_agrees(record, theory, n)


def test_sign_gibbs_sampler_flags_a_short_run():
    """Too few sweeps to equilibrate: the outcome is stored with converged = false."""
    problem = Problem("sign", "pn", "sim_gibbs", temperature=0.5)
    outcome = SIMULATION_TABLE["sim_gibbs"](problem, 3.0, SimulationSettings(size=100, trajectories=40), 2)
    assert not outcome.converged and outcome.rhat > 1.1


@pytest.mark.slow
def test_lower_minima_of_relu_erm_generalize_worse():
    """relu's square loss is not convex in the pre-activation, so pn ERM has many minima (replica symmetry is
    unstable at T = 0: records.REPLICA_SYMMETRY_NOTE). At alpha = 4, where the RS saddle point runs away, the lowest of
    30 L-BFGS starts lies lower in training loss than the lowest of 3 (the 3 are among the 30) and generalizes worse,
    paired over 20 seeds at N = 100. Measured on these seeds: eps_g 0.0780 -> 0.0933, a paired change of +0.0153 +-
    0.0034 (4.5 standard errors; 4.2 with 30 seeds); eps_t 0.0911 -> 0.0897 (docs/bn_meanfield/FINDINGS.md)."""
    problem = Problem("relu", "pn", "erm", noise=0.5)
    few, many = (dataclasses.replace(SimulationSettings(size=100), inits=k) for k in (3, 30))
    seeds = point_seeds(4000, "relu-pn-restarts", 4.0, 20)
    runs = [[SIMULATION_TABLE["sim_erm"].run(problem, 4.0, s, seed) for seed in seeds] for s in (few, many)]
    train = np.array([[r.eps_train for r in rs] for rs in runs])
    change = np.array([r.eps_gen for r in runs[1]]) - np.array([r.eps_gen for r in runs[0]])
    assert np.all(train[1] <= train[0] * (1.0 + 1e-12))
    assert np.mean(train[1]) < np.mean(train[0])
    sem = change.std(ddof=1) / math.sqrt(change.size)
    assert change.mean() > SIGN_SIGMAS * sem, (change.mean(), sem)
