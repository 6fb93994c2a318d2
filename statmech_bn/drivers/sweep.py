"""The ``sweep`` driver: a grid of curves over the loads alpha, theory and simulations, into one file.

Tasks: a theory curve is one task per continuation branch (its points are sequential along alpha; a resumed curve's
forward branch warm-starts from its last stored converged point); with ``branches = "both"`` the two branches run in
parallel and the parent keeps, per point, the one :func:`statmech_bn.theory.solver.prefer_backward` chooses. A
simulation point is one task per seed; the parent merges the seeds into the point's record. Every seed derives from
the master seed, the curve's physics and alpha (:func:`statmech_bn.simulate.point_seeds`), so a point gives the same
numbers whichever task order, worker or executor computes it.

A bn erm curve with ``bn_regularizer = "mean_field"`` is solved by the finite-M mean field
(:func:`statmech_bn.theory.bn_finite_m.solve_finite_batch`) instead of a saddle point: one task, one (forward) branch,
each point warm-started from the previous converged point of the curve (or the solver's default start), its batch
seed derived like a simulation's (:func:`mean_field_seed`) and stored (:data:`~statmech_bn.records.MEAN_FIELD_SCHEMA`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..config.sweep import CurveSpec, MeanFieldSettings, SweepConfig
from ..records import MEAN_FIELD_SCHEMA, SIMULATION_SCHEMA, THEORY_SCHEMA, zero_temperature_descriptions
from ..seeds import derive_seed
from ..simulate import SIMULATION_TABLE, SimulationSettings, point_seeds
from ..simulate import point_record as simulation_record
from ..theory import METHOD_TABLE
from ..theory.solver import SolverSettings, backward_branch, diverged, forward_branch, prefer_backward, same_point
from . import costs
from .loop import CurvePlan


def point_record(point) -> dict:
    """Flatten a :class:`~statmech_bn.theory.solver.PointResult` into the store's fields."""
    return _theory_record(point.alpha, point.observables, point.residual, point.iterations, point.converged,
                          point.branch, THEORY_SCHEMA, "a method")


def _theory_record(alpha, observables: dict, residual, iterations, converged, branch, schema, who: str,
                   **extra) -> dict:
    """The store's fields of a theory point, checked to cover ``schema``."""
    record = {"alpha": alpha, "residual": residual, "iterations": iterations, "converged": converged,
              "branch": branch, **observables, "diverged": diverged(observables, converged), **extra}
    missing = set(schema.names) - set(record)
    if missing:
        raise KeyError(f"{who} did not provide {sorted(missing)}")
    return record


@dataclass(frozen=True)
class TheoryBranchTask:
    """One continuation branch of a theory curve: ``forward`` from ``start_index`` on (warm-started from
    ``warm_record`` when resuming), or ``backward`` (every point, those from ``start_index`` on emitted); emits each
    point as part ``part``."""

    spec: CurveSpec
    alphas: np.ndarray
    solver: SolverSettings
    backward: bool
    start_index: int
    warm_record: dict | None
    part: int = 0

    def run(self, emit) -> None:
        method = METHOD_TABLE[self.spec.problem.method](self.spec.problem)
        if self.backward:
            points = (p for p in backward_branch(method, self.alphas, self.solver) if p.index >= self.start_index)
        else:
            warm = None
            if self.warm_record is not None:
                warm = method.state_from_record(self.warm_record)
                if not np.all(np.isfinite(warm)):
                    warm = None
            points = forward_branch(method, self.alphas, self.solver, self.start_index, warm)
        for point in points:
            emit(self.spec.name, point.index, point_record(point), self.part)


def mean_field_seed(master: int, spec: CurveSpec, alpha: float) -> int:
    """The batch seed of one mean-field point: a function of the master seed (``simulation.seed``), the curve's
    physics and alpha only (:mod:`statmech_bn.seeds`)."""
    return derive_seed(master, spec.key, float(alpha))


