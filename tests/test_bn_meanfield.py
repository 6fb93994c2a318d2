"""The mean-field theory of real bn (statmech_bn/theory/bn_meanfield.py): its exact proximal map against brute force,
its breakpoints against the map itself, and its M = infinity limit against pn ERM (theory/erm.py)."""

import dataclasses
import json
import math
from pathlib import Path

import naive
import numpy as np
import pytest
from scipy import special
from scipy.interpolate import CubicSpline
from tolerances import (
    BN_FINITE_M_LARGE_M_ATOL,
    BN_FINITE_M_LARGE_M_CHI_ATOL,
    BN_MEANFIELD_INFINITE_ATOL,
    FINITE_M_RESEARCH_TABLE_ATOL,
    FINITE_M_SGD_RTOL,
    FINITE_M_SGD_SIGMAS,
    L_EFF_BRUTE_ATOL,
    LABEL_RULE_MOMENT_ATOL,
    PROX_BRUTE_ATOL,
)

from statmech_bn.analysis.extrapolate import extrapolate_files
from statmech_bn.theory import METHOD_TABLE, Problem, SolverSettings, solve_curve
from statmech_bn.theory.bn_finite_m import (
    effective_loss,
    effective_loss_tables,
    finite_batch_rule,
    proximal_fields,
    solve_finite_batch,
)
from statmech_bn.theory.bn_meanfield import (
    EffectiveLoss,
    label_rule,
    proximal_breakpoints,
    proximal_map,
    solve_infinite_batch,
)

LOSSES = [EffectiveLoss(1.3, -0.2), EffectiveLoss(0.7, 0.4, e1=0.05, e2=-0.1), EffectiveLoss(2.0, 0.1, e1=-0.2, e2=0.3)]


def _objective(omega, y, chi, loss):
    def f(h):
        z = loss.gain * h + loss.shift
        return ((h - omega) ** 2 / (2 * chi) + 0.5 * (y - max(z, 0.0)) ** 2 + loss.e1 * h + 0.5 * loss.e2 * h * h)
    return f


@pytest.mark.parametrize("loss", LOSSES)
def test_proximal_map_is_the_global_minimiser(loss):
    rng = np.random.default_rng(3)
    for _ in range(40):
        omega, y, chi = rng.normal(0, 2), rng.normal(0.3, 1), rng.uniform(0.2, 3)
        got = float(proximal_map(np.array(omega), np.array(y), chi, loss))
        want = naive.prox_brute(_objective(omega, y, chi, loss), -30, 30)
        f = _objective(omega, y, chi, loss)
        if abs(f(got) - f(want)) < 1e-10 and abs(got - want) > PROX_BRUTE_ATOL:
            continue  # a tie between the two pieces' minima: both are global minimisers
        assert got == pytest.approx(want, abs=PROX_BRUTE_ATOL)


@pytest.mark.parametrize("loss", LOSSES)
def test_proximal_map_is_affine_between_breakpoints(loss):
    """The eta quadrature is exact only if h*(omega) is affine between consecutive breakpoints: check the
    midpoint of three interior points of every interval, for labels of both signs (jump and clamp)."""
    chi = 0.8
    y = np.array([-1.5, -0.3, 0.2, 1.0, 2.5])
    points = proximal_breakpoints(y, chi, loss)
    for i, yy in enumerate(y):
        cuts = np.sort(points[i][np.isfinite(points[i])])
        edges = np.concatenate([[-20.0], cuts, [20.0]]) if cuts.size == 0 else np.concatenate(
            [[cuts[0] - 20.0], cuts, [cuts[-1] + 20.0]])
        for lo, hi in zip(edges[:-1], edges[1:], strict=True):
            if hi - lo < 1e-9:
                continue
            t = lo + (hi - lo) * np.array([0.1, 0.5, 0.9])
            h = proximal_map(t, np.full(3, yy), chi, loss)
            assert h[1] == pytest.approx(0.5 * (h[0] + h[2]), abs=1e-12)


