"""The ``dynamics`` driver: ODE and finite-N trajectories of online SGD, and maximal learning rates, to HDF5.

Each trajectory is a curve whose points are the output times (0 and log-spaced times up to t_max) and one task;
a simulation curve stores the mean over seeds with its standard error and the per-seed values of eps_g and R.
Threshold curves hold, per batch size, the maximal learning rate by linear stability and by integration
(:mod:`statmech_bn.dynamics.stability`), one task per batch size; a learning-rate scan is one task per rate (its
reference error is computed once per process and shared), a stationary branch one task per curve (its continuation
is shared by its points).

Seeds derive from the master seed and the physics of the curve or point (:mod:`statmech_bn.seeds`): the curve's
key for trajectories and stationary branches, (activation, normalizer, zeta, M) for a threshold, so a curve gives
the same numbers alone or inside any grid. Trajectories are deterministic given their seeds, so a killed run
resumes by recomputing a curve and appending the missing points.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass

import numpy as np

from ..config.dynamics import SIMULATED, DynamicsConfig, DynamicsCurve
from ..dynamics.ode import integrate_ode, monte_carlo_drift
from ..dynamics.problem import DynamicsProblem, output_times
from ..dynamics.reduced import simulate_reduced
from ..dynamics.simulation import simulate_online
from ..dynamics.stability import INTEGRATION_DEFINITION, LimitKind, maximal_rate, stationary_branch
from ..records import (
    SCAN_SCHEMA,
    SIMULATED_TRAJECTORY_SCHEMA,
    STATIONARY_SCHEMA,
    THRESHOLD_SCHEMA,
    TRAJECTORY_SCHEMA,
)
from ..seeds import derive_seed, physics_key
from ..statistics import mean_and_sem
from . import costs
from .loop import CurvePlan

SIMULATORS = {"sim": simulate_online, "reduced": simulate_reduced}
BRANCH_SEEDS = 4
"""Independent Monte-Carlo batch sets of bn's drift over which a stationary branch or a maximal rate is averaged (its
standard error is the Monte-Carlo error) where the drift is a Monte-Carlo mean (:func:`.ode.monte_carlo_drift`); the
quadrature normalizers and bn's exact drift (relu, 4 <= M <= 12) need one."""
REFERENCE_RATE = 1e-3
"""eta (at L = 1) of the stationary state taken as the eta_eff -> 0 limit: the error pn_gd and bn tend to."""
SCAN_DEFINITION = (
    "noise-free ODE from the config's initial state, no weight decay: t_target = first t with eps_gen <= "
    "reference_eps_gen + target (NaN if not reached by t_max), eta_eff = eta gamma/L^2 there and at t_max; the growth "
    "of L lowers eta_eff by itself. reference_eps_gen: 0 for students that can match the teacher, else (pn_gd, bn) "
    "eps_gen of the frozen-norm stationary state as eta_eff -> 0, the error the free-norm dynamics tends to")
REFERENCE_DEFINITION = ("eps_gen of the stationary state at eta = 1e-3 (pn_gd, bn), else 0; the same at every point "
                        "of the curve")
STATIONARY_DEFINITION = (
    "noise-free stationary state of (R, gamma, beta) at frozen norm L = 1 and learning rate eta (so eta_eff = eta "
    "gamma*), continued in eta from eta_eff -> 0; it is the state the free-norm dynamics passes through at that "
    "eta_eff, and with weight decay wd the fixed point where eta_eff^2 E[d^2]/M = 2 eta wd. abscissa: largest real "
    "part of the Jacobian's eigenvalues (negative: linearly stable); *_sem: Monte-Carlo error over the drift_seeds "
    "(bn with a Monte-Carlo drift: linear, erf, M = 3, M > 12), 0 for quadrature and for bn's exact drift (relu at "
    "4 <= M <= 12: the batch integrated exactly, one drift seed)")
