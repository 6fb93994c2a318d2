"""sim_sgd's final full-batch phase, bn deployed with training-set statistics, and the finite-size fit (issue #16).

Fast: tiny N. The kernel of the final phase is checked against the batch gradients it is assembled from (themselves
checked against finite differences in tests/test_sgd_kernel.py), the phase against the stationarity it promises,
the training-statistics deployment against its definition, and the 1/N fit against closed forms.
"""

import dataclasses
import math

import numpy as np
import pytest
from tolerances import CLOSED_FORM_RTOL, FINITE_DIFFERENCE_RTOL

from statmech_bn.analysis.extrapolate import extrapolate_files, fit_inverse_size, markdown_table
from statmech_bn.cli import main
from statmech_bn.kernels.sgd import batch_gradient, partitions_objective
from statmech_bn.simulate import SIMULATION_TABLE, SimulationSettings, point_record
from statmech_bn.simulate.common import teacher_data
from statmech_bn.simulate.sgd import partitions_minimize, train_sgd, training_statistics_deployment
from statmech_bn.theory.problem import Problem

PROBLEMS = [Problem("relu", "bn", "sim_sgd", noise=0.5, batch_size=4),
            Problem("erf", "pn_gd", "sim_sgd", zeta=0.1, noise=0.5, batch_size=4),
            Problem("relu", "none", "sim_sgd", weight_decay=0.3, noise=0.5, batch_size=4)]