def _pn_erm_alpha5(activation):
    """pn ERM at alpha = 5, noise 0.5 (theory/erm.py): the observables."""
    problem = Problem(activation, "pn", "erm", noise=0.5)
    method = METHOD_TABLE["erm"](problem)
    (point,) = list(solve_curve(method, np.array([5.0]), SolverSettings(branches="forward", tolerance=1e-11)))
    assert point.converged
    return point.observables


@pytest.fixture(scope="module")
def pn_erm_alpha5():
    """relu pn ERM at alpha = 5, noise 0.5: the observables."""
    return _pn_erm_alpha5("relu")


def test_infinite_batch_limit_equals_pn_erm(pn_erm_alpha5):
    """M -> infinity: batch statistics are the training set's, and the stationarity in (gamma, beta) makes the
    batch forces vanish, so the theory is pn ERM with gain = gamma/s_T and shift = beta - gamma m_T/s_T."""
    ref = pn_erm_alpha5
    sol = solve_infinite_batch(5.0, 0.5)
    assert sol.converged and sol.residual < 1e-12
    got = np.array([sol.state[0], sol.state[1], sol.gain, sol.shift, sol.training_loss])
    want = np.array([ref["R"], ref["chi"], ref["gamma"], ref["beta"], ref["eps_train"]])
    np.testing.assert_allclose(got, want, rtol=0, atol=BN_MEANFIELD_INFINITE_ATOL)
    assert abs(sol.state[6]) < 1e-12 and abs(sol.state[7]) < 1e-12  # F_m = F_s = 0 at the solution


def _small_rule_and_tables(seed=3, activation="relu"):
    rule = finite_batch_rule(4, 0.5, seed, n_outer=4, n_eta=4, n_batches=200, n_grid=41, h_max=4.0,
                             activation=activation)
    h = np.random.default_rng(seed).normal(0.1, 0.9, rule.weight.size)
    return rule, h, effective_loss_tables(rule, h, 0.8, 0.2)


NUMPY_ACTIVATIONS = {"relu": naive.relu, "linear": lambda x: x, "erf": lambda x: special.erf(x / math.sqrt(2.0))}


@pytest.mark.parametrize(("activation", "second_moment"), [("relu", 0.5), ("linear", 1.0), ("erf", 1.0 / 3.0)])
def test_label_rule_moments(activation, second_moment):
    """E[y] and E[y^2] of y = g(u) + 0.5 xi by the label rule against closed forms: E[g(u)^2] = 1/2 (relu), 1
    (linear), (2/pi) arcsin(1/2) = 1/3 (erf; Williams 1997), E[g(u)] = 1/sqrt(2 pi) (relu), 0 (odd g)."""
    u, xi, y, w = label_rule(0.5, 24, activation)
    np.testing.assert_allclose(y, NUMPY_ACTIVATIONS[activation](u) + 0.5 * xi, rtol=0, atol=1e-15)
    mean = 1.0 / math.sqrt(2.0 * math.pi) if activation == "relu" else 0.0
    got = [w.sum(), w @ y, w @ (y * y)]
    np.testing.assert_allclose(got, [1.0, mean, second_moment + 0.25], rtol=0, atol=LABEL_RULE_MOMENT_ATOL)


@pytest.mark.parametrize("activation", NUMPY_ACTIVATIONS)
def test_finite_m_effective_loss_is_the_mean_over_explicit_batches(activation):
    rule, h, tables = _small_rule_and_tables(activation=activation)
    mates = rule.batches[:, 1:]
    teacher = NUMPY_ACTIVATIONS[activation]
    for k in (0, 7, 20, 33, 40):
        for y in (-1.0, 0.3, 2.0):
            got = float(effective_loss(tables, rule.grid, rule.grid[k], y))
            want = naive.bn_effective_loss(rule.grid[k], y, h[mates], rule.y[mates], 0.8, 0.2, g=teacher)
            assert got == pytest.approx(want, abs=L_EFF_BRUTE_ATOL)


