"""Saddle-point theory against closed forms, literature values, finite differences and finite-N samples."""

import math

import naive
import numpy as np
import pytest
from tolerances import CLOSED_FORM_RTOL, FINITE_DIFFERENCE_RTOL, MONTE_CARLO_SIGMAS

from statmech_bn.theory import METHOD_TABLE, Problem, QuadratureSettings, SolverSettings, solve_curve
from statmech_bn.theory.problem import generalization_error

SOLVER = SolverSettings(branches="forward", tolerance=1e-11)


def curve(problem, alphas, solver=SOLVER):
    method = METHOD_TABLE[problem.method](problem)
    points = list(solve_curve(method, np.asarray(alphas, dtype=float), solver))
    assert all(p.converged for p in points), [(p.alpha, p.residual) for p in points]
    return points


# -- closed forms -------------------------------------------------------------------------------------
@pytest.mark.parametrize("ridge", [0.1, 1.0])
@pytest.mark.parametrize("noise", [0.0, 0.5])
def test_ridge_erm_matches_marchenko_pastur(ridge, noise):
    alphas = [0.3, 0.8, 1.5, 3.0, 6.0]
    points = curve(Problem("linear", "none", "erm", weight_decay=ridge, noise=noise), alphas)
    for p in points:
        want = naive.ridge_generalization_error(p.alpha, ridge, noise)
        assert p.observables["eps_gen"] == pytest.approx(want, rel=CLOSED_FORM_RTOL)


@pytest.mark.parametrize(("ridge", "noise"), [(0.01, 0.0), (0.1, 0.5), (1.0, 0.5), (0.0, 0.3)])
def test_ridge_closed_form_state_is_the_iterated_fixed_point(ridge, noise):
    """The closed-form ridge saddle point (ERM's ``exact_state``, which the curves above start and stop at) against
    the fixed point that the accelerated iteration finds from the method's own initial state; the iteration stays
    the reference of the closed form. Without ridge there is no closed form (and no unique minimiser) below
    alpha = 1."""
    from statmech_bn.theory.solver import accelerated_fixed_point

    method = METHOD_TABLE["erm"](Problem("linear", "none", "erm", weight_decay=ridge, noise=noise))
    for alpha in (0.3, 0.9, 1.2, 4.0):
        exact = method.exact_state(alpha)
        if ridge == 0.0 and alpha <= 1.0:
            assert exact is None
            continue
        iterated = accelerated_fixed_point(lambda x, a=alpha: method.update(x, a), method.initial_state(alpha, False),
                                           SOLVER.damping, SOLVER.tolerance, SOLVER.max_iterations)
        assert iterated.converged
        np.testing.assert_allclose(exact, iterated.value, rtol=CLOSED_FORM_RTOL, atol=1e-9)
    points = curve(Problem("linear", "none", "erm", weight_decay=ridge, noise=noise), [1.5, 3.0])
    assert [p.iterations for p in points] == [1, 1]


def test_ridgeless_limit_blows_up_at_alpha_one():
    """Near-ridgeless (1e-4) ERM with label noise: the variance term diverges like 1/|alpha - 1| from both
    sides (ridgeless: eps = [(1 - alpha) + noise^2 alpha/(1 - alpha)]/2 below 1, noise^2/(2(alpha - 1)) above)."""
    alphas = [0.5, 0.9, 0.97, 1.03, 1.1, 2.0]
    points = curve(Problem("linear", "none", "erm", weight_decay=1e-4, noise=0.5), alphas)
    eps = [p.observables["eps_gen"] for p in points]
    for p, e in zip(points, eps, strict=True):
        assert e == pytest.approx(naive.ridge_generalization_error(p.alpha, 1e-4, 0.5), rel=1e-5)
    assert eps[2] > 8 * eps[0] and eps[3] > 8 * eps[5]
    assert eps[0] < eps[1] < eps[2] and eps[3] > eps[4] > eps[5]