@pytest.mark.parametrize("problem", PROBLEMS, ids=lambda p: p.normalizer)
def test_partitions_objective_is_the_mean_of_the_batch_gradients(problem):
    rng = np.random.default_rng(1)
    _, x, y = teacher_data(problem, 2.0, 30, rng)
    p, n = x.shape
    w, gamma, beta, m = 1.3 * rng.standard_normal(n), 0.8, 0.2, problem.batch_size
    partitions = np.stack([rng.permutation(p) for _ in range(3)])
    coefficients = np.empty(p)
    value, c_w, d_gamma, d_beta = partitions_objective(
        problem.code, problem.norm.training, x @ w / math.sqrt(n), y, partitions, m, w @ w / n, n, gamma, beta,
        problem.penalty, problem.weight_decay, coefficients, np.empty(m), np.empty(m))
    want, grad = np.zeros(n + 3), np.empty(n)
    for permutation in partitions:
        for b in range(p // m):
            objective, dg, db = batch_gradient(problem.code, problem.norm.training, x, y,
                                               permutation[b * m:(b + 1) * m], w, gamma, beta, problem.penalty,
                                               problem.weight_decay, np.empty(m), np.empty(m), grad)
            want += np.concatenate([[objective, dg, db], grad])
    want /= 3 * (p // m)
    got = np.concatenate([[value, d_gamma, d_beta], coefficients @ x + c_w * w])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-14)


def test_final_phase_reaches_a_minimum_of_the_partition_mean():
    """From the SGD plateau, L-BFGS lowers the mean over the fixed partitions and stops where no direction of
    (w/sqrt(N), gamma, beta) descends: central differences of the objective along the gradient vanish to
    round-off (relu's kinks allow a finite gradient at the minimum, so the test is one-sided descent)."""
    problem = PROBLEMS[0]
    rng = np.random.Generator(np.random.PCG64(5))
    _, x, y = teacher_data(problem, 3.0, 60, rng)
    p, n = x.shape
    w, scalars, _, plateau = train_sgd(problem, x, y, rng, SimulationSettings(size=n))
    partitions = np.stack([rng.permutation(p) for _ in range(8)])
    coefficients, scratch, deltas = np.empty(p), np.empty(4), np.empty(4)

    def objective(w, scalars):
        return partitions_objective(problem.code, problem.norm.training, x @ w / math.sqrt(n), y, partitions, 4,
                                    w @ w / n, n, scalars[0], scalars[1], 0.0, 0.0, coefficients, scratch, deltas)

    before = objective(w, scalars)[0]
    converged, iterations, _ = partitions_minimize(problem, x, y, w, scalars, partitions, 3000)
    after = objective(w, scalars)[0]
    assert plateau and converged and 0 < iterations < 3000 and after < before
    rng_directions = np.random.default_rng(0)
    for _ in range(5):
        direction = rng_directions.standard_normal(n + 2)
        direction /= np.linalg.norm(direction)
        step = 1e-4
        up = objective(w + step * math.sqrt(n) * direction[:n], scalars + step * direction[n:])[0]
        down = objective(w - step * math.sqrt(n) * direction[:n], scalars - step * direction[n:])[0]
        assert min(up, down) > after - FINITE_DIFFERENCE_RTOL * step * after


def test_training_statistics_deployment_is_the_affine_field_of_its_definition():
    rng = np.random.default_rng(3)
    h = 0.3 + 1.7 * rng.standard_normal(50)
    norm, gamma, beta = 1.5, 0.9, -0.2
    gain, shift = training_statistics_deployment(h, norm, gamma, beta)
    mean, spread = h.mean(), h.std(ddof=1)
    np.testing.assert_allclose(gain * h / norm + shift, gamma * (h - mean) / spread + beta, rtol=1e-14)
    # a large training set of the population's statistics (mean 0, std norm) deploys like the population
    big = norm * rng.standard_normal(400_000)
    gain, shift = training_statistics_deployment(big, norm, gamma, beta)
    assert abs(gain - gamma) < 5 * gamma / math.sqrt(2 * big.size) and abs(shift - beta) < 5 * gamma / math.sqrt(
        big.size)


def test_sim_sgd_stores_training_statistics_for_bn_only_and_the_order_parameters_per_seed():
    settings = SimulationSettings(size=60, seeds=2)
    records = {}
    for normalizer in ("bn", "pn"):
        problem = Problem("relu", normalizer, "sim_sgd", noise=0.5, batch_size=4)
        outcomes = [SIMULATION_TABLE["sim_sgd"](problem, 2.0, settings, seed) for seed in (1, 2)]
        records[normalizer] = point_record(2.0, [1, 2], outcomes)
        np.testing.assert_array_equal(records[normalizer]["R_seeds"], [o.overlap for o in outcomes])
        np.testing.assert_array_equal(records[normalizer]["gamma_seeds"], [o.gamma for o in outcomes])
    bn, pn = records["bn"], records["pn"]
    assert np.all(np.isfinite(bn["eps_gen_train_stats_seeds"])) and bn["gamma_train_stats"] > 0
    assert np.all(np.isnan(pn["eps_gen_train_stats_seeds"])) and math.isnan(pn["gamma_train_stats"])
    # without the final phase the seed stops at the SGD plateau, a different student
    plateau = SIMULATION_TABLE["sim_sgd"](Problem("relu", "bn", "sim_sgd", noise=0.5, batch_size=4), 2.0,
                                          dataclasses.replace(settings, final_partitions=0), 1)
    assert plateau.eps_gen != bn["eps_gen_seeds"][0]


def test_inverse_size_fit_recovers_a_line_and_its_two_point_error():
    sizes = np.array([500.0, 1000.0, 2000.0, 4000.0])
    fit = fit_inverse_size(sizes, 0.1 + 3.0 / sizes, np.full(4, 1e-3))
    assert fit.value == pytest.approx(0.1, rel=CLOSED_FORM_RTOL) and fit.slope == pytest.approx(3.0, rel=1e-6)
    assert fit.chi2 == pytest.approx(0.0, abs=1e-12) and fit.dof == 2
    # two sizes, equal errors s: value = (N2 q2 - N1 q1)/(N2 - N1), variance (N1^2 + N2^2) s^2/(N2 - N1)^2
    two = fit_inverse_size([1000.0, 3000.0], [0.2, 0.15], [0.01, 0.01])
    assert two.value == pytest.approx((3000 * 0.15 - 1000 * 0.2) / 2000, rel=1e-12)
    assert two.value_sem == pytest.approx(0.01 * math.sqrt(1000**2 + 3000**2) / 2000, rel=1e-12)
    assert math.isnan(two.chi2) and two.dof == 0
    with pytest.raises(ValueError):
        fit_inverse_size([1000.0], [0.2], [0.01])


def test_extrapolation_of_stored_sweeps_pools_seeds_and_writes_the_table(tmp_path):
    common = ["sweep", "--activation", "relu", "--normalizer", "bn", "--method", "sim_sgd", "--noise", "0.5",
              "--batch-size", "4", "--alpha", "2,3", "--quiet", "--workers", "1"]
    paths = []
    for size, seeds, seed in ((40, 3, 1), (80, 2, 2), (80, 2, 3)):
        path = str(tmp_path / f"n{size}-{seed}.h5")
        assert main([*common, "--size", str(size), "--seeds", str(seeds), "--seed", str(seed), "-o", path]) == 0
        paths.append(path)
    results = extrapolate_files(paths)
    assert len(results) == 2
    entry = next(iter(results.values()))
    assert entry["sizes"] == [40, 80]
    means, sems, seeds, fit = entry["eps_gen"]
    assert seeds == [3, 4]  # the two files at N = 80 pool their seeds
    assert fit.value == pytest.approx((80 * means[1] - 40 * means[0]) / 40, rel=1e-9)
    for quantity in ("R", "gamma", "eps_gen_train_stats"):
        assert entry[quantity][3] is not None
    table = markdown_table(results)
    assert table.count("| 000-relu-bn-sim_sgd | 2 |") == 4  # the main row and three rows of raw means


@pytest.mark.parametrize("outcomes, draws, converged", [
    ([(True, 10, 5.0), (True, 10, 0.01)], 2, True),      # a stop at a cusp, then a minimum on fresh partitions
    ([(False, 10, 600.0)] * 9, 4, False),               # never: FINAL_ATTEMPTS draws, then flagged
    ([(True, 3000, 5.0)], 1, False),                    # the iteration budget is spent by the first draw
])
def test_final_phase_redraws_the_partitions_after_a_cusp(monkeypatch, outcomes, draws, converged):
    from statmech_bn.simulate import sgd

    calls = []

    def fake_minimize(problem, x, y, w, scalars, partitions, budget):
        calls.append((partitions.copy(), budget))
        return outcomes[len(calls) - 1]

    monkeypatch.setattr(sgd, "partitions_minimize", fake_minimize)
    problem = PROBLEMS[0]
    rng = np.random.default_rng(0)
    _, x, y = teacher_data(problem, 2.0, 20, rng)
    settings = SimulationSettings(size=20, final_partitions=3, final_iterations=3000)
    assert sgd.final_phase(problem, x, y, np.ones(20), np.array([1.0, 0.0]), rng, settings) is converged
    assert len(calls) == draws == min(draws, sgd.FINAL_ATTEMPTS)
    assert [budget for _, budget in calls] == [3000 - 10 * k for k in range(draws)]
    assert all(partitions.shape == (3, x.shape[0]) for partitions, _ in calls)
    assert draws == 1 or not np.array_equal(calls[0][0], calls[1][0])


def test_a_rerun_of_one_curve_with_more_seeds_pools_by_physics_and_counts_each_seed_once(tmp_path):
    """A file of one curve (named "000-relu-bn-sim_sgd", not "001-...-M8") at N = 80 with 3 seeds of master seed 2
    joins the curve of the two-curve files: seeds 1 and 2 of that master are already pooled (the same derived seeds,
    the same values), so only the third is added."""
    common = ["sweep", "--activation", "relu", "--normalizer", "bn", "--method", "sim_sgd", "--noise", "0.5",
              "--alpha", "2", "--quiet", "--workers", "1"]
    paths = []
    for size, seeds, batch in ((40, 2, "4,8"), (80, 2, "4,8"), (80, 3, "8")):
        path = str(tmp_path / f"n{size}-{seeds}.h5")
        assert main([*common, "--batch-size", batch, "--size", str(size), "--seeds", str(seeds), "--seed", "2",
                     "-o", path]) == 0
        paths.append(path)
    alone = extrapolate_files(paths[2:])
    results = extrapolate_files(paths)
    assert set(results) == {("000-relu-bn-sim_sgd-M4", 2.0), ("001-relu-bn-sim_sgd-M8", 2.0)}
    means, sems, seeds, _ = results[("001-relu-bn-sim_sgd-M8", 2.0)]["eps_gen"]
    assert seeds == [2, 3]
    assert means[1] == pytest.approx(alone[("000-relu-bn-sim_sgd", 2.0)]["eps_gen"][0][0], rel=1e-14)
    assert results[("000-relu-bn-sim_sgd-M4", 2.0)]["eps_gen"][2] == [2, 2]


def test_a_file_without_the_theory_only_attribute_joins_by_physics(tmp_path):
    """bn's regularizer does not enter a simulation (THEORY_ONLY): two-curve files whose sim_sgd curves lack the
    attribute (as data/sgd_extrapolation/ files written before it was stored do) pool their seeds with a newer rerun of
    one curve that has it; and curves of the same name but different physics (noise) stay apart."""
    import h5py

    common = ["sweep", "--activation", "relu", "--normalizer", "bn", "--method", "sim_sgd", "--alpha", "2", "--quiet",
              "--workers", "1", "--seeds", "2"]
    paths = []
    for size, seed, batch, noise in ((40, 1, "4,8", "0.5"), (80, 2, "4,8", "0.5"), (80, 3, "8", "0.5"),
                                     (40, 4, "8", "0.3"), (80, 4, "8", "0.3")):
        path = str(tmp_path / f"n{size}-{seed}-{noise}.h5")
        assert main([*common, "--batch-size", batch, "--noise", noise, "--size", str(size), "--seed", str(seed),
                     "-o", path]) == 0
        paths.append(path)
    for path in paths[:2]:
        with h5py.File(path, "r+") as handle:
            for curve in handle["curves"].values():
                assert curve.attrs["bn_regularizer"] == "gamma_decay"
                del curve.attrs["bn_regularizer"]
    results = extrapolate_files(paths)
    assert results[("001-relu-bn-sim_sgd-M8", 2.0)]["eps_gen"][2] == [2, 4]
    assert results[("000-relu-bn-sim_sgd-M4", 2.0)]["eps_gen"][2] == [2, 2]
    (other,) = [key for key in results if key[0].startswith("000-relu-bn-sim_sgd") and not key[0].endswith("M4")]
    assert results[other]["eps_gen"][2] == [2, 2]  # noise 0.3, named "000-relu-bn-sim_sgd" in its files