def test_finite_m_proximal_map_is_the_global_minimiser():
    """The Newton-refined grid minima of the kernel against brute force on the same spline l_eff (SciPy's
    CubicSpline evaluated independently of the kernel's spline evaluation; the y^2/2 constant dropped)."""
    rule, _, (a1, a2, mates) = _small_rule_and_tables()
    own, cost = CubicSpline(rule.grid, a1), CubicSpline(rule.grid, 0.5 * a2 + mates)
    rng = np.random.default_rng(5)
    picks = rng.choice(rule.y.size, 12, replace=False)
    omega, chi = rng.uniform(-3.0, 3.0, 12), 0.7
    sub = dataclasses.replace(rule, y=rule.y[picks])
    got = proximal_fields(sub, omega, chi, (a1, a2, mates))
    for i in range(12):
        def objective(x, i=i):
            return (x - omega[i]) ** 2 / (2 * chi) + float(cost(x)) - sub.y[i] * float(own(x))
        want = naive.prox_brute(objective, -4.0, 4.0, points=2001)
        if abs(objective(got[i]) - objective(want)) < 1e-10 and abs(got[i] - want) > PROX_BRUTE_ATOL:
            continue  # two tied minima: both are global minimisers
        assert got[i] == pytest.approx(want, abs=PROX_BRUTE_ATOL)