@pytest.mark.parametrize("temperature", [0.5, 2.0])
def test_linear_gibbs_matches_gaussian_posterior(temperature):
    """For linear/none the posterior is Gaussian: eps_g = (|w_hat - w*|^2 + T tr (S + wd)^-1)/(2N)."""
    alphas = [0.5, 1.0, 2.5, 5.0]
    points = curve(Problem("linear", "none", "gibbs", temperature=temperature, weight_decay=0.5, noise=0.3),
                   alphas)
    for p in points:
        want = naive.ridge_generalization_error(p.alpha, 0.5, 0.3, temperature)
        assert p.observables["eps_gen"] == pytest.approx(want, rel=CLOSED_FORM_RTOL)


@pytest.mark.parametrize("temperature", [0.5, 3.0])
def test_sign_high_temperature_closed_form(temperature):
    """R/sqrt(1 - R^2) = a alpha/(pi T), eps = arccos(R)/pi (Engel & Van den Broeck 2001, ch. 4) with
    a = 2 because the project's loss (y - g)^2/2 costs 2 per mistake for g = sign; eps_g counts the same 2."""
    alphas = [0.2, 1.0, 4.0, 20.0]
    quad = QuadratureSettings(teacher_nodes=64)  # alpha/T = 40: features of width ~1/40 around tau = 0
    for p in curve(Problem("sign", "pn", "high_temperature", temperature=temperature, quadrature=quad), alphas):
        k = 2.0 * p.alpha / (math.pi * temperature)
        r = k / math.sqrt(1.0 + k * k)
        assert p.observables["R"] == pytest.approx(r, rel=CLOSED_FORM_RTOL)
        assert p.observables["eps_gen"] == pytest.approx(2.0 * math.acos(r) / math.pi, rel=CLOSED_FORM_RTOL)


def test_sign_gibbs_at_small_temperature_approaches_0625_over_alpha():
    """Gibbs learning of the spherical sign perceptron at T -> 0: eps ~ 0.625/alpha for large alpha
    (Engel & Van den Broeck 2001, ch. 2.3). T = 0.02 makes a mistake cost exp(-100): zero temperature for
    all practical purposes. The approach is monotone with an O(1/alpha^2)-like correction."""
    quad = QuadratureSettings(teacher_nodes=48)
    alphas = [10.0, 20.0, 50.0, 100.0]
    points = curve(Problem("sign", "pn", "gibbs", temperature=0.02, quadrature=quad), alphas)
    scaled = [p.alpha * p.observables["eps_gen"] / 2.0 for p in points]  # eps_g = 2 P(mistake)
    gaps = [abs(s - 0.625) for s in scaled]
    assert gaps == sorted(gaps, reverse=True)
    assert gaps[-1] < 2e-3


# -- saddle-point equations against finite differences of the free entropy ---------------------------
STATES = {
    ("gibbs", True): [0.5, 0.4, 0.8, 0.1],
    ("gibbs", False): [0.4, 0.35, 0.9, -0.1],
    ("erm", True): [0.6, 1.3, 0.9, 0.1],
    ("erm", False): [0.5, 0.8, 1.2, 0.05],
    ("high_temperature", True): [0.5, 0.8, 0.1],
    ("high_temperature", False): [0.4, 0.7, 0.1],
}


@pytest.mark.parametrize("method", ["gibbs", "erm", "high_temperature"])
@pytest.mark.parametrize("normalizer", ["pn_gd", "none"])
@pytest.mark.parametrize("activation", ["linear", "relu", "erf"])
def test_stationarity_is_the_gradient_of_the_free_entropy(method, normalizer, activation):
    problem = Problem(activation, normalizer, method, temperature=0.7, zeta=0.2, weight_decay=0.3, noise=0.2)
    saddle = METHOD_TABLE[method](problem)
    x = np.array(STATES[(method, normalizer != "none")])
    alpha = 1.7
    analytic = saddle.stationarity(x, alpha)
    step = 1e-5
    numeric = np.empty_like(x)
    for i in range(len(x)):
        up, down = x.copy(), x.copy()
        up[i] += step
        down[i] -= step
        numeric[i] = (saddle.free_entropy(up, alpha) - saddle.free_entropy(down, alpha)) / (2 * step)
    atol = 1e-5 if (method == "erm" and activation == "erf") else 1e-6  # erf prox: Newton to 1e-14
    np.testing.assert_allclose(analytic, numeric, rtol=FINITE_DIFFERENCE_RTOL, atol=atol)


