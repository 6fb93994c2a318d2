"""``dynamics``: online-SGD learning dynamics, ODE and finite-N trajectories, and maximal learning rates.

A grid of online-SGD problems x methods, each a trajectory over the output times; and per activation and
normalizer the tables of maximal learning rates, learning-rate scans and stationary branches. Without a config
file and without any key of ``[model]``, ``[initial]`` or ``[time]`` the embedded showcase
(``statmech_bn/default_dynamics.toml``) runs; otherwise every key not given takes its default in :data:`SCHEMA`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..errors import UserInputError
from ..model import DIFFERENTIABLE, NORMALIZERS, Penalty
from . import common
from .common import PhysicsKeyed, RunConfig, check_limit
from .schema import Key, Schema, get, merge_overrides

DYNAMICS_METHODS = ("ode", "sim", "reduced")
"""ode: N -> infinity; sim: full weight vectors at N; reduced: the exact reduced simulation at N."""
SIMULATED = ("sim", "reduced")
SIM_MEMORY_VECTORS = 8
"""Vectors of length N a full simulation holds (teacher, student, gradient, buffers), besides its 8 MB input chunk."""

SCHEMA = Schema(
    "dynamics",
    "online-SGD learning dynamics: order-parameter ODEs (N -> infinity), finite-N simulations, maximal learning "
    "rates",
    {
        "": "the output file",
        "run": common.RUN_SECTION,
        "model": "the grid of online-SGD problems: every combination of the lists below is one trajectory",
        "initial": "the state every trajectory starts from",
        "time": "the output times t = steps/N: 0 and `points` log-spaced times from t_min to t_max",
        "simulation": "finite-N simulations (methods sim and reduced)",
        "thresholds": "maximal learning rates, learning-rate scans and stationary branches per activation, "
                      "normalizer and batch size",
        "limits": common.LIMITS_SECTION,
    },
    [
        common.output_key("statmech_bn_dynamics.h5"),
        common.workers_key(),
        *common.executor_keys(),
        Key("model.activation", str, ["relu"], "activation g of teacher and student", many=True,
            choices=DIFFERENTIABLE, flag="--activation"),
        Key("model.normalizer", str, ["pn"], "student normalizer", many=True, choices=tuple(NORMALIZERS),
            flag="--normalizer"),
        Key("model.method", str, ["ode"], "ode (N -> infinity), sim (full weight vectors at N) or reduced (exact "
            "in law, O(M^2) per step for any N)", many=True, choices=DYNAMICS_METHODS, flag="--method"),
        Key("model.learning_rate", float, [0.5], "learning rate eta of w (gamma and beta step by eta/N)", many=True,
            low=0.0, low_open=True, flag="--learning-rate"),
        Key("model.batch_size", int, [1], "batch size M of every step (bn: M >= 3)", many=True, low=1,
            high=1_000_000, flag="--batch-size"),
        Key("model.zeta", float, [0.0], "gamma-decay strength zeta of pn_gd", many=True, low=0.0, flag="--zeta"),
        Key("model.weight_decay", float, [0.0], "weight decay on w, w <- w (1 - eta wd/N) per step (every "
            "normalizer)", many=True, low=0.0, flag="--weight-decay"),
        Key("model.noise", float, [0.0], "teacher label-noise standard deviation sigma", many=True, low=0.0,
            flag="--noise"),
        Key("initial.overlap", float, 0.0, "teacher-student overlap R at t = 0", low=-1.0, high=1.0, low_open=True,
            high_open=True),
        Key("initial.norm", float, 1.0, "weight norm L = |w|/sqrt(N) at t = 0", low=0.0, low_open=True),
        Key("initial.gamma", float, 1.0, "gain gamma at t = 0 (none: its gain is L)"),
        Key("initial.beta", float, 0.0, "shift beta at t = 0"),
        Key("time.t_max", float, 20.0, "last output time", unit="t = steps/N", low=0.0, low_open=True,
            flag="--t-max"),
        Key("time.points", int, 30, "log-spaced output times after t = 0", low=1),
        Key("time.t_min", float, 0.01, "first output time after t = 0", unit="t = steps/N", low=0.0, low_open=True),
        Key("simulation.size", int, 1000, "width N of the simulated block", low=10, flag="--size"),
        Key("simulation.seeds", int, 5, "independent seeds per simulated trajectory", low=2, high=100_000,
            flag="--seeds"),
        Key("simulation.seed", int, 2026, "master seed; every seed derives from it and the physics of its curve or "
            "point, and is stored", low=0, high=2**63 - 1, flag="--seed"),
        Key("thresholds.compute", bool, True, "compute the tables of maximal learning rates, learning-rate scans "
            "and stationary branches", flag="--thresholds"),
        Key("thresholds.eta_scan", float, [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0], "learning rates of the "
            "scans and of the stationary branches", many=True, low=0.0, low_open=True),
        Key("thresholds.target", float, 0.01, "scans: time to reach eps_gen <= reference + target", low=0.0,
            low_open=True),
        Key("thresholds.t_max", float, 200.0, "scans: integration time of the noise-free ODE", unit="t = steps/N",
            low=0.0, low_open=True),
        Key("thresholds.rtol", float, 1e-6, "relative tolerance of the maximal learning rates (root finding on "
            "the spectral abscissa and on the integration check)", low=1e-12, high=0.1),
        Key("thresholds.horizon", float, 200.0, "integration check of a maximal rate: the time at which the "
            "perturbed ODE must be within 1e-6 of its fixed point", unit="t = steps/N", low=0.0, low_open=True),
        *common.limit_keys("max_curves", "max_points", "max_steps", "max_time", "max_memory_gb"),
    ],
    showcase="default_dynamics.toml",
    model_sections=("model", "initial", "time"),
)


@dataclass(frozen=True)
class DynamicsCurve(PhysicsKeyed):
    """One trajectory: its store name, method and online-SGD problem (``key``: its seeds derive from it)."""

    name: str
    method: str
    problem: object  # DynamicsProblem

    def attributes(self) -> dict:
        p = self.problem
        return {"kind": "trajectory", "method": self.method, "activation": p.activation, "normalizer": p.normalizer,
                "learning_rate": p.learning_rate, "batch_size": p.batch_size, "zeta": p.penalty,
                "weight_decay": p.weight_decay, "noise": p.noise, "initial_overlap": p.initial_overlap,
                "initial_norm": p.initial_norm, "initial_gamma": p.initial_gamma, "initial_beta": p.initial_beta,
                "input": "gaussian"}


@dataclass(frozen=True)
class DynamicsConfig(RunConfig):
    schema: ClassVar[Schema] = SCHEMA
    times: np.ndarray = None
    size: int = 0
    seeds: int = 0
    seed: int = 0
    curves: tuple[DynamicsCurve, ...] = ()
    thresholds: tuple[tuple[str, str, tuple[int, ...]], ...] = ()
    scans: tuple[tuple[str, str, int], ...] = ()
    stationary: tuple[tuple[str, str, int], ...] = ()
    eta_scan: tuple[float, ...] = ()
    target: float = 0.01
    scan_t_max: float = 200.0
    rtol: float = 1e-6
    horizon: float = 200.0
    scan_zeta: float = 0.0


def build_dynamics_config(raw: dict, overrides: dict | None = None) -> DynamicsConfig:
    """Validate a ``dynamics`` config: a grid of online-SGD problems x methods, times, simulation settings."""
    from ..dynamics.problem import DynamicsProblem, output_times

    resolved = SCHEMA.resolve(merge_overrides(raw, overrides or {}))
    common.check_output(resolved["output"])
    model = resolved["model"]
    names = ("activation", "normalizer", "method", "learning_rate", "batch_size", "zeta", "weight_decay", "noise")
    axes = [list(dict.fromkeys(model[name])) for name in names]
    acts, norms, methods, rates, sizes, zetas, decays, noises = axes
    for name in norms:
        record = NORMALIZERS[name]
        if record.penalty is Penalty.GAMMA_DECAY and max(zetas) == 0.0:
            raise UserInputError(f"config: {name} at model.zeta = 0 has no gamma decay (it is pn): add --zeta "
                                 "(e.g. --zeta 0.05), or use --normalizer pn")
        if min(sizes) < record.min_sgd_batch:
            raise UserInputError(f"config: {name} needs model.batch_size >= {record.min_sgd_batch} (got {min(sizes)}: "
                                 "at M = 2 the normalized fields are +-1 whatever w is, and w never learns): add "
                                 "--batch-size (e.g. 8)")
    initial = resolved["initial"]
    time_table = resolved["time"]
    t_max, t_min, points = time_table["t_max"], time_table["t_min"], time_table["points"]
    if t_min >= t_max:
        raise UserInputError(f"config: time.t_min ({t_min!r}) must be < time.t_max ({t_max!r})")
    table = resolved["thresholds"]
    check_limit("the ODE time (time.t_max)", t_max, resolved, "max_time")
    if table["compute"]:
        check_limit("the ODE time of the scans (thresholds.t_max)", table["t_max"], resolved, "max_time")
        check_limit("the integration horizon (thresholds.horizon)", table["horizon"], resolved, "max_time")
    count = 1
    for axis in axes:
        count *= len(axis)
    check_limit("the number of trajectories", count, resolved, "max_curves")
    sim = resolved["simulation"]
    size, seeds = sim["size"], sim["seeds"]
    simulated = sum(1 for k in itertools.product(*axes) if k[2] in SIMULATED)
    check_limit("the number of simulated SGD steps (t_max x N x seeds x simulated trajectories)",
                int(t_max * size) * seeds * simulated, resolved, "max_steps")
    workers = common.resolve_workers(get(resolved, "run.workers"))
    if simulated:
        memory = min(workers, simulated) * (SIM_MEMORY_VECTORS * 8.0 * size * max(sizes) + 8e6) / 1e9
        check_limit(f"the estimated memory of the simulations at N = {size}", memory, resolved, "max_memory_gb",
                    " GB")
    curves = [
        DynamicsCurve(f"{i:03d}-{k[0]}-{k[1]}-M{k[4]}-eta{k[3]:g}-{k[2]}", k[2],
                      DynamicsProblem(k[0], k[1], k[3], batch_size=k[4], zeta=k[5],
                                      weight_decay=k[6], noise=k[7], initial_overlap=initial["overlap"],
                                      initial_norm=initial["norm"], initial_gamma=initial["gamma"],
                                      initial_beta=initial["beta"]))
        for i, k in enumerate(dict.fromkeys(
            (a, n, m, r, s, z if NORMALIZERS[n].penalty is Penalty.GAMMA_DECAY else 0.0, d, x)
            for a, n, m, r, s, z, d, x in itertools.product(*axes)))]
    parameters = [{**({"zeta": c.problem.penalty} if c.problem.penalty else {}), "wd": c.problem.weight_decay,
                   "noise": c.problem.noise} for c in curves]
    names = common.distinguishing_names([c.name for c in curves], parameters, ("zeta", "wd", "noise"))
    curves = tuple(DynamicsCurve(name, c.method, c.problem) for name, c in zip(names, curves, strict=True))
    eta_scan = tuple(sorted(set(table["eta_scan"])))
    scan_zeta = min((z for z in zetas if z > 0.0), default=0.0)
    thresholds, scans, stationary = (), (), ()
    if table["compute"]:
        batch = tuple(sorted(set(sizes)))
        thresholds = tuple((act, norm, batch) for act in acts for norm in norms)
        scans = tuple((act, norm, m) for act in acts for norm in norms if NORMALIZERS[norm].scale_invariant
                      for m in batch)
        stationary = tuple((act, norm, m) for act in acts for norm in norms if NORMALIZERS[norm].stationary_branch
                           for m in batch)
    n_tables = len(thresholds) + len(scans) + len(stationary)
    check_limit("the number of curves (trajectories and tables)", len(curves) + n_tables, resolved, "max_curves")
    n_points = (len(curves) * (points + 1) + sum(len(b) for _, _, b in thresholds)
                + (len(scans) + len(stationary)) * len(eta_scan))
    check_limit("the number of points (trajectories x times, table entries)", n_points, resolved, "max_points")
    return DynamicsConfig(resolved, resolved["output"], workers, output_times(t_max, points, t_min), size, seeds,
                          sim["seed"], curves, thresholds, scans, stationary, eta_scan, table["target"],
                          table["t_max"], table["rtol"], table["horizon"], scan_zeta)