MEAN_FIELD_NAN = {
    "L": "NaN: bn is scale-invariant (no weight norm)",
    "zeta_in_force": "NaN: the finite-M mean field puts no gamma decay into a saddle point (bn_regularizer mean_field)",
    "penalty_in_force": "NaN: the finite-M mean field has no per-sample penalty; the batch enters through the "
                        "effective loss l_eff (statmech_bn.theory.bn_finite_m)",
}
"""The theory fields a mean-field point has no value for, and what the curve's descriptions say of them."""
MEAN_FIELD_DESCRIPTIONS = {
    **MEAN_FIELD_NAN,
    "eps_gen": "eps_g = E[(g(u) - g(gamma lambda + beta))^2]/2 of the student deployed with population "
               "statistics, label noise excluded (finite-M mean field of real bn)",
    "eps_train": "the batch loss F = E[(y - g(gamma z + beta))^2/2] with z the batch-normalized field, over the "
                 "Monte-Carlo batches at the fixed point, label noise included",
    "q": "1: the mean field is T -> 0 (ERM)",
    "free_energy": "alpha F: the minimised batch loss per input dimension (F is eps_train)",
    "residual": "largest change max|new - old| of (R, chi/chi, gamma, beta) under one undamped step of the mean-field "
                "map at the last iterate (converged: below 1e-6)",
    "iterations": "steps of the damped mean-field iteration (solve_finite_batch)",
    "branch": "0: the mean field runs one forward branch",
}


def mean_field_record(solution, seed: int) -> dict:
    """A :class:`~statmech_bn.theory.bn_finite_m.FiniteBatchSolution` as the store's fields (NaN where it has no
    counterpart, :data:`MEAN_FIELD_NAN`)."""
    observables = {"eps_gen": solution.eps_g, "eps_train": solution.training_loss, "R": solution.R, "q": 1.0,
                   "gamma": solution.gamma, "beta": solution.beta, "chi": solution.chi,
                   "free_energy": solution.alpha * solution.training_loss, **dict.fromkeys(MEAN_FIELD_NAN, math.nan)}
    return _theory_record(solution.alpha, observables, solution.residual, solution.iterations,
                          bool(solution.converged), 0, MEAN_FIELD_SCHEMA, "the mean field", seed=int(seed))


@dataclass(frozen=True)
class MeanFieldCurveTask:
    """Points ``start_index`` on of a bn curve by the finite-M mean field, in order along alpha; each warm-started
    from the previous converged point (from ``warm_record`` for the first, when resuming), else from the solver's
    default start."""

    spec: CurveSpec
    alphas: np.ndarray
    settings: MeanFieldSettings
    master_seed: int
    start_index: int
    warm_record: dict | None

    def run(self, emit) -> None:
        from ..theory.bn_finite_m import solve_finite_batch

        p = self.spec.problem
        warm = None
        if self.warm_record is not None:
            warm = tuple(float(self.warm_record[k]) for k in ("R", "chi", "gamma", "beta"))
        for index in range(self.start_index, self.alphas.size):
            alpha = float(self.alphas[index])
            seed = mean_field_seed(self.master_seed, self.spec, alpha)
            start = {} if warm is None or not all(map(math.isfinite, warm)) else {"start": warm}
            solution = solve_finite_batch(p.batch_size, alpha, p.noise, seed, activation=p.activation,
                                          **self.settings.solver_arguments(), **start)
            if solution.converged:
                warm = (solution.R, solution.chi, solution.gamma, solution.beta)
            emit(self.spec.name, index, mean_field_record(solution, seed))


def choose_branch(index: int, records: list[dict]) -> dict:
    """The merge of a point computed by both branches (parts 0 forward, 1 backward)."""
    forward, backward = records
    if prefer_backward(forward["converged"], forward["free_energy"], backward["converged"], backward["free_energy"],
                       same_point(forward, backward)):
        return backward
    return forward


@dataclass(frozen=True)
class SimulationSeedTask:
    """One seed of one load of a simulation curve; emits its :class:`~statmech_bn.simulate.SeedOutcome` as part
    ``part`` (the seed's position)."""

    spec: CurveSpec
    alpha: float
    index: int
    settings: SimulationSettings
    part: int
    seed: int

    def run(self, emit) -> None:
        outcome = SIMULATION_TABLE[self.spec.problem.method](self.spec.problem, self.alpha, self.settings, self.seed)
        emit(self.spec.name, self.index, outcome, self.part)


def branches_run(spec: CurveSpec, config: SweepConfig) -> str:
    """The continuation branches a theory curve runs: those asked for, but one (forward) where both were asked and
    the saddle point is unique (:attr:`~statmech_bn.model.Block.unique_saddle`), since both would meet."""
    asked = config.solver.branches
    return "forward" if asked == "both" and spec.problem.unique_saddle else asked