@pytest.mark.parametrize("method", ["gibbs", "erm", "high_temperature"])
@pytest.mark.parametrize("normalizer", ["pn_gd", "none"])
def test_solutions_are_stationary(method, normalizer):
    problem = Problem("relu", normalizer, method, temperature=0.5, zeta=0.05, weight_decay=0.5, noise=0.2)
    saddle = METHOD_TABLE[method](problem)
    for p in curve(problem, [2.0, 4.0]):
        np.testing.assert_allclose(saddle.stationarity(p.state, p.alpha), 0.0, atol=1e-7)


def test_erm_free_energy_is_the_minimal_regularized_training_loss():
    """At the ERM saddle point f = alpha (eps_t + zeta gamma^2) + wd Q/2, an identity the code never imposes."""
    for normalizer in ("pn_gd", "none"):
        problem = Problem("relu", normalizer, "erm", zeta=0.1, weight_decay=0.2, noise=0.3)
        for p in curve(problem, [1.5, 3.0]):
            o = p.observables
            extra = problem.zeta * o["gamma"] ** 2 if normalizer == "pn_gd" else 0.0
            wd = 0.5 * problem.weight_decay * o["L"] ** 2 if normalizer == "none" else 0.0
            assert o["free_energy"] == pytest.approx(p.alpha * (o["eps_train"] + extra) + wd, rel=1e-7)


def test_gibbs_tends_to_the_high_temperature_limit():
    """Gibbs at temperature T and load alpha T against the T -> infinity limit at load ratio alpha/T = 8."""
    solver = SolverSettings(branches="both", tolerance=1e-11)
    limit = curve(Problem("relu", "pn", "high_temperature", temperature=1.0), [8.0], solver)[0].observables["R"]
    assert limit > 0.5
    gaps = []
    for temperature in (5.0, 20.0, 80.0):
        gibbs = curve(Problem("relu", "pn", "gibbs", temperature=temperature), [8.0 * temperature], solver)[0]
        gaps.append(abs(gibbs.observables["R"] - limit))
    assert gaps[0] > gaps[1] > gaps[2]
    assert gaps[2] < 0.01


def test_gibbs_tends_to_erm_at_low_temperature():
    erm = curve(Problem("relu", "none", "erm", weight_decay=0.3, noise=0.3), [2.0])[0].observables["eps_gen"]
    gaps = [abs(curve(Problem("relu", "none", "gibbs", temperature=t, weight_decay=0.3, noise=0.3), [2.0])[0]
                .observables["eps_gen"] - erm) for t in (0.1, 0.03, 0.01)]
    assert gaps[0] > gaps[1] > gaps[2]


# -- normalizers ---------------------------------------------------------------------------------------
def test_pn_equals_wn_for_centered_inputs_and_differs_otherwise(rng):
    n, batch = 400, 2000
    weights = rng.standard_normal(n) + 0.3
    centered = rng.standard_normal((batch, n))
    pn = naive.normalized_preactivation("pn", weights, centered, 1.3, 0.2)
    wn = naive.normalized_preactivation("wn", weights, centered, 1.3, 0.2)
    np.testing.assert_allclose(pn, wn, rtol=1e-12)
    shifted = centered + 0.5
    pn = naive.normalized_preactivation("pn", weights, shifted, 1.3, 0.2, input_mean=0.5)
    wn = naive.normalized_preactivation("wn", weights, shifted, 1.3, 0.2)
    assert np.mean(np.abs(pn - wn)) > 0.1


def test_pn_and_wn_theory_curves_coincide():
    a = curve(Problem("relu", "pn", "gibbs", temperature=0.5), [1.0, 3.0])
    b = curve(Problem("relu", "wn", "gibbs", temperature=0.5), [1.0, 3.0])
    assert [p.observables for p in a] == [p.observables for p in b]


