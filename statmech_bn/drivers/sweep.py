"""The ``sweep`` driver: a grid of curves over the loads alpha, theory and simulations, into one file.

A theory curve is one task (continuation along alpha makes its points sequential; a resumed curve warm-starts
from its last stored converged point). A simulation point (one load, all its seeds) is one task: its seeds derive
from the master seed, the curve's physics and alpha (:func:`statmech_bn.simulate.point_seeds`), so it gives the
same numbers whichever task order, worker or grid computes it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config.sweep import CurveSpec, SweepConfig
from ..records import SIMULATION_SCHEMA, THEORY_SCHEMA
from ..simulate import SIMULATION_TABLE, SimulationSettings, point_seeds
from ..simulate import point_record as simulation_record
from ..theory import METHOD_TABLE, solve_curve
from ..theory.solver import SolverSettings
from . import costs
from .loop import CurvePlan


def point_record(point) -> dict:
    """Flatten a :class:`~statmech_bn.theory.solver.PointResult` into the store's fields."""
    record = {"alpha": point.alpha, "residual": point.residual, "iterations": point.iterations,
              "converged": point.converged, "branch": point.branch}
    record.update(point.observables)
    missing = set(THEORY_SCHEMA.names) - set(record)
    if missing:
        raise KeyError(f"a method did not provide {sorted(missing)}")
    return record


@dataclass(frozen=True)
class TheoryCurveTask:
    """The points of one theory curve from ``start_index`` on, warm-started from ``warm_record`` when resuming."""

    spec: CurveSpec
    alphas: np.ndarray
    solver: SolverSettings
    start_index: int
    warm_record: dict | None

    def run(self, emit) -> None:
        method = METHOD_TABLE[self.spec.problem.method](self.spec.problem)
        warm = None
        if self.warm_record is not None:
            warm = method.state_from_record(self.warm_record)
            if not np.all(np.isfinite(warm)):
                warm = None
        for point in solve_curve(method, self.alphas, self.solver, self.start_index, warm):
            emit(self.spec.name, point.index, point_record(point))


@dataclass(frozen=True)
class SimulationPointTask:
    """Every seed of one load of a simulation curve."""

    spec: CurveSpec
    alpha: float
    index: int
    settings: SimulationSettings

    def run(self, emit) -> None:
        simulate = SIMULATION_TABLE[self.spec.problem.method]
        seeds = point_seeds(self.settings.seed, self.spec.key, self.alpha, self.settings.seeds)
        outcomes = [simulate(self.spec.problem, self.alpha, self.settings, seed) for seed in seeds]
        emit(self.spec.name, self.index, simulation_record(self.alpha, seeds, outcomes))


def curve_attributes(spec: CurveSpec, config: SweepConfig) -> dict:
    attrs = spec.attributes()
    if spec.is_simulation:
        return {**attrs, **SIMULATION_TABLE[spec.problem.method].attributes(config.simulation)}
    attrs["solver_damping"] = config.solver.damping
    attrs["solver_tolerance"] = config.solver.tolerance
    attrs["solver_max_iterations"] = config.solver.max_iterations
    attrs["solver_branches"] = config.solver.branches
    return attrs


def plans(config: SweepConfig) -> list[CurvePlan]:
    out = []
    alphas = config.alphas
    for spec in config.curves:
        p = spec.problem
        if spec.is_simulation:
            def tasks(start, last, spec=spec):
                return [SimulationPointTask(spec, float(alphas[i]), i, config.simulation)
                        for i in range(start, alphas.size)]

            cost = float(np.mean([costs.simulation_point(p.activation, p.method, a, config.simulation)
                                  for a in alphas]))
            extra = {"N": config.simulation.size, "seeds": config.simulation.seeds}
            schema, n_seeds = SIMULATION_SCHEMA, config.simulation.seeds
            descriptions = SIMULATION_TABLE[p.method].descriptions
        else:
            def tasks(start, last, spec=spec):
                return [TheoryCurveTask(spec, alphas, config.solver, start, last)]

            cost = costs.theory_point(p.activation, p.method, p.normalizer, p.noise > 0.0, config.solver.branches)
            extra, schema, n_seeds = {}, THEORY_SCHEMA, 0
            descriptions = {"free_energy": METHOD_TABLE[p.method].free_energy_definition}
        out.append(CurvePlan(spec.name, "simulation" if spec.is_simulation else "theory",
                             {**spec.parameters(), **extra}, curve_attributes(spec, config), schema, alphas.size,
                             tasks, cost, n_seeds, descriptions, sequential=not spec.is_simulation))
    return out


__all__ = ["SimulationPointTask", "TheoryCurveTask", "curve_attributes", "plans", "point_record"]