def _theory_tasks(spec: CurveSpec, config: SweepConfig):
    alphas, solver = config.alphas, config.solver
    run = branches_run(spec, config)
    branches = ((False, True) if run == "both" else (run == "backward",))

    def tasks(start, last):
        return [TheoryBranchTask(spec, alphas, solver, backward, start, None if backward else last, part)
                for part, backward in enumerate(branches)]

    return tasks, len(branches)


def _simulation_tasks(spec: CurveSpec, config: SweepConfig):
    alphas, settings = config.alphas, config.simulation
    seeds = {i: point_seeds(settings.seed, spec.key, float(alphas[i]), settings.seeds) for i in range(alphas.size)}

    def tasks(start, last):
        return [SimulationSeedTask(spec, float(alphas[i]), i, settings, k, seeds[i][k])
                for i in range(start, alphas.size) for k in range(settings.seeds)]

    def merge(index, outcomes):
        return simulation_record(float(alphas[index]), seeds[index], outcomes)

    return tasks, merge


def curve_attributes(spec: CurveSpec, config: SweepConfig) -> dict:
    attrs = spec.attributes()
    if spec.is_simulation:
        return {**attrs, **SIMULATION_TABLE[spec.problem.method].attributes(config.simulation)}
    if spec.mean_field:
        settings = config.mean_field
        return {**attrs, "solver": "statmech_bn.theory.bn_finite_m.solve_finite_batch", "solver_branches_run":
                "forward", "mean_field_batches": settings.batches, "mean_field_outer_nodes": settings.outer_nodes,
                "mean_field_eta_nodes": settings.eta_nodes, "mean_field_grid": settings.grid,
                "master_seed": config.simulation.seed}
    attrs["solver_damping"] = config.solver.damping
    attrs["solver_tolerance"] = config.solver.tolerance
    attrs["solver_max_iterations"] = config.solver.max_iterations
    attrs["solver_branches"] = config.solver.branches
    attrs["solver_branches_run"] = branches_run(spec, config)
    return attrs


def plans(config: SweepConfig) -> list[CurvePlan]:
    out = []
    alphas = config.alphas
    for spec in config.curves:
        p = spec.problem
        if spec.is_simulation:
            tasks, merge = _simulation_tasks(spec, config)
            parts = config.simulation.seeds
            cost = float(np.mean([costs.simulation_point(p.activation, p.method, a, config.simulation)
                                  for a in alphas]))
            extra = {"N": config.simulation.size, "seeds": config.simulation.seeds}
            schema, n_seeds = SIMULATION_SCHEMA, config.simulation.seeds
            descriptions = SIMULATION_TABLE[p.method].descriptions
        elif spec.mean_field:
            def tasks(start, last, spec=spec):
                return [MeanFieldCurveTask(spec, alphas, config.mean_field, config.simulation.seed, start, last)]

            parts, merge, extra, schema, n_seeds = 1, None, {}, MEAN_FIELD_SCHEMA, 0
            cost = costs.mean_field_point(p.batch_size, config.mean_field)
            descriptions = {**MEAN_FIELD_DESCRIPTIONS,
                            **zero_temperature_descriptions(p.activation, p.noise, MEAN_FIELD_SCHEMA)}
        else:
            tasks, parts = _theory_tasks(spec, config)
            merge = choose_branch if parts == 2 else None
            cost = costs.theory_point(p.activation, p.method, p.normalizer, p.noise > 0.0, branches_run(spec, config))
            extra, schema, n_seeds = {}, THEORY_SCHEMA, 0
            descriptions = {"free_energy": METHOD_TABLE[p.method].free_energy_definition}
            if p.method == "erm":
                descriptions.update(zero_temperature_descriptions(p.activation, p.noise, THEORY_SCHEMA))
        out.append(CurvePlan(spec.name, "simulation" if spec.is_simulation else "theory",
                             {**spec.parameters(), **extra}, curve_attributes(spec, config), schema, alphas.size,
                             tasks, cost, n_seeds, parts, merge, descriptions, sequential=not spec.is_simulation))
    return out


__all__ = ["MeanFieldCurveTask", "SimulationSeedTask", "TheoryBranchTask", "choose_branch", "curve_attributes",
           "mean_field_record", "mean_field_seed", "plans", "point_record"]