THRESHOLD_DEFINITION = (
    "the largest eta (none) or eta_eff = eta gamma*/L^2 at L = 1 (normalized students) of the noise-free ODE without "
    "weight decay. Students that can reach the teacher (limit_kind 0: none, pn, wn, pn_gd at zeta = 0): the teacher "
    "state stays linearly stable. pn_gd (zeta > 0) and bn: the stationary state continued from eta_eff -> 0 exists "
    "and is linearly stable (1: it loses stability there; 2: the branch ends; 3: no limit below eta_eff = 16 M, "
    "stored as inf). threshold_stability: by the sign of the Jacobian's spectral abscissa, bisected to the relative "
    "tolerance rtol (bn with a Monte-Carlo drift, i.e. linear, erf, M = 3 or M > 12: with the first drift seed, "
    "threshold_stability_sem the standard error over the drift seeds, "
    "NaN when they disagree on whether a limit exists; at M <= 5 bn's Monte-Carlo noise term has infinite variance: "
    "values biased high, branch ends can be spurious; relu bn at 4 <= M <= 12 integrates the batch exactly: "
    "one drift seed, sem 0). The drift seeds of a point are derived from its seed.")
LIMIT_KIND_DESCRIPTION = ", ".join(f"{int(k)}: {k.name.lower().replace('_', ' ')}" for k in LimitKind) + (
    " (0: the teacher state loses stability; 1: the stationary branch does; 2: the branch ends; 3: no limit below "
    "eta_eff = 16 M, stored as inf; 4: no branch could be started)")


def curve_seed(master: int, key: str) -> int:
    return derive_seed(master, key)


def sub_seeds(seed: int, count: int) -> list[int]:
    """The seeds derived from a curve's or point's seed: simulation seeds, drift batch sets."""
    return [derive_seed(seed, "sub", k) for k in range(count)]


def ode_records(curve: DynamicsCurve, times: np.ndarray, seed: int) -> list[dict]:
    tr = integrate_ode(curve.problem, times, seed)
    return [{"t": tr.t[k], "R": tr.overlap[k], "L": tr.norm[k], "gamma": tr.gamma[k], "beta": tr.beta[k],
             "eps_gen": tr.eps_gen[k], "eta_eff": tr.eta_eff[k], "converged": tr.converged}
            for k in range(times.size)]


SEED_FIELDS = ("t", "R", "L", "gamma", "beta", "eps_gen")
"""What one seed of a simulated trajectory contributes to each of its points."""


def seed_points(curve: DynamicsCurve, times: np.ndarray, size: int, seed: int) -> list[dict]:
    """One seed of a simulated trajectory (full or reduced): its values at every output time."""
    run = SIMULATORS[curve.method](curve.problem, size, times, seed)
    return [{field: run[field][i] for field in SEED_FIELDS} for i in range(times.size)]


def merge_seeds(problem: DynamicsProblem, points: list[dict]) -> dict:
    """A simulated trajectory's record at one time from its seeds' values: means and standard errors of eps_g and
    R (R of the sign with gamma >= 0 for the normalized students), the per-seed values, means of |gamma|, L, beta
    and eta_eff (eta |gamma|/L^2, or eta for none); converged when every seed's eps_g is finite."""
    spherical = problem.spherical
    eps = np.array([p["eps_gen"] for p in points])
    overlap = np.array([p["R"] for p in points])
    if spherical:
        overlap = overlap * np.sign(np.array([p["gamma"] for p in points]))
    r_mean, r_sem = mean_and_sem(overlap)
    eps_mean, eps_sem = mean_and_sem(eps)
    return {"t": points[0]["t"], "R": r_mean, "R_sem": r_sem, "L": np.mean([p["L"] for p in points]),
            "gamma": np.mean([abs(p["gamma"]) for p in points]), "beta": np.mean([p["beta"] for p in points]),
            "eps_gen": eps_mean, "eps_gen_sem": eps_sem,
            "eta_eff": np.mean([problem.learning_rate * abs(p["gamma"]) / p["L"] ** 2 if spherical
                                else problem.learning_rate for p in points]),
            "eps_gen_seeds": eps, "R_seeds": overlap, "converged": bool(np.all(np.isfinite(eps)))}


