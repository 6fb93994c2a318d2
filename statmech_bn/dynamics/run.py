"""The ``dynamics`` driver: ODE and finite-N trajectories of online SGD, and maximal learning rates, to HDF5.

Each trajectory is a curve whose points are the output times (0 and log-spaced times up to t_max); a
simulation curve stores the mean over seeds with its standard error and the per-seed values of eps_g and R.
Trajectories are deterministic given the config (the ODE's bn Monte Carlo and the simulations use seeds derived
from the master seed and the curve), so a killed run resumes by recomputing a curve and appending the missing
points. Threshold curves hold, per batch size, the maximal learning rate by linear stability and by integration
(:mod:`.stability`).
"""

from __future__ import annotations

import dataclasses
import math
import zlib

import numpy as np
from tqdm import tqdm

from ..store import (
    DYNAMICS_ODE_SCHEMA,
    DYNAMICS_SCAN_SCHEMA,
    DYNAMICS_SIM_SCHEMA,
    DYNAMICS_STATIONARY_SCHEMA,
    DYNAMICS_THRESHOLD_SCHEMA,
    SweepStore,
)
from .ode import integrate_ode, output_times
from .problem import DynamicsProblem
from .reduced import simulate_reduced
from .simulation import simulate_online
from .stability import LIMIT_KINDS, maximal_rate, stationary_branch

DEFINITIONS = {
    "time_definition": "t = SGD steps / N; learning rate eta for w, eta/N for gamma and beta, weight decay "
                       "w <- w (1 - eta wd/N) per step",
    "eta_eff_definition": "eta gamma / L^2 for the normalized students (pn, wn, pn_gd, bn), eta for none",
    "eps_gen_definition": "E[(g(u) - g(gamma lambda + beta))^2]/2 deployed with population statistics, noise excluded",
}


def curve_seed(master: int, name: str) -> int:
    return int(np.random.SeedSequence([master, zlib.crc32(name.encode())]).generate_state(1)[0])


def ode_records(curve, times, seed: int) -> list[dict]:
    tr = integrate_ode(curve.problem, times, seed)
    return [{"t": tr.t[k], "R": tr.overlap[k], "L": tr.norm[k], "gamma": tr.gamma[k], "beta": tr.beta[k],
             "eps_gen": tr.eps_gen[k], "eta_eff": tr.eta_eff[k], "converged": bool(tr.success)}
            for k in range(times.size)], {"ode_message": tr.message, "bn_drift_sem": tr.drift_sem}


SIMULATORS = {"sim": simulate_online, "reduced": simulate_reduced}


def sim_records(curve, times, size: int, seeds: list[int]) -> list[dict]:
    """Mean, standard error and per-seed values over the seeds of a simulated trajectory (full or reduced)."""
    runs = [SIMULATORS[curve.method](curve.problem, size, times, s) for s in seeds]
    eps = np.stack([r["eps_gen"] for r in runs], axis=1)
    overlap = np.stack([r["R"] for r in runs], axis=1)
    spherical = curve.problem.spherical
    overlap = overlap * np.sign(np.stack([r["gamma"] for r in runs], axis=1)) if spherical else overlap
    k = len(seeds)
    records = []
    for i in range(times.size):
        gamma = np.mean([abs(r["gamma"][i]) for r in runs])
        norm = np.mean([r["L"][i] for r in runs])
        finite = bool(np.all(np.isfinite(eps[i])))
        records.append({
            "t": runs[0]["t"][i], "R": overlap[i].mean(), "R_sem": overlap[i].std(ddof=1) / math.sqrt(k),
            "L": norm, "gamma": gamma, "beta": np.mean([r["beta"][i] for r in runs]), "eps_gen": eps[i].mean(),
            "eps_gen_sem": eps[i].std(ddof=1) / math.sqrt(k),
            "eta_eff": np.mean([curve.problem.learning_rate * abs(r["gamma"][i]) / r["L"][i] ** 2 if spherical
                                else curve.problem.learning_rate for r in runs]),
            "eps_gen_seeds": eps[i], "R_seeds": overlap[i], "converged": finite})
    return records


THRESHOLD_DEFINITION = (
    "largest eta (none) or eta_eff = eta gamma*/L^2 at L = 1 (normalized students) of the noise-free ODE without "
    "weight decay. Students that can reach the teacher (limit_kind 0: none, pn, wn, pn_gd at zeta = 0): the teacher "
    "state stays linearly stable. pn_gd (zeta > 0) and bn: the stationary state continued from eta_eff -> 0 exists "
    "and is linearly stable (1: it loses stability there; 2: the branch ends; 3: no limit below eta_eff = 16 M, "
    "stored as inf). threshold_stability: by the sign of the Jacobian's spectral abscissa (bn: with the "
    "first drift seed, threshold_stability_sem the standard error over the drift_seeds, NaN when they disagree on "
    "whether a limit exists; at M <= 5 bn's Monte-Carlo noise term has infinite variance: values biased high, "
    "branch ends can be spurious); threshold_integration: by integration from a perturbed state "
    "(bisection in [0.5, 1.5] x the former, first drift seed; NaN if it does not switch there)")
