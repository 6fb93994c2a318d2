"""Sweep driver: grid of curves -> tasks -> local worker processes -> the store (single writer).

A task is one curve from its first missing point on (continuation along alpha makes the points of a
curve sequential; curves are independent and run in parallel). Workers send finished points back through
a queue; only this process writes the file, point by point, under a progress bar.
"""

from __future__ import annotations

import multiprocessing
import queue as queue_module
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from .config import CurveSpec, SweepConfig
from .simulate import SIMULATION_TABLE, SimulationSettings, point_seeds
from .simulate import point_record as simulation_record
from .store import FIELDS, SIMULATION_SCHEMA, SWEEP_SCHEMA, SweepStore
from .theory import METHOD_TABLE, solve_curve
from .theory.solver import SolverSettings


@dataclass(frozen=True)
class CurveTask:
    """Everything a worker needs to continue one curve (picklable)."""

    spec: CurveSpec
    alphas: np.ndarray
    solver: SolverSettings
    start_index: int
    warm_record: dict | None
    simulation: SimulationSettings = SimulationSettings()


def point_record(point) -> dict:
    """Flatten a :class:`~statmech_bn.theory.solver.PointResult` into the store's fields."""
    record = {"alpha": point.alpha, "residual": point.residual, "iterations": point.iterations,
              "converged": point.converged, "branch": point.branch}
    record.update(point.observables)
    missing = set(FIELDS) - set(record)
    if missing:
        raise KeyError(f"a method did not provide {sorted(missing)}")
    return record


def run_curve(task: CurveTask, emit) -> None:
    """Solve ``task`` and call ``emit(name, record)`` for each point, in ascending alpha."""
    if task.spec.is_simulation:
        simulate = SIMULATION_TABLE[task.spec.problem.method]
        settings = task.simulation
        for alpha in task.alphas[task.start_index:]:
            seeds = point_seeds(settings.seed, task.spec.key, float(alpha), settings.seeds)
            outcomes = [simulate(task.spec.problem, float(alpha), settings, seed) for seed in seeds]
            emit(task.spec.name, simulation_record(float(alpha), seeds, outcomes))
        return
    method = METHOD_TABLE[task.spec.problem.method](task.spec.problem)
    warm = None
    if task.warm_record is not None:
        warm = method.state_from_record(task.warm_record)
        if not np.all(np.isfinite(warm)):
            warm = None
    for point in solve_curve(method, task.alphas, task.solver, task.start_index, warm):
        emit(task.spec.name, point_record(point))


def _worker(task: CurveTask, results) -> str:
    run_curve(task, lambda name, record: results.put((name, record)))
    return task.spec.name


def curve_attributes(spec: CurveSpec, config: SweepConfig) -> dict:
    attrs = spec.attributes()
    if spec.is_simulation:
        return {**attrs, **SIMULATION_TABLE[spec.problem.method].attributes(config.simulation)}
    method = METHOD_TABLE[spec.problem.method]
    attrs["free_energy_definition"] = method.free_energy_definition
    attrs["solver_damping"] = config.solver.damping
    attrs["solver_tolerance"] = config.solver.tolerance
    attrs["solver_max_iterations"] = config.solver.max_iterations
    attrs["solver_branches"] = config.solver.branches
    return attrs


def run_sweep(config: SweepConfig, store: SweepStore, progress: bool = True) -> dict[str, int]:
    """Run every unfinished point of ``config`` into ``store``; return points written per curve."""
    tasks = []
    done_before = 0
    for spec in config.curves:
        schema = SIMULATION_SCHEMA if spec.is_simulation else SWEEP_SCHEMA
        n_done, last = store.prepare_curve(spec.name, curve_attributes(spec, config), len(config.alphas), schema,
                                           config.simulation.seeds)
        done_before += n_done
        if n_done < len(config.alphas):
            tasks.append(CurveTask(spec, config.alphas, config.solver, n_done, last, config.simulation))
    total = len(config.alphas) * len(config.curves)
    written = {spec.name: 0 for spec in config.curves}
    bar = tqdm(total=total, initial=done_before, unit="pt", desc="sweep", disable=not progress,
               dynamic_ncols=True)

    def write(name: str, record: dict) -> None:
        store.append(name, record)
        written[name] += 1
        bar.update(1)

    try:
        workers = min(config.workers, len(tasks))
        if workers <= 1:
            for task in tasks:
                run_curve(task, write)
        else:
            _run_parallel(tasks, workers, write)
    finally:
        bar.close()
    return written


