"""Sweep configuration: TOML text -> validated, frozen records.

A sweep is a grid over the model parameters of ``[model]`` (each a value or a list) and the loads of
``[alpha]``; :func:`load_config` names every bad key or value in one line (:class:`UserInputError`).
The reference of keys and defaults is :data:`DEFAULTS` (mirrored in README.md, "Config reference").
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import os
import sys
from dataclasses import dataclass, fields
from importlib import resources

import numpy as np

from .errors import UserInputError
from .model import ACTIVATION_CODES, METHODS, NORMALIZERS, SIMULATION_METHODS, allowed_methods, allowed_normalizers
from .simulate.common import SimulationSettings
from .theory.problem import Problem, QuadratureSettings
from .theory.solver import SolverSettings

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEFAULTS: dict = {
    "output": "statmech_bn_sweep.h5",
    "workers": 0,
    "model": {
        "activation": ["relu"],
        "normalizer": ["pn_gd", "pn", "wn", "none"],
        "method": ["gibbs"],
        "temperature": [1.0],
        "zeta": [0.1],
        "weight_decay": [0.0],
        "noise": [0.0],
        "batch_size": [32],
    },
    "alpha": {"start": 0.5, "stop": 10.0, "num": 40, "spacing": "linear"},
    "solver": {f.name: f.default for f in fields(SolverSettings)},
    "quadrature": {f.name: f.default for f in fields(QuadratureSettings)},
    "simulation": {f.name: f.default for f in fields(SimulationSettings)},
}
RUN_ONLY_KEYS = ("output", "workers")
"""Keys that do not change any number in the output: excluded from the config fingerprint."""

_BRANCHES = ("forward", "backward", "both")


def default_config_text() -> str:
    """The embedded default sweep (statmech_bn/default_sweep.toml)."""
    return resources.files("statmech_bn").joinpath("default_sweep.toml").read_text()


@dataclass(frozen=True)
class CurveSpec:
    """One curve of the grid: its store name and the problem it solves."""

    name: str
    problem: Problem

    @property
    def is_simulation(self) -> bool:
        return self.problem.method in SIMULATION_METHODS

    def attributes(self) -> dict:
        p = self.problem
        return {"activation": p.activation, "normalizer": p.normalizer, "method": p.method,
                "kind": "simulation" if self.is_simulation else "theory",
                "temperature": p.temperature, "zeta": p.zeta, "weight_decay": p.weight_decay,
                "noise": p.noise, "batch_size": p.batch_size, "input": "gaussian"}

    @property
    def key(self) -> str:
        """The curve's physics as text (seeds of simulation points derive from it)."""
        return json.dumps(self.attributes(), sort_keys=True)