def sim_records(curve: DynamicsCurve, times: np.ndarray, size: int, seeds: list[int]) -> list[dict]:
    """Mean, standard error and per-seed values over the seeds of a simulated trajectory (full or reduced)."""
    runs = [seed_points(curve, times, size, s) for s in seeds]
    return [merge_seeds(curve.problem, [run[i] for run in runs]) for i in range(times.size)]


@functools.lru_cache(maxsize=32)
def reference_error(problem: DynamicsProblem) -> float:
    """eps_g* of the frozen-norm stationary state as eta_eff -> 0 (0 for the students that can match the teacher):
    the error the free-norm noise-free dynamics of pn_gd and bn tends to as L grows. Kept per process: the points of
    a scan are separate tasks and share it (it does not depend on the problem's eta)."""
    if not problem.on_branch:
        return 0.0
    return stationary_branch(problem, [REFERENCE_RATE])[0].eps_gen


def stationary_records(problem: DynamicsProblem, rates, seeds: list[int]) -> list[dict]:
    """The stationary branch at ``rates``, averaged over the drift's Monte-Carlo seeds (bn) with standard errors;
    the abscissa is the largest over seeds and a point is converged only if it is for every seed."""
    branches = [stationary_branch(problem, rates, s) for s in seeds]
    records = []
    for i, eta in enumerate(rates):
        states = [b[i] for b in branches]
        record = {"learning_rate": eta, "abscissa": max(s.abscissa for s in states),
                  "residual": max(s.residual for s in states), "converged": all(s.converged for s in states)}
        for field, attr in (("eta_eff", "eta_eff"), ("R", "overlap"), ("gamma", "gamma"), ("beta", "beta"),
                            ("eps_gen", "eps_gen")):
            record[field], record[field + "_sem"] = mean_and_sem([getattr(s, attr) for s in states], single=0.0)
        records.append(record)
    return records


def scan_record(problem: DynamicsProblem, target: float, t_max: float, reference: float = 0.0) -> dict:
    """Noise-free ODE at one eta: first time eps_g <= reference + target (linear interpolation on 400 log-spaced
    outputs), eta_eff then and at t_max, and the final eps_g and L."""
    times = output_times(t_max, 400, 1e-3)
    tr = integrate_ode(problem, times)
    target = reference + target
    below = np.flatnonzero(tr.eps_gen <= target)
    reached = bool(below.size)
    t_target = eta_at = math.nan
    if reached:
        k = int(below[0])
        t_target = float(times[k])
        if k > 0:
            e0, e1 = tr.eps_gen[k - 1], tr.eps_gen[k]
            t_target = float(times[k - 1] + (times[k] - times[k - 1]) * (e0 - target) / (e0 - e1))
        eta_at = float(np.interp(t_target, times, tr.eta_eff))
    return {"learning_rate": problem.learning_rate, "t_target": t_target, "eta_eff_at_target": eta_at,
            "eta_eff_final": tr.eta_eff[-1], "eps_gen_final": tr.eps_gen[-1], "norm_final": tr.norm[-1],
            "reference_eps_gen": reference, "reached": reached}


def _seed_spread(problem: DynamicsProblem, first: float, seeds: list[int], rtol: float) -> float:
    """Standard error of the maximal rate over bn's drift seeds (std/sqrt(k), 0 for one seed): NaN when the seeds
    disagree on whether it is finite (the Monte-Carlo drift decides, as at M <= 5), 0 when all are inf."""
    if len(seeds) == 1:
        return 0.0
    values = np.array([first, *(maximal_rate(problem, rtol=rtol, seed=s, integrate=False)[0] for s in seeds[1:])])
    finite = np.isfinite(values)
    if finite.all():
        return float(mean_and_sem(values)[1])
    return 0.0 if np.all(np.isinf(values)) else math.nan


@dataclass(frozen=True)
class TrajectoryTask:
    """The ODE trajectory of a curve, or one seed (part ``part``) of a simulated one, from point ``start`` on."""

    curve: DynamicsCurve
    times: np.ndarray
    start: int
    seed: int
    size: int
    part: int = 0

    def run(self, emit) -> None:
        if self.curve.method in SIMULATED:
            points = seed_points(self.curve, self.times, self.size, self.seed)
        else:
            points = ode_records(self.curve, self.times, self.seed)
        for index in range(self.start, len(points)):
            emit(self.curve.name, index, points[index], self.part)