BRANCH_SEEDS = 4
"""Independent Monte-Carlo batch sets of bn's drift over which a stationary branch is averaged (its standard error
is the Monte-Carlo error of the branch); the quadrature normalizers need one."""
REFERENCE_RATE = 1e-3
"""eta (at L = 1) of the stationary state taken as the eta_eff -> 0 limit: the error pn_gd and bn tend to."""


def drift_seeds(master: int, name: str, normalizer: str) -> tuple[int, list[int]]:
    """(the curve's seed, the seeds of its drift's Monte-Carlo batch sets): BRANCH_SEEDS for bn, whose drift is a
    Monte-Carlo mean, one for the quadrature normalizers."""
    seed = curve_seed(master, name)
    return seed, [curve_seed(seed, str(k)) for k in range(BRANCH_SEEDS if normalizer == "bn" else 1)]


def reference_error(problem: DynamicsProblem) -> float:
    """eps_g* of the frozen-norm stationary state as eta_eff -> 0 (0 for the students that can match the teacher):
    the error the free-norm noise-free dynamics of pn_gd and bn tends to as L grows."""
    if not problem.on_branch:
        return 0.0
    return stationary_branch(problem, [REFERENCE_RATE])[0].eps_gen


def stationary_records(problem: DynamicsProblem, rates, seeds: list[int]) -> list[dict]:
    """The stationary branch at ``rates``, averaged over the drift's Monte-Carlo seeds (bn) with standard errors;
    the abscissa is the largest over seeds and a point is converged only if it is for every seed."""
    branches = [stationary_branch(problem, rates, s) for s in seeds]
    k = len(seeds)
    records = []
    for i, eta in enumerate(rates):
        states = [b[i] for b in branches]
        record = {"learning_rate": eta, "abscissa": max(s.abscissa for s in states),
                  "residual": max(s.residual for s in states), "converged": all(s.converged for s in states)}
        for field, attr in (("eta_eff", "eta_eff"), ("R", "overlap"), ("gamma", "gamma"), ("beta", "beta"),
                            ("eps_gen", "eps_gen")):
            values = np.array([getattr(s, attr) for s in states])
            record[field] = values.mean()
            record[field + "_sem"] = values.std(ddof=1) / math.sqrt(k) if k > 1 else 0.0
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
            "reached": reached}