@dataclass(frozen=True)
class SweepConfig:
    """A validated sweep: the resolved settings (for provenance) and what they expand to."""

    resolved: dict
    output: str
    workers: int
    alphas: np.ndarray
    solver: SolverSettings
    curves: tuple[CurveSpec, ...]
    simulation: SimulationSettings = SimulationSettings()

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the resolved settings that determine the numbers (run-only keys excluded)."""
        physics = {k: v for k, v in self.resolved.items() if k not in RUN_ONLY_KEYS}
        return hashlib.sha256(json.dumps(physics, sort_keys=True).encode()).hexdigest()


def _merge(raw: dict, defaults: dict, where: str) -> dict:
    out = {}
    for key, value in raw.items():
        name = f"{where}{key}"
        if key not in defaults:
            known = ", ".join(sorted(defaults))
            raise UserInputError(f"config: unknown key '{name}' (known here: {known})")
        if isinstance(defaults[key], dict):
            if not isinstance(value, dict):
                raise UserInputError(f"config: '{name}' must be a table")
            out[key] = _merge(value, defaults[key], f"{name}.")
        else:
            out[key] = value
    for key, value in defaults.items():
        if key not in out:
            out[key] = copy.deepcopy(value)
        elif isinstance(value, dict):
            out[key] = {**copy.deepcopy(value), **out[key]}
    return out


def _as_list(value, name: str, kind) -> list:
    values = value if isinstance(value, list) else [value]
    if not values:
        raise UserInputError(f"config: '{name}' is an empty list")
    out = []
    for v in values:
        if kind is float:
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v):
                raise UserInputError(f"config: '{name}' must be finite numbers (got {v!r})")
            out.append(float(v))
        else:
            if not isinstance(v, str):
                raise UserInputError(f"config: '{name}' must be strings (got {v!r})")
            out.append(v)
    return out


def _number(table: dict, key: str, where: str, kind=float, low=None, low_open=False, high=None):
    v = table[key]
    name = f"{where}.{key}"
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (kind is int and not isinstance(v, int)):
        raise UserInputError(f"config: '{name}' must be {'an integer' if kind is int else 'a number'} (got {v!r})")
    if not np.isfinite(v):
        raise UserInputError(f"config: '{name}' must be finite (got {v!r})")
    if low is not None and (v <= low if low_open else v < low):
        raise UserInputError(f"config: '{name}' must be {'>' if low_open else '>='} {low} (got {v!r})")
    if high is not None and v >= high:
        raise UserInputError(f"config: '{name}' must be < {high} (got {v!r})")
    return kind(v)


def _alphas(raw: dict) -> tuple[np.ndarray, dict]:
    """The loads and their resolved table: either ``values`` or ``start``/``stop``/``num``/``spacing``."""
    if not isinstance(raw, dict):
        raise UserInputError("config: 'alpha' must be a table")
    if "values" in raw:
        if len(raw) > 1:
            other = sorted(set(raw) - {"values"})[0]
            raise UserInputError(f"config: 'alpha.values' cannot be combined with 'alpha.{other}'")
        alphas = np.array(sorted(set(_as_list(raw["values"], "alpha.values", float))))
        table = {"values": [float(a) for a in alphas]}
    else:
        table = _merge(raw, DEFAULTS["alpha"], "alpha.")
        start = _number(table, "start", "alpha", low=0.0, low_open=True)
        stop = _number(table, "stop", "alpha", low=0.0, low_open=True)
        num = _number(table, "num", "alpha", kind=int, low=1)
        if stop < start:
            raise UserInputError(f"config: 'alpha.stop' ({stop}) must be >= 'alpha.start' ({start})")
        if table["spacing"] == "linear":
            alphas = np.linspace(start, stop, num)
        elif table["spacing"] == "log":
            alphas = np.geomspace(start, stop, num)
        else:
            raise UserInputError(f"config: 'alpha.spacing' must be 'linear' or 'log' (got {table['spacing']!r})")
    if np.any(alphas <= 0.0):
        raise UserInputError(f"config: every alpha must be > 0 (got {alphas.min()!r})")
    return alphas, table


def _curves(model: dict, quadrature: QuadratureSettings) -> tuple[CurveSpec, ...]:
    acts = _as_list(model["activation"], "model.activation", str)
    norms = _as_list(model["normalizer"], "model.normalizer", str)
    methods = _as_list(model["method"], "model.method", str)
    temps = _as_list(model["temperature"], "model.temperature", float)
    zetas = _as_list(model["zeta"], "model.zeta", float)
    decays = _as_list(model["weight_decay"], "model.weight_decay", float)
    noises = _as_list(model["noise"], "model.noise", float)
    batches = _as_list(model["batch_size"], "model.batch_size", float)
    for m in batches:
        if m != int(m) or m < 2:
            raise UserInputError(f"config: model.batch_size must be integers >= 2 (got {m!r})")
    for name, values, known in (("activation", acts, tuple(ACTIVATION_CODES)), ("normalizer", norms, NORMALIZERS),
                                ("method", methods, METHODS)):
        for v in values:
            if v not in known:
                raise UserInputError(f"config: unknown model.{name} {v!r}; choose from {', '.join(known)}")
    for name, values, strict in (("temperature", temps, True), ("zeta", zetas, False),
                                 ("weight_decay", decays, False), ("noise", noises, False)):
        for v in values:
            if v < 0.0 or (strict and v == 0.0):
                raise UserInputError(f"config: model.{name} must be {'>' if strict else '>='} 0 (got {v!r})")
    seen: dict[tuple, None] = {}
    for act, norm, method, temp, zeta, decay, noise, batch in itertools.product(
            acts, norms, methods, temps, zetas, decays, noises, batches):
        if method not in allowed_methods(act):
            raise UserInputError(f"config: method {method!r} is not defined for activation {act!r} "
                                 f"(allowed: {', '.join(allowed_methods(act))})")
        if norm not in allowed_normalizers(method):
            continue  # e.g. bn x sim_gibbs in a grid that also asks for sim_sgd; an empty result is refused below
        if norm == "bn" and act == "sign":
            raise UserInputError("config: normalizer 'bn' needs a differentiable activation (not sign): its "
                                 "gamma decay comes from the loss curvature")
        key = (act, norm, method, 0.0 if method in ("erm", "sim_erm", "sim_sgd") else temp,
               zeta if norm == "pn_gd" else 0.0, decay if norm == "none" else 0.0, noise,
               int(batch) if norm == "bn" or method == "sim_sgd" else 0)
        if norm == "none" and method in ("gibbs", "sim_gibbs") and key[5] == 0.0:
            raise UserInputError("config: Gibbs learning of normalizer 'none' needs model.weight_decay > 0 "
                                 "(with a flat prior the posterior is improper for alpha < 1)")
        seen.setdefault(key, None)
    for method in methods:
        if not any(k[2] == method for k in seen):
            covered = ", ".join(allowed_normalizers(method))
            raise UserInputError(f"config: method {method!r} covers normalizers {covered}, none of which was asked "
                                 "for (the real bn student is simulated by sim_sgd)")
    return tuple(
        CurveSpec(f"{i:03d}-{k[0]}-{k[1]}{k[7] or ''}-{k[2]}",
                  Problem(k[0], k[1], k[2], temperature=k[3], zeta=k[4], weight_decay=k[5], noise=k[6],
                          batch_size=k[7], quadrature=quadrature))
        for i, k in enumerate(seen)
    )


def set_override(raw: dict, dotted: str, value) -> None:
    """Set ``model.temperature``-style keys in a raw config dict (command-line flags)."""
    *path, last = dotted.split(".")
    table = raw
    for part in path:
        table = table.setdefault(part, {})
    table[last] = value


def build_config(raw: dict) -> SweepConfig:
    """Validate a raw (parsed TOML) config and expand its grid."""
    raw = dict(raw)
    alpha_raw = raw.pop("alpha", {})
    resolved = _merge(raw, {k: v for k, v in DEFAULTS.items() if k != "alpha"}, "")
    if not isinstance(resolved["output"], str) or not resolved["output"]:
        raise UserInputError("config: 'output' must be a file name")
    workers = _number(resolved, "workers", "run", kind=int, low=0)
    solver_table = resolved["solver"]
    damping = _number(solver_table, "damping", "solver", low=0.0, high=1.0)
    tolerance = _number(solver_table, "tolerance", "solver", low=0.0, low_open=True)
    max_iterations = _number(solver_table, "max_iterations", "solver", kind=int, low=1)
    if solver_table["branches"] not in _BRANCHES:
        raise UserInputError(f"config: 'solver.branches' must be one of {', '.join(_BRANCHES)} "
                             f"(got {solver_table['branches']!r})")
    solver = SolverSettings(damping, tolerance, max_iterations, solver_table["branches"])
    quad = QuadratureSettings(**{k: _number(resolved["quadrature"], k, "quadrature", kind=int, low=1)
                                 for k in resolved["quadrature"]})
    simulation = _simulation(resolved["simulation"])
    alphas, resolved["alpha"] = _alphas(alpha_raw)
    curves = _curves(resolved["model"], quad)
    return SweepConfig(resolved, resolved["output"], workers or (os.cpu_count() or 1), alphas, solver, curves,
                       simulation)


def _simulation(table: dict) -> SimulationSettings:
    """The ``[simulation]`` table: integers with their minimum, positive numbers, seeds >= 0."""
    minimum = {"size": 10, "seeds": 2, "seed": 0, "inits": 1, "max_iterations": 1, "chains": 2, "trajectories": 8,
               "leapfrog_steps": 1, "max_epochs": 1, "patience": 1, "lr_halvings": 0}
    values = {}
    for f in fields(SimulationSettings):
        if f.name in minimum:
            values[f.name] = _number(table, f.name, "simulation", kind=int, low=minimum[f.name])
        else:
            values[f.name] = _number(table, f.name, "simulation", low=0.0, low_open=True)
    if values["rhat_max"] <= 1.0:
        raise UserInputError(f"config: 'simulation.rhat_max' must be > 1 (got {values['rhat_max']!r})")
    return SimulationSettings(**values)


def parse_toml(text: str, source: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserInputError(f"config: {source} is not valid TOML ({exc})") from None


def read_config_file(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError as exc:
        raise UserInputError(f"config: cannot read {path} ({exc.strerror})") from None


# -- decompose ------------------------------------------------------------------------------------------
DECOMPOSE_DEFAULTS: dict = {
    "output": "statmech_bn_decompose.h5",
    "model": {
        "activation": ["linear", "relu", "erf"],
        "input": ["gaussian", "laplace"],
        "overlap": [0.8],
        "gamma": [0.5, 1.0, 2.0],
        "beta": [0.1],
        "noise": [0.0],
    },
    "batch": {
        "sizes": [2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
        "samples": 2_000_000,
        "seed": 20190101,
    },
}


@dataclass(frozen=True)
class DecomposeCurve:
    """One (activation, input law, R, gamma, beta, noise) setting, swept over the batch sizes."""

    name: str
    activation: str
    input: str
    overlap: float
    gamma: float
    beta: float
    noise: float

    def attributes(self) -> dict:
        from .theory.decomposition import INPUT_LAWS

        return {"activation": self.activation, "input": self.input, "kurtosis": INPUT_LAWS[self.input][1],
                "overlap": self.overlap, "gamma": self.gamma, "beta": self.beta, "noise": self.noise,
                "loss": "squared"}


@dataclass(frozen=True)
class DecomposeConfig:
    resolved: dict
    output: str
    batch_sizes: tuple[int, ...]
    samples: int
    seed: int
    curves: tuple[DecomposeCurve, ...]

    @property
    def fingerprint(self) -> str:
        physics = {k: v for k, v in self.resolved.items() if k not in RUN_ONLY_KEYS}
        return hashlib.sha256(json.dumps(physics, sort_keys=True).encode()).hexdigest()


def build_decompose_config(raw: dict) -> DecomposeConfig:
    """Validate a ``decompose`` config: a grid of model settings, each swept over the batch sizes."""
    from .theory.decomposition import INPUT_LAWS

    resolved = _merge(raw, DECOMPOSE_DEFAULTS, "")
    if not isinstance(resolved["output"], str) or not resolved["output"]:
        raise UserInputError("config: 'output' must be a file name")
    model = resolved["model"]
    acts = _as_list(model["activation"], "model.activation", str)
    laws = _as_list(model["input"], "model.input", str)
    for v in acts:
        if v not in ("linear", "relu", "erf"):
            raise UserInputError(f"config: model.activation {v!r} has no BN decomposition; "
                                 "choose from linear, relu, erf")
    for v in laws:
        if v not in INPUT_LAWS:
            raise UserInputError(f"config: unknown model.input {v!r}; choose from {', '.join(INPUT_LAWS)}")
    overlaps = _as_list(model["overlap"], "model.overlap", float)
    if any(not -1.0 <= r <= 1.0 for r in overlaps):
        raise UserInputError("config: model.overlap must lie in [-1, 1]")
    gammas = _as_list(model["gamma"], "model.gamma", float)
    if any(g <= 0.0 for g in gammas):
        raise UserInputError("config: model.gamma must be > 0")
    betas = _as_list(model["beta"], "model.beta", float)
    noises = _as_list(model["noise"], "model.noise", float)
    if any(n < 0.0 for n in noises):
        raise UserInputError("config: model.noise must be >= 0")
    batch = resolved["batch"]
    sizes = _as_list(batch["sizes"], "batch.sizes", float)
    if any(m != int(m) or m < 2 for m in sizes):
        raise UserInputError("config: batch.sizes must be integers >= 2")
    samples = _number(batch, "samples", "batch", kind=int, low=1)
    seed = _number(batch, "seed", "batch", kind=int, low=0)
    curves = tuple(
        DecomposeCurve(f"{i:03d}-{a}-{law}", a, law, r, g, b, n)
        for i, (a, law, r, g, b, n) in enumerate(itertools.product(acts, laws, overlaps, gammas, betas, noises))
    )
    return DecomposeConfig(resolved, resolved["output"], tuple(sorted({int(m) for m in sizes})), samples, seed,
                           curves)


# -- dynamics ----------------------------------------------------------------------------------------------
DYNAMICS_DEFAULTS: dict = {
    "output": "statmech_bn_dynamics.h5",
    "model": {
        "activation": ["relu"],
        "normalizer": ["bn", "pn_gd", "pn", "none"],
        "method": ["ode", "sim"],
        "learning_rate": [0.5],
        "batch_size": [8],
        "zeta": [0.05],
        "weight_decay": [0.0],
        "noise": [0.3],
    },
    "initial": {"overlap": 0.0, "norm": 1.0, "gamma": 1.0, "beta": 0.0},
    "time": {"t_max": 20.0, "points": 30, "t_min": 0.01},
    "simulation": {"size": 1000, "seeds": 5, "seed": 2026},
    "thresholds": {"compute": True, "eta_scan": [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0], "target": 0.01,
                   "t_max": 200.0},
}
DYNAMICS_METHODS = ("ode", "sim", "reduced")
"""ode: N -> infinity; sim: full weight vectors at N; reduced: the exact reduced simulation at N."""


@dataclass(frozen=True)
class DynamicsCurve:
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
class DynamicsConfig:
    resolved: dict
    output: str
    times: np.ndarray
    size: int
    seeds: int
    seed: int
    curves: tuple[DynamicsCurve, ...]
    thresholds: tuple[tuple[str, str, tuple[int, ...]], ...]
    scans: tuple[tuple[str, str, int], ...] = ()
    stationary: tuple[tuple[str, str, int], ...] = ()
    eta_scan: tuple[float, ...] = ()
    target: float = 0.01
    scan_t_max: float = 200.0

    @property
    def fingerprint(self) -> str:
        physics = {k: v for k, v in self.resolved.items() if k not in RUN_ONLY_KEYS}
        return hashlib.sha256(json.dumps(physics, sort_keys=True).encode()).hexdigest()


def build_dynamics_config(raw: dict) -> DynamicsConfig:
    """Validate a ``dynamics`` config: a grid of online-SGD problems x methods, times, simulation settings."""
    from .dynamics.ode import output_times
    from .dynamics.problem import DynamicsProblem
    from .dynamics.stability import RESIDUAL_NORMALIZERS

    resolved = _merge(raw, DYNAMICS_DEFAULTS, "")
    if not isinstance(resolved["output"], str) or not resolved["output"]:
        raise UserInputError("config: 'output' must be a file name")
    model = resolved["model"]
    acts = _as_list(model["activation"], "model.activation", str)
    norms = _as_list(model["normalizer"], "model.normalizer", str)
    methods = _as_list(model["method"], "model.method", str)
    for name, values, known in (("activation", acts, ("linear", "relu", "erf")), ("normalizer", norms, NORMALIZERS),
                                ("method", methods, DYNAMICS_METHODS)):
        for v in values:
            if v not in known:
                raise UserInputError(f"config: unknown model.{name} {v!r}; choose from {', '.join(known)}")
    rates = _as_list(model["learning_rate"], "model.learning_rate", float)
    if any(r <= 0.0 for r in rates):
        raise UserInputError("config: model.learning_rate must be > 0")
    sizes = _as_list(model["batch_size"], "model.batch_size", float)
    if any(m != int(m) or m < 1 for m in sizes):
        raise UserInputError("config: model.batch_size must be integers >= 1")
    if "bn" in norms and any(m < 3 for m in sizes):
        raise UserInputError("config: bn needs model.batch_size >= 3 (at M = 2 the normalized fields are +-1 "
                             "whatever w is, and w never learns)")
    zetas = _as_list(model["zeta"], "model.zeta", float)
    decays = _as_list(model["weight_decay"], "model.weight_decay", float)
    noises = _as_list(model["noise"], "model.noise", float)
    for name, values in (("zeta", zetas), ("weight_decay", decays), ("noise", noises)):
        if any(v < 0.0 for v in values):
            raise UserInputError(f"config: model.{name} must be >= 0")
    initial = resolved["initial"]
    r0 = _number(initial, "overlap", "initial")
    if not -1.0 < r0 < 1.0:
        raise UserInputError(f"config: 'initial.overlap' must lie in (-1, 1) (got {r0!r})")
    l0 = _number(initial, "norm", "initial", low=0.0, low_open=True)
    g0 = _number(initial, "gamma", "initial")
    b0 = _number(initial, "beta", "initial")
    time_table = resolved["time"]
    t_max = _number(time_table, "t_max", "time", low=0.0, low_open=True)
    t_min = _number(time_table, "t_min", "time", low=0.0, low_open=True)
    points = _number(time_table, "points", "time", kind=int, low=1)
    if t_min >= t_max:
        raise UserInputError(f"config: 'time.t_min' ({t_min}) must be < 'time.t_max' ({t_max})")
    sim = resolved["simulation"]
    size = _number(sim, "size", "simulation", kind=int, low=10)
    seeds = _number(sim, "seeds", "simulation", kind=int, low=2)
    seed = _number(sim, "seed", "simulation", kind=int, low=0)
    table = resolved["thresholds"]
    if not isinstance(table["compute"], bool):
        raise UserInputError("config: 'thresholds.compute' must be true or false")
    eta_scan = tuple(sorted(set(_as_list(table["eta_scan"], "thresholds.eta_scan", float))))
    if any(eta <= 0.0 for eta in eta_scan):
        raise UserInputError("config: thresholds.eta_scan must be > 0")
    target = _number(table, "target", "thresholds", low=0.0, low_open=True)
    scan_t_max = _number(table, "t_max", "thresholds", low=0.0, low_open=True)
    seen: dict[tuple, None] = {}
    for act, norm, method, rate, m, zeta, decay, noise in itertools.product(
            acts, norms, methods, rates, sizes, zetas, decays, noises):
        seen.setdefault((act, norm, method, rate, int(m), zeta if norm == "pn_gd" else 0.0, decay, noise), None)
    curves = tuple(
        DynamicsCurve(f"{i:03d}-{k[0]}-{k[1]}-M{k[4]}-eta{k[3]:g}-{k[2]}", k[2],
                      DynamicsProblem(k[0], k[1], k[3], batch_size=k[4], zeta=k[5], weight_decay=k[6], noise=k[7],
                                      initial_overlap=r0, initial_norm=l0, initial_gamma=g0, initial_beta=b0))
        for i, k in enumerate(seen))
    thresholds, scans, stationary = (), (), ()
    if table["compute"]:
        batch = tuple(sorted({int(m) for m in sizes}))
        thresholds = tuple((act, norm, batch) for act in acts for norm in norms)
        scans = tuple((act, norm, m) for act in acts for norm in norms if norm != "none" for m in batch)
        residual = [norm for norm in norms if norm in RESIDUAL_NORMALIZERS and (norm == "bn" or min(zetas) > 0.0)]
        stationary = tuple((act, norm, m) for act in acts for norm in residual for m in batch)
    return DynamicsConfig(resolved, resolved["output"], output_times(t_max, points, t_min), size, seeds, seed,
                          curves, thresholds, scans, stationary, eta_scan, target, scan_t_max)