@pytest.mark.parametrize("activation", ["relu", "linear", "erf"])
def test_finite_m_approaches_pn_erm_at_large_batch_size(activation):
    """At M = 256 the finite-M theory is within its O(1/M) term (plus batch noise and coarse quadrature) of the
    M = infinity limit, pn ERM in (R, chi, gain = gamma/s_T, shift = beta - gamma m_T/s_T, training loss), and the
    gap in (R, gain, shift, training loss) is at most half that at M = 64 (measured ratio 4.8-10 over seeds 1-3 for
    relu, 0.43 linear, 0.44 erf). For linear the limit is ordinary least squares: eps_g = sigma^2/(2 (alpha - 1)),
    training loss sigma^2 (1 - 1/alpha)/2 (checked here too)."""
    ref = _pn_erm_alpha5(activation)
    if activation == "linear":
        assert ref["eps_gen"] == pytest.approx(0.25 / 8.0, abs=1e-9)
        assert ref["eps_train"] == pytest.approx(0.25 * 0.8 / 2.0, abs=1e-9)
    want = np.array([ref["R"], ref["gamma"], ref["beta"], ref["eps_train"]])
    gaps = {}
    for batch_size in (64, 256):
        sol = solve_finite_batch(batch_size, 5.0, 0.5, seed=1, activation=activation, n_outer=8, n_eta=16,
                                 n_batches=64_000 // batch_size, tol=1e-5)
        assert sol.converged and sol.seed == 1 and sol.batch_size == batch_size
        gain = sol.gamma / sol.h_std
        got = np.array([sol.R, gain, sol.beta - gain * sol.h_mean, sol.training_loss])
        gaps[batch_size] = np.max(np.abs(got - want))
    np.testing.assert_allclose(got, want, rtol=0, atol=BN_FINITE_M_LARGE_M_ATOL)
    assert sol.chi == pytest.approx(ref["chi"], abs=BN_FINITE_M_LARGE_M_CHI_ATOL)
    assert gaps[256] <= 0.5 * gaps[64]


def _sgd_extrapolations():
    paths = sorted(str(p) for p in (Path(__file__).resolve().parents[1] / "data" / "sgd_extrapolation").glob("*.h5"))
    return extrapolate_files(paths)


@pytest.mark.slow
def test_finite_m_theory_matches_sgd_extrapolations():
    """eps_g, gamma and R of the finite-M theory (production settings: 24/64 nodes, 20,000 batches; mean of batch
    seeds 1 and 2) against sim_sgd extrapolated N -> infinity (N = 500-4000) at M = 4, alpha 3 and 8, and M = 16,
    alpha 8; batch seed 1 at M = 4, alpha 3 also against the research script's stored result."""
    sgd = _sgd_extrapolations()
    stored = {(row["M"], row["alpha"]): row for row in (
        json.loads(line.split("RESULT", 1)[1].split(" cpu")[0]) for line in
        (Path(__file__).resolve().parents[1] / "docs" / "bn_meanfield" / "table_seed1.jsonl").read_text().splitlines()
        if line.startswith("RESULT"))}
    for batch_size, alpha in ((4, 3.0), (4, 8.0), (16, 8.0)):
        runs = [solve_finite_batch(batch_size, alpha, 0.5, seed=seed) for seed in (1, 2)]
        assert all(run.converged for run in runs)
        if (batch_size, alpha) == (4, 3.0):
            row = stored[(4.0, 3.0)]
            got = [runs[0].R, runs[0].chi, runs[0].gamma, runs[0].beta, runs[0].eps_g]
            np.testing.assert_allclose(got, [row[k] for k in ("R", "chi", "gamma", "beta", "eps_g")], rtol=0,
                                       atol=FINITE_M_RESEARCH_TABLE_ATOL)
        (entry,) = [v for (curve, a), v in sgd.items() if curve.endswith(f"-M{batch_size}") and a == alpha]
        for ours, theirs in (("eps_g", "eps_gen"), ("gamma", "gamma"), ("R", "R")):
            values = [getattr(run, ours) for run in runs]
            theory, theory_sem = 0.5 * (values[0] + values[1]), 0.5 * abs(values[0] - values[1])
            fit = entry[theirs][3]
            bound = max(FINITE_M_SGD_RTOL * abs(fit.value), FINITE_M_SGD_SIGMAS * math.hypot(fit.value_sem, theory_sem))
            assert abs(theory - fit.value) <= bound, (batch_size, alpha, ours, theory, fit.value, fit.value_sem)


@pytest.mark.slow
@pytest.mark.parametrize(("activation", "batch_size", "alpha"), [("linear", 4, 3.0), ("linear", 64, 3.0),
                                                                  ("linear", 16, 5.0), ("erf", 4, 5.0),
                                                                  ("erf", 4, 8.0), ("erf", 16, 3.0),
                                                                  ("erf", 64, 3.0)])
def test_finite_m_theory_matches_sgd_for_linear_and_erf(activation, batch_size, alpha):
    """As the relu test above, for linear and erf (data/sgd_extrapolation_linear_erf: sim_sgd at N = 500, 1000,
    2000 and 4000, extrapolated in 1/N). linear at M = 64, alpha = 3 is where relu's mean field fails (replica
    symmetry, issue #16 cause 2) and linear's does not: its M -> infinity limit is least squares, convex in the
    variable gamma w. linear M = 16, alpha = 5 and erf M = 4, alpha = 8 were 7.3 % and -5.4 % off while N = 2000
    had 2 seeds (whose standard errors were far too small); with 6 (sgd_n2000_a2358_seeds6.h5) they agree, as does
    erf at M = 64, alpha = 3 (+12 % with 2 seeds), although erf's M -> infinity limit, pn ERM, has no finite RS saddle
    point at alpha <= 3: at M = 64 the mean field's finite-batch terms keep alpha = 3 finite and right, not alpha = 2
    (+7.1 % with 6 seeds at N = 4000, +12.9 % without N = 4000)."""
    paths = sorted(str(p) for p in (Path(__file__).resolve().parents[1] / "data" /
                                    "sgd_extrapolation_linear_erf").glob("*.h5"))
    sgd = extrapolate_files(paths)
    (entry,) = [v for (curve, a), v in sgd.items()
                if curve.endswith(f"-{activation}-bn-sim_sgd-M{batch_size}") and a == alpha]
    runs = [solve_finite_batch(batch_size, alpha, 0.5, seed=seed, activation=activation) for seed in (1, 2)]
    assert all(run.converged for run in runs)
    for ours, theirs in (("eps_g", "eps_gen"), ("gamma", "gamma"), ("R", "R")):
        values = [getattr(run, ours) for run in runs]
        theory, theory_sem = 0.5 * (values[0] + values[1]), 0.5 * abs(values[0] - values[1])
        fit = entry[theirs][-1]
        bound = max(FINITE_M_SGD_RTOL * abs(fit.value), FINITE_M_SGD_SIGMAS * math.hypot(fit.value_sem, theory_sem))
        assert abs(theory - fit.value) <= bound, (activation, batch_size, alpha, ours, theory, fit.value,
                                                  fit.value_sem)