# -- finite-N simulation -------------------------------------------------------------------------------
@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_linear_theory_against_finite_n_samples(rng, temperature):
    """Ridge ERM (T = 0) and exact Gibbs samples of the Gaussian posterior (T = 1) at N = 300, 20 seeds:
    the theory must lie within MONTE_CARLO_SIGMAS standard errors plus a 1/N finite-size allowance."""
    n, alpha, ridge, noise = 300, 1.5, 0.5, 0.3
    p = int(alpha * n)
    errors = []
    for _ in range(20):
        teacher = rng.standard_normal(n)
        teacher *= math.sqrt(n) / np.linalg.norm(teacher)
        x = rng.standard_normal((p, n))
        y = x @ teacher / math.sqrt(n) + noise * rng.standard_normal(p)
        precision = x.T @ x / n + ridge * np.eye(n)
        w = np.linalg.solve(precision, x.T @ y / math.sqrt(n))
        if temperature > 0:
            chol = np.linalg.cholesky(precision)
            w = w + math.sqrt(temperature) * np.linalg.solve(chol.T, rng.standard_normal(n))
        errors.append(0.5 * np.sum((w - teacher) ** 2) / n)
    method = "erm" if temperature == 0 else "gibbs"
    theory = curve(Problem("linear", "none", method, temperature=temperature or 1.0, weight_decay=ridge,
                           noise=noise), [alpha])[0].observables["eps_gen"]
    sem = np.std(errors, ddof=1) / math.sqrt(len(errors))
    assert abs(np.mean(errors) - theory) < MONTE_CARLO_SIGMAS * sem + theory / n


def test_erm_gamma_decay_equals_weight_decay_of_the_unnormalized_block():
    """At T = 0 a `none` student with norm L is a sphere student with gain gamma = L, and the penalties
    (wd/2)|w|^2 = (wd/2) N L^2 and sum_mu zeta gamma^2 = alpha N zeta gamma^2 coincide for wd = 2 alpha zeta:
    the two ERM saddle points must be the same point, reached through different equations."""
    zeta = 0.05
    for alpha in (1.5, 3.0):
        sphere = curve(Problem("relu", "pn_gd", "erm", zeta=zeta, noise=0.5), [alpha])[0].observables
        plain = curve(Problem("relu", "none", "erm", weight_decay=2 * alpha * zeta, noise=0.5), [alpha])[0].observables
        assert sphere["R"] == pytest.approx(plain["R"], rel=1e-7)
        assert sphere["gamma"] == pytest.approx(plain["L"], rel=1e-7)
        assert sphere["beta"] == pytest.approx(plain["beta"], rel=1e-7)
        assert sphere["free_energy"] == pytest.approx(plain["free_energy"], rel=1e-7)


@pytest.mark.slow
def test_relu_erm_theory_against_finite_n_minimisation():
    """relu/none ERM at alpha = 3 (wd = 0.3, noise 0.5): L-BFGS at N = 400 over 8 seeds. Tolerance: the
    seeds' standard error times MONTE_CARLO_SIGMAS plus a finite-size allowance of 5/N relative.

    L-BFGS ends with max|gradient| ~ 1e-3 (per sample) rather than 0: at the minimum an extensive number of
    samples with y < 0 sit exactly on relu's kink (the clamp h* = 0 of the theory's proximal map), where
    only a subgradient vanishes. The test therefore checks near-minimisers; eps_g is flat there."""
    n, alpha, wd, noise, seeds = 400, 3.0, 0.3, 0.5, 8
    problem = Problem("relu", "none", "erm", weight_decay=wd, noise=noise)
    theory = curve(problem, [alpha])[0].observables["eps_gen"]
    rules = problem.rules()
    errors = []
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        teacher = rng.standard_normal(n)
        teacher *= math.sqrt(n) / np.linalg.norm(teacher)
        x = rng.standard_normal((int(alpha * n), n))
        y = np.maximum(x @ teacher / math.sqrt(n), 0.0) + noise * rng.standard_normal(x.shape[0])
        w, _, beta = naive.relu_erm_fit(x, y, "none", 0.0, wd, rng)
        overlap = w @ teacher / (np.linalg.norm(w) * math.sqrt(n))
        errors.append(generalization_error(problem, rules, overlap, np.linalg.norm(w) / math.sqrt(n), beta))
    sem = np.std(errors, ddof=1) / math.sqrt(seeds)
    assert abs(np.mean(errors) - theory) < MONTE_CARLO_SIGMAS * sem + 5.0 / n * theory