@dataclass(frozen=True)
class ThresholdTask:
    name: str
    index: int
    problem: DynamicsProblem
    seed: int
    rtol: float
    horizon: float

    def run(self, emit) -> None:
        seeds = sub_seeds(self.seed, BRANCH_SEEDS if monte_carlo_drift(self.problem) else 1)
        stable, integrated, kind = maximal_rate(self.problem, rtol=self.rtol, seed=seeds[0], horizon=self.horizon)
        emit(self.name, self.index, {
            "batch_size": self.problem.batch_size, "threshold_stability": stable,
            "threshold_stability_sem": _seed_spread(self.problem, stable, seeds, self.rtol),
            "threshold_integration": integrated, "limit_kind": int(kind), "seed": self.seed})


@dataclass(frozen=True)
class RatesTask:
    """The points ``start`` ... of a curve over the learning rates ``rates`` of one problem (a scan or a branch)."""

    name: str
    problem: DynamicsProblem
    rates: tuple[float, ...]
    start: int


@dataclass(frozen=True)
class ScanTask:
    """One point of a learning-rate scan: the noise-free ODE at ``problem`` (its eta set to the point's rate)."""

    name: str
    index: int
    problem: DynamicsProblem
    target: float = 0.01
    t_max: float = 200.0

    def run(self, emit) -> None:
        reference = reference_error(dataclasses.replace(self.problem, learning_rate=1.0))
        emit(self.name, self.index, scan_record(self.problem, self.target, self.t_max, reference))


@dataclass(frozen=True)
class StationaryTask(RatesTask):
    seeds: tuple[int, ...] = ()

    def run(self, emit) -> None:
        records = stationary_records(self.problem, self.rates, list(self.seeds))
        for index in range(self.start, len(records)):
            emit(self.name, index, records[index])


def threshold_seed(master: int, activation: str, normalizer: str, zeta: float, batch_size: int) -> int:
    return derive_seed(master, physics_key(kind="thresholds", activation=activation, normalizer=normalizer,
                                           zeta=zeta, batch_size=batch_size))


def _trajectory_plan(config: DynamicsConfig, curve: DynamicsCurve) -> CurvePlan:
    p = curve.problem
    seed = curve_seed(config.seed, curve.key)
    attrs = {**curve.attributes(), "curve_seed": seed}
    t_max = float(config.times[-1])
    if curve.method in SIMULATED:
        seeds = tuple(sub_seeds(seed, config.seeds))
        attrs.update({"simulation_size": config.size, "simulation_seeds": np.array(seeds, dtype=np.int64)})
        schema, n_seeds = SIMULATED_TRAJECTORY_SCHEMA, config.seeds
        cost = costs.simulated_trajectory(curve.method, t_max, config.size, config.seeds, p.batch_size)
    else:
        seeds, schema, n_seeds = (), TRAJECTORY_SCHEMA, 0
        cost = costs.ode_trajectory(p.normalizer, t_max, p.batch_size)
    parameters = {"activation": p.activation, "normalizer": p.normalizer, "method": curve.method,
                  "eta": p.learning_rate, "M": p.batch_size}
    if p.penalty:
        parameters["zeta"] = p.penalty
    parameters.update({"wd": p.weight_decay, "noise": p.noise})
    if curve.method in SIMULATED:
        parameters.update({"N": config.size, "seeds": config.seeds})

    if curve.method in SIMULATED:
        def tasks(start, last):
            return [TrajectoryTask(curve, config.times, start, s, config.size, k) for k, s in enumerate(seeds)]

        def merge(index, points):
            return merge_seeds(p, points)

        parts = config.seeds
    else:
        def tasks(start, last):
            return [TrajectoryTask(curve, config.times, start, seed, config.size)]

        merge, parts = None, 1
    return CurvePlan(curve.name, "trajectory", parameters, attrs, schema, config.times.size, tasks,
                     cost / config.times.size, n_seeds, parts, merge)