def run_dynamics(config, store: SweepStore, progress: bool = True) -> None:
    n_times = config.times.size
    total = (len(config.curves) * n_times + sum(len(m) for _, _, m in config.thresholds)
             + (len(config.scans) + len(config.stationary)) * len(config.eta_scan))
    with tqdm(total=total, unit="pt", desc="dynamics", disable=not progress, dynamic_ncols=True) as bar:
        for curve in config.curves:
            seed = curve_seed(config.seed, curve.name)
            attrs = {**curve.attributes(), **DEFINITIONS, "seed": seed}
            if curve.method in SIMULATORS:
                seeds = [curve_seed(seed, str(k)) for k in range(config.seeds)]
                attrs.update({"simulation_size": config.size, "simulation_seeds": np.array(seeds, dtype=np.int64)})
                done, _ = store.prepare_curve(curve.name, attrs, n_times, DYNAMICS_SIM_SCHEMA, config.seeds)
                bar.update(done)
                if done < n_times:
                    for record in sim_records(curve, config.times, config.size, seeds)[done:]:
                        store.append(curve.name, record)
                        bar.update(1)
            else:
                done, _ = store.prepare_curve(curve.name, attrs, n_times, DYNAMICS_ODE_SCHEMA)
                bar.update(done)
                if done < n_times:
                    records, _ = ode_records(curve, config.times, seed)
                    for record in records[done:]:
                        store.append(curve.name, record)
                        bar.update(1)
        for act, norm, sizes in config.thresholds:
            name = f"thresholds-{act}-{norm}"
            zeta = _scan_zeta(config, norm)
            seed, seeds = drift_seeds(config.seed, name, norm)
            attrs = {"kind": "thresholds", "activation": act, "normalizer": norm, "zeta": zeta,
                     "quantity": "eta_eff" if norm != "none" else "eta", "seed": seed,
                     "drift_seeds": np.array(seeds, dtype=np.int64),
                     "limit_kind_codes": ", ".join(f"{code} {text}" for text, code in LIMIT_KINDS.items()),
                     "definition": THRESHOLD_DEFINITION}
            done, _ = store.prepare_curve(name, attrs, len(sizes), DYNAMICS_THRESHOLD_SCHEMA)
            bar.update(done)
            for m in sizes[done:]:
                problem = DynamicsProblem(act, norm, 1.0, batch_size=m, zeta=zeta)
                stable, integrated, kind = maximal_rate(problem, seed=seeds[0])
                store.append(name, {"batch_size": m, "threshold_stability": stable,
                                    "threshold_stability_sem": _seed_spread(problem, stable, seeds),
                                    "threshold_integration": integrated, "limit_kind": kind})
                bar.update(1)
        for act, norm, m in config.scans:
            name = f"eta-scan-{act}-{norm}-M{m}"
            base = config.curves[0].problem
            problem = DynamicsProblem(act, norm, 1.0, batch_size=m, zeta=_scan_zeta(config, norm),
                                      initial_overlap=base.initial_overlap, initial_norm=base.initial_norm,
                                      initial_gamma=base.initial_gamma, initial_beta=base.initial_beta)
            reference = reference_error(problem)
            attrs = {"kind": "eta_scan", "activation": act, "normalizer": norm, "batch_size": m,
                     "zeta": problem.penalty, "target": config.target, "reference_eps_gen": reference,
                     "t_max": config.scan_t_max, "noise": 0.0,
                     "definition": "noise-free ODE from the config's initial state, no weight decay: t_target = first "
                                   "t with eps_gen <= reference_eps_gen + target (NaN if not reached by t_max), "
                                   "eta_eff = eta gamma/L^2 there and at t_max; the growth of L lowers eta_eff by "
                                   "itself. reference_eps_gen: 0 for students that can match the teacher, else (pn_gd, "
                                   "bn) eps_gen of the frozen-norm stationary state as eta_eff -> 0, the error the "
                                   "free-norm dynamics tends to"}
            done, _ = store.prepare_curve(name, attrs, len(config.eta_scan), DYNAMICS_SCAN_SCHEMA)
            bar.update(done)
            for eta in config.eta_scan[done:]:
                at = dataclasses.replace(problem, learning_rate=eta)
                store.append(name, scan_record(at, config.target, config.scan_t_max, reference))
                bar.update(1)
        for act, norm, m in config.stationary:
            name = f"stationary-{act}-{norm}-M{m}"
            problem = DynamicsProblem(act, norm, 1.0, batch_size=m, zeta=_scan_zeta(config, norm))
            seed, seeds = drift_seeds(config.seed, name, norm)
            attrs = {"kind": "stationary", "activation": act, "normalizer": norm, "batch_size": m,
                     "zeta": problem.penalty, "noise": 0.0, "seed": seed,
                     "drift_seeds": np.array(seeds, dtype=np.int64),
                     "definition": "noise-free stationary state of (R, gamma, beta) at frozen norm L = 1 and learning "
                                   "rate eta (so eta_eff = eta gamma*), continued in eta from eta_eff -> 0; it is the "
                                   "state the free-norm dynamics passes through at that eta_eff, and with weight decay "
                                   "wd the fixed point where eta_eff^2 E[d^2]/M = 2 eta wd. abscissa: largest real "
                                   "part of the Jacobian's eigenvalues (negative: linearly stable); *_sem: Monte-Carlo "
                                   "error over the drift_seeds (bn), 0 for quadrature"}
            done, _ = store.prepare_curve(name, attrs, len(config.eta_scan), DYNAMICS_STATIONARY_SCHEMA)
            bar.update(done)
            if done < len(config.eta_scan):
                for record in stationary_records(problem, config.eta_scan, seeds)[done:]:
                    store.append(name, record)
                    bar.update(1)


def _seed_spread(problem: DynamicsProblem, first: float, seeds: list[int]) -> float:
    """Standard error of the maximal rate over bn's drift seeds (std/sqrt(k), 0 for one seed): NaN when the seeds
    disagree on whether it is finite (the Monte-Carlo drift decides, as at M <= 5), 0 when all are inf."""
    if len(seeds) == 1:
        return 0.0
    values = np.array([first, *(maximal_rate(problem, seed=s, integrate=False)[0] for s in seeds[1:])])
    finite = np.isfinite(values)
    if finite.all():
        return float(values.std(ddof=1) / math.sqrt(values.size))
    return 0.0 if np.all(np.isinf(values)) else math.nan


def _scan_zeta(config, normalizer: str) -> float:
    """pn_gd's zeta for the scans and branches: the smallest of the config's (0 for the others)."""
    if normalizer != "pn_gd":
        return 0.0
    return min((c.problem.zeta for c in config.curves if c.problem.normalizer == "pn_gd"), default=0.0)