def _run_parallel(tasks: list[CurveTask], workers: int, write) -> None:
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        results = manager.Queue()
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = [pool.submit(_worker, task, results) for task in tasks]
            pending = set(futures)
            while pending:
                try:
                    name, record = results.get(timeout=0.2)
                    write(name, record)
                    continue
                except queue_module.Empty:
                    pass
                for future in [f for f in pending if f.done()]:
                    pending.discard(future)
                    future.result()  # re-raise a worker's exception here
            while True:
                try:
                    name, record = results.get_nowait()
                except queue_module.Empty:
                    break
                write(name, record)


def summarize(path: str) -> list[str]:
    """One line per curve of a sweep or decompose file (for ``info``)."""
    from .store import read_curves

    lines = []
    for name, curve in read_curves(path).items():
        head = f"{name}: {curve['attrs']['n_points']}/{curve['attrs']['n_alpha']} points"
        if "t" in curve:
            eps = curve["eps_gen"]
            tail = f", t {curve['t'][-1]:.3g}: eps_gen {eps[-1]:.4g}, R {curve['R'][-1]:.4f}" if eps.size else ""
            lines.append(f"{head} ({curve['attrs']['method']}){tail}")
        elif "t_target" in curve:
            rows = ", ".join(f"eta {e:g}: t {t:.3g}, eta_eff {f:.3g}" for e, t, f in zip(
                curve["learning_rate"], curve["t_target"], curve["eta_eff_final"], strict=True))
            reference = curve["attrs"].get("reference_eps_gen", 0.0)
            above = f"{reference:.4g} + " if reference else ""
            lines.append(f"{head}, time to eps_gen <= {above}{curve['attrs']['target']:g} and final eta_eff: {rows}")
        elif "abscissa" in curve:
            rows = ", ".join(f"eta_eff {f:.3g}: R {r:.4f}, eps {e:.3g}{'' if a < 0 else ' UNSTABLE'}"
                             for f, r, e, a in zip(curve["eta_eff"], curve["R"], curve["eps_gen"], curve["abscissa"],
                                                   strict=True))
            lines.append(f"{head}, noise-free stationary state at frozen norm: {rows}")
        elif "threshold_stability" in curve:
            kinds = curve.get("limit_kind", np.zeros(len(curve["batch_size"]), dtype=int))
            rows = ", ".join(f"M={m}: {a:.4g} / {b:.4g} (kind {k})" for m, a, b, k in zip(
                curve["batch_size"], curve["threshold_stability"], curve["threshold_integration"], kinds,
                strict=True))
            lines.append(f"{head}, max {curve['attrs']['quantity']} (stability / integration): {rows}")
        elif "alpha" in curve:
            n = len(curve["alpha"])
            eps = curve["eps_gen"][curve["converged"]]
            a = curve["alpha"]
            span = f", alpha {a.min():.4g}..{a.max():.4g}" if n else ""
            eps_range = f", eps_gen {eps.min():.4g}..{eps.max():.4g}" if eps.size else ""
            lines.append(f"{head}, {int(np.sum(curve['converged']))} converged{span}{eps_range}")
        else:
            m, ratio = curve["batch_size"], curve["ratio_to_analytic"]
            span = f", M {m.min()}..{m.max()}, MC gap / analytic {ratio[0]:.3f} (M={m[0]}) .. {ratio[-1]:.3f}" \
                if m.size else ""
            lines.append(head + span)
    return lines or ["(no curves)"]


__all__ = ["CurveTask", "run_curve", "run_sweep", "summarize"]