def _table_parameters(problem: DynamicsProblem, batch_sizes) -> dict:
    out = {"activation": problem.activation, "normalizer": problem.normalizer, "M": batch_sizes}
    if problem.penalty:
        out["zeta"] = problem.penalty
    return out


def plans(config: DynamicsConfig) -> list[CurvePlan]:
    out = [_trajectory_plan(config, curve) for curve in config.curves]
    initial = config.resolved["initial"]
    for act, norm, sizes in config.thresholds:
        name = f"thresholds-{act}-{norm}"
        base = DynamicsProblem(act, norm, 1.0, zeta=config.scan_zeta)
        attrs = {"activation": act, "normalizer": norm, "zeta": base.penalty,
                 "quantity": "eta_eff" if base.spherical else "eta", "rtol": config.rtol, "horizon": config.horizon}

        def tasks(start, last, name=name, base=base, sizes=sizes):
            return [ThresholdTask(name, i, dataclasses.replace(base, batch_size=m),
                                  threshold_seed(config.seed, base.activation, base.normalizer, base.penalty, m),
                                  config.rtol, config.horizon)
                    for i, m in enumerate(sizes) if i >= start]

        out.append(CurvePlan(name, "thresholds", _table_parameters(base, ",".join(map(str, sizes))), attrs,
                             THRESHOLD_SCHEMA, len(sizes), tasks, costs.table_point("thresholds", norm),
                             descriptions={"threshold_stability": THRESHOLD_DEFINITION,
                                           "threshold_integration": INTEGRATION_DEFINITION,
                                           "limit_kind": LIMIT_KIND_DESCRIPTION},
                             sequential=False))
    for act, norm, m in config.scans:
        name = f"eta-scan-{act}-{norm}-M{m}"
        problem = DynamicsProblem(act, norm, 1.0, batch_size=m, zeta=config.scan_zeta,
                                  initial_overlap=initial["overlap"], initial_norm=initial["norm"],
                                  initial_gamma=initial["gamma"], initial_beta=initial["beta"])
        attrs = {"activation": act, "normalizer": norm, "batch_size": m, "zeta": problem.penalty,
                 "target": config.target, "t_max": config.scan_t_max, "noise": 0.0}

        def tasks(start, last, name=name, problem=problem):
            return [ScanTask(name, i, dataclasses.replace(problem, learning_rate=eta), config.target,
                             config.scan_t_max) for i, eta in enumerate(config.eta_scan) if i >= start]

        out.append(CurvePlan(name, "eta_scan", _table_parameters(problem, m), attrs, SCAN_SCHEMA,
                             len(config.eta_scan), tasks, costs.table_point("eta_scan", norm),
                             descriptions={"t_target": SCAN_DEFINITION, "reference_eps_gen": REFERENCE_DEFINITION},
                             sequential=False))
    for act, norm, m in config.stationary:
        name = f"stationary-{act}-{norm}-M{m}"
        problem = DynamicsProblem(act, norm, 1.0, batch_size=m, zeta=config.scan_zeta)
        seed = derive_seed(config.seed, physics_key(kind="stationary", activation=act, normalizer=norm,
                                                    zeta=problem.penalty, batch_size=m))
        seeds = tuple(sub_seeds(seed, BRANCH_SEEDS if monte_carlo_drift(problem) else 1))
        attrs = {"activation": act, "normalizer": norm, "batch_size": m, "zeta": problem.penalty, "noise": 0.0,
                 "curve_seed": seed, "drift_seeds": np.array(seeds, dtype=np.int64)}

        def tasks(start, last, name=name, problem=problem, seeds=seeds):
            return [StationaryTask(name, problem, config.eta_scan, start, seeds)]

        out.append(CurvePlan(name, "stationary", _table_parameters(problem, m), attrs, STATIONARY_SCHEMA,
                             len(config.eta_scan), tasks, costs.table_point("stationary", norm),
                             descriptions={"R": STATIONARY_DEFINITION}))
    return out


__all__ = ["THRESHOLD_DEFINITION", "ode_records", "plans", "reference_error", "scan_record",
           "sim_records", "stationary_records"]
