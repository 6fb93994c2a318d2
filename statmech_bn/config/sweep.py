"""``sweep``: a grid of models x loads alpha, solved by replica theory or simulated at finite N.

Every key is declared once in :data:`SCHEMA`. Without a config file and without any ``[model]`` or ``[alpha]``
key the embedded showcase (``statmech_bn/default_sweep.toml``) runs; otherwise every key not given takes its
documented neutral default (no label noise, no gamma decay, no weight decay), and a combination that then makes
no sense is refused with one line saying what to add (:func:`build_config`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, fields
from typing import ClassVar

import numpy as np

from ..errors import UserInputError
from ..model import (
    ACTIVATIONS,
    BN_REGULARIZERS,
    METHODS,
    NORMALIZERS,
    SAMPLING_METHODS,
    SIMULATION_METHODS,
    THEORY_METHODS,
    Penalty,
    allowed_methods,
    allowed_normalizers,
)
from ..quadrature import MAX_HERMITE_NODES
from ..simulate.common import SimulationSettings
from ..theory.problem import Problem, QuadratureSettings
from ..theory.solver import SolverSettings
from . import common
from .common import PhysicsKeyed, RunConfig, check_limit
from .schema import Key, Schema, get, has, merge_overrides

BRANCHES = ("forward", "backward", "both")


def _default(record, name: str):
    return next(f.default for f in fields(record) if f.name == name)


def _solver(name):
    return _default(SolverSettings, name)


def _quad(name):
    return _default(QuadratureSettings, name)


def _sim(name):
    return _default(SimulationSettings, name)


@dataclass(frozen=True)
class MeanFieldSettings:
    """Numerical settings of bn's finite-M mean field (``bn_regularizer = "mean_field"``): the arguments ``n_batches``,
    ``n_outer``, ``n_eta`` and ``n_grid`` of :func:`statmech_bn.theory.bn_finite_m.solve_finite_batch`, whose
    defaults these are (FINDINGS.md's table: seed spread ~1e-3 in eps_g)."""

    batches: int = 20_000
    outer_nodes: int = 24
    eta_nodes: int = 64
    grid: int = 161

    def solver_arguments(self) -> dict:
        return {"n_batches": self.batches, "n_outer": self.outer_nodes, "n_eta": self.eta_nodes, "n_grid": self.grid}


SCHEMA = Schema(
    "sweep",
    "generalization curves eps_g(alpha): replica theory (gibbs, high_temperature, erm) and finite-N simulations "
    "(sim_gibbs, sim_erm, sim_sgd)",
    {
        "": "the output file",
        "run": common.RUN_SECTION,
        "model": "the grid of models: every combination of the lists below is one curve",
        "alpha": "the loads alpha = P/N: either values, or start, stop, num and spacing",
        "solver": "the saddle-point solver of the theory methods",
        "quadrature": "node counts of the Gaussian averages of the theory methods",
        "simulation": "finite-N simulations (sim_gibbs, sim_erm, sim_sgd)",
        "limits": common.LIMITS_SECTION,
    },
    [
        common.output_key("statmech_bn_sweep.h5"),
        common.workers_key(),
        *common.executor_keys(),
        Key("model.activation", str, ["relu"], "activation g of teacher and student", many=True,
            choices=tuple(ACTIVATIONS), flag="--activation"),
        Key("model.normalizer", str, ["pn"], "student normalizer", many=True, choices=tuple(NORMALIZERS),
            flag="--normalizer"),
        Key("model.method", str, ["gibbs"], "theory (gibbs: RS saddle point at T; high_temperature: T -> inf at "
            "fixed alpha/T; erm: T -> 0) or simulation (sim_gibbs, sim_erm, sim_sgd)", many=True, choices=METHODS,
            flag="--method"),
        Key("model.temperature", float, [1.0], "temperature T of the Gibbs posterior (gibbs, high_temperature, "
            "sim_gibbs; erm and the other simulations ignore it)", many=True, low=0.0, low_open=True,
            flag="--temperature"),
        Key("model.zeta", float, [0.0], "gamma-decay strength zeta of pn_gd (per-sample penalty zeta gamma^2)",
            many=True, low=0.0, flag="--zeta"),
        Key("model.weight_decay", float, [0.0], "weight decay lambda of none, (lambda/2)|w|^2", many=True,
            low=0.0, flag="--weight-decay"),
        Key("model.noise", float, [0.0], "teacher label-noise standard deviation sigma", many=True, low=0.0,
            flag="--noise"),
        Key("model.batch_size", int, [32], "batch size M of bn (theory: zeta(M); M >= 2) and of every sim_sgd "
            "curve (bn: M >= 3)", many=True, low=1, flag="--batch-size"),
        Key("model.bn_regularizer", str, ["gamma_decay"], "the penalty of the bn theory: gamma_decay (the paper's "
            "zeta(M) gamma^2, zeta(M) at the solution) or expansion (the whole O(1/M) gap zeta gamma^2 + first-order "
            "term, self-consistently), or mean_field (not a penalty: the finite-M mean field of real bn, "
            "statmech_bn.theory.bn_finite_m; erm, relu, linear or erf, and noise > 0 only; ~10 CPU s per point at "
            "M = 4)",
            many=True, choices=tuple(BN_REGULARIZERS), flag="--bn-regularizer"),
        Key("alpha.values", float, None, "the loads, listed (replaces start/stop/num/spacing)", many=True, low=0.0,
            low_open=True, optional=True),
        Key("alpha.start", float, 0.5, "smallest load", low=0.0, low_open=True),
        Key("alpha.stop", float, 10.0, "largest load", low=0.0, low_open=True),
        Key("alpha.num", int, 40, "number of loads", low=1),
        Key("alpha.spacing", str, "linear", "spacing of the loads between start and stop",
            choices=("linear", "log")),
        Key("solver.damping", float, _solver("damping"), "damping d of x <- d x + (1 - d) F(x)", low=0.0,
            high=1.0, high_open=True),
        Key("solver.tolerance", float, _solver("tolerance"), "converged when the undamped residual max|F(x) - x| "
            "is at most this", low=0.0, low_open=True),
        Key("solver.max_iterations", int, _solver("max_iterations"), "iterations before a point is stored as "
            "not converged (also given up when the best residual has not halved in 500 iterations)", low=1,
            high=10_000_000),
        Key("solver.branches", str, _solver("branches"), "continuation from small alpha (forward), from large "
            "alpha (backward), or both, keeping the converged one with the lower free energy",
            choices=BRANCHES, flag="--branches"),
        Key("quadrature.teacher_nodes", int, _quad("teacher_nodes"), "Gauss-Legendre nodes per half-line of the "
            "teacher field (split at the kink)", low=1, high=4096),
        Key("quadrature.replica_nodes", int, _quad("replica_nodes"), "Gauss-Hermite nodes of the replica field "
            "(gibbs)", low=1, high=MAX_HERMITE_NODES),
        Key("quadrature.noise_nodes", int, _quad("noise_nodes"), "Gauss-Hermite nodes of the label noise", low=1,
            high=MAX_HERMITE_NODES),
        Key("quadrature.erm_replica_nodes", int, _quad("erm_replica_nodes"), "replica-field nodes of erm (relu: "
            "split between the kinks of the proximal map)", low=1, high=MAX_HERMITE_NODES),
        *(Key(f"quadrature.mean_field_{name}", int, _default(MeanFieldSettings, name), f"bn_regularizer "
              f"mean_field: {text}", low=low, high=high)
          for name, text, low, high in (
              ("batches", "Monte-Carlo batches of batch-mates (the cost grows like it, the seed spread like "
               "1/sqrt of it)", 10, 10_000_000),
              ("outer_nodes", "Gauss-Legendre nodes per piece of the (u, xi) average", 2, 360),
              ("eta_nodes", "Gauss-Legendre nodes of the replica noise eta", 2, 1000),
              ("grid", "points of the h-grid of the effective-loss tables", 8, 100_000))),
        Key("simulation.size", int, _sim("size"), "width N of the simulated block", low=10, flag="--size"),
        Key("simulation.seeds", int, _sim("seeds"), "independent seeds (teacher, data, start) per load", low=2,
            high=100_000, flag="--seeds"),
        Key("simulation.seed", int, _sim("seed"), "master seed; each point's seeds (simulations, and the batches "
            "of bn_regularizer mean_field) derive from it, the curve's physics and alpha, and are stored", low=0,
            high=2**63 - 1, flag="--seed"),
        Key("simulation.inits", int, _sim("inits"), "sim_erm: starts per seed (the lowest energy is kept)", low=1,
            high=1000),
        Key("simulation.gtol", float, _sim("gtol"), "sim_erm: tolerance on the largest component of the "
            "(sub)gradient of the total energy", low=0.0, low_open=True),
        Key("simulation.max_iterations", int, _sim("max_iterations"), "sim_erm: L-BFGS iterations per start",
            low=1, high=10_000_000),
        Key("simulation.chains", int, _sim("chains"), "sim_gibbs: chains per seed (one near the teacher, the "
            "others random)", low=2, high=64),
        Key("simulation.trajectories", int, _sim("trajectories"), "sim_gibbs: HMC trajectories (Metropolis "
            "sweeps for sign) per chain, the first half burn-in", low=8, high=10_000_000),
        Key("simulation.leapfrog_steps", int, _sim("leapfrog_steps"), "sim_gibbs: leapfrog steps per trajectory "
            "(drawn uniformly in [L/2, L])", low=1, high=100_000),
        Key("simulation.rhat_max", float, _sim("rhat_max"), "sim_gibbs: a seed is equilibrated when the split "
            "R-hat of the energy and of R are at most this", low=1.0, low_open=True),
        Key("simulation.learning_rate", float, _sim("learning_rate"), "sim_sgd: learning rate per sample (w steps "
            "by rate M times the batch-mean gradient, gamma and beta by rate M/N)", low=0.0, low_open=True,
            flag="--learning-rate"),
        Key("simulation.max_epochs", int, _sim("max_epochs"), "sim_sgd: epoch cap", low=1, high=10_000_000),
        Key("simulation.patience", int, _sim("patience"), "sim_sgd: epochs without relative improvement before "
            "the rate is halved", low=1, high=100_000),
        Key("simulation.improvement", float, _sim("improvement"), "sim_sgd: relative improvement of the epoch's "
            "mean objective that counts as progress", low=0.0, low_open=True),
        Key("simulation.lr_halvings", int, _sim("lr_halvings"), "sim_sgd: halvings of the rate before stopping",
            low=0, high=60),
        Key("simulation.final_partitions", int, _sim("final_partitions"), "sim_sgd: after the SGD plateau, L-BFGS on "
            "the mean of the epoch objective over this many fixed random partitions into batches (bn; one for the "
            "others, whose objective does not depend on the partition); 0: no final phase", low=0, high=100_000),
        Key("simulation.final_iterations", int, _sim("final_iterations"), "sim_sgd: L-BFGS iterations of the "
            "final phase", low=1, high=10_000_000),
        *common.limit_keys("max_curves", "max_points", "max_memory_gb"),
    ],
    showcase="default_sweep.toml",
    model_sections=("model", "alpha"),
)

NAMED_PARAMETERS = ("T", "zeta", "wd", "noise", "M", "reg")
"""Parameters that enter a curve's name when they differ between the curves of a file (in this order)."""
ALPHA_RANGE = ("alpha.start", "alpha.stop", "alpha.num", "alpha.spacing")
GRID_SCAN_LIMIT = 1_000_000
"""Largest product of the [model] list lengths that is expanded (combinations are deduplicated one by one)."""
MEMORY_FACTOR = {"sim_gibbs": 1.5, "sim_erm": 3.0, "sim_sgd": 1.5}
"""Peak memory of one simulation task over the size of its N x P data matrix (float64): sim_erm's active-set solve
for relu can hold a second matrix of that size; the others a few vectors and the data."""


@dataclass(frozen=True)
class CurveSpec(PhysicsKeyed):
    """One curve of the grid: its store name and the problem it solves (``key``: the seeds of its simulation
    points derive from it)."""

    name: str
    problem: Problem

    @property
    def is_simulation(self) -> bool:
        return self.problem.method in SIMULATION_METHODS

    def parameters(self) -> dict:
        """The physics of the curve as the plan and its name show it: only the parameters that act on it."""
        p = self.problem
        out = {"activation": p.activation, "normalizer": p.normalizer, "method": p.method}
        if p.method in SAMPLING_METHODS:
            out["T"] = p.temperature
        if p.norm.penalty is Penalty.GAMMA_DECAY:
            out["zeta"] = p.zeta
        if p.norm.penalty is Penalty.WEIGHT_DECAY:
            out["wd"] = p.weight_decay
        out["noise"] = p.noise
        if p.batch_size:
            out["M"] = p.batch_size
        if p.norm.penalty is Penalty.BATCH_ZETA and p.method in THEORY_METHODS:
            out["reg"] = p.bn_regularizer
        return out

    @property
    def mean_field(self) -> bool:
        """Whether the curve is solved by bn's finite-M mean field (bn_regularizer mean_field) instead of a saddle
        point."""
        p = self.problem
        return p.norm.penalty is Penalty.BATCH_ZETA and p.method == "erm" and p.bn_regularizer == "mean_field"

    def attributes(self) -> dict:
        p = self.problem
        return {"activation": p.activation, "normalizer": p.normalizer, "method": p.method,
                "kind": "simulation" if self.is_simulation else "theory",
                "temperature": p.temperature, "zeta": p.zeta, "weight_decay": p.weight_decay,
                "noise": p.noise, "batch_size": p.batch_size, "input": "gaussian", "bn_regularizer":
                p.bn_regularizer}


@dataclass(frozen=True)
class SweepConfig(RunConfig):
    """A validated sweep: the resolved settings (for provenance) and what they expand to."""

    schema: ClassVar[Schema] = SCHEMA
    alphas: np.ndarray = None
    solver: SolverSettings = SolverSettings()
    curves: tuple[CurveSpec, ...] = ()
    simulation: SimulationSettings = SimulationSettings()
    mean_field: MeanFieldSettings = MeanFieldSettings()


def _alpha_overrides(raw: dict, overrides: dict) -> dict:
    """A flag on the loads replaces the other form: values drop start/stop/num/spacing, and the reverse."""
    alpha = raw.get("alpha")
    if not isinstance(alpha, dict) or not any(p.startswith("alpha.") for p in overrides):
        return raw
    keep = {} if "alpha.values" in overrides else {k: v for k, v in alpha.items() if k != "values"}
    return {**raw, "alpha": keep}


def build_config(raw: dict, overrides: dict | None = None) -> SweepConfig:
    """Validate a raw (parsed TOML) config plus command-line ``overrides`` and expand its grid.

    Every check that can refuse the run happens here, before any file or large array exists.
    """
    overrides = overrides or {}
    raw = merge_overrides(_alpha_overrides(raw, overrides), overrides)
    given_alpha = raw.get("alpha", {}) if isinstance(raw.get("alpha"), dict) else {}
    resolved = SCHEMA.resolve(raw)
    common.check_output(resolved["output"])
    if "values" in given_alpha:
        clash = sorted(set(given_alpha) & {p.partition(".")[2] for p in ALPHA_RANGE})
        if clash:
            raise UserInputError(f"config: alpha.values cannot be combined with alpha.{clash[0]}")
        resolved["alpha"] = {"values": resolved["alpha"]["values"]}
    alphas = _alphas(resolved)
    solver = SolverSettings(*(get(resolved, f"solver.{f.name}") for f in fields(SolverSettings)))
    quadrature = QuadratureSettings(*(get(resolved, f"quadrature.{f.name}") for f in fields(QuadratureSettings)))
    simulation = SimulationSettings(*(get(resolved, f"simulation.{f.name}") for f in fields(SimulationSettings)))
    mean_field = MeanFieldSettings(*(get(resolved, f"quadrature.mean_field_{f.name}")
                                     for f in fields(MeanFieldSettings)))
    curves = _curves(resolved, quadrature, alphas, simulation)
    workers = common.resolve_workers(get(resolved, "run.workers"))
    check_limit("the number of points (curves x loads)", len(curves) * alphas.size, resolved, "max_points")
    _check_memory(curves, alphas, simulation, workers, resolved)
    return SweepConfig(resolved, resolved["output"], workers, alphas, solver, curves, simulation, mean_field)


def _alphas(resolved: dict) -> np.ndarray:
    table = resolved["alpha"]
    if "values" in table:
        check_limit("the number of loads (alpha.values)", len(table["values"]), resolved, "max_points")
        alphas = np.array(sorted(set(table["values"])))
        table["values"] = [float(a) for a in alphas]
        return alphas
    start, stop, num = table["start"], table["stop"], table["num"]
    if stop < start:
        raise UserInputError(f"config: alpha.stop ({stop!r}) must be >= alpha.start ({start!r})")
    check_limit("the number of loads (alpha.num)", num, resolved, "max_points")
    if num > 1 and stop == start:
        raise UserInputError(f"config: alpha.num = {num} loads between equal alpha.start and alpha.stop ({start!r})")
    return np.linspace(start, stop, num) if table["spacing"] == "linear" else np.geomspace(start, stop, num)


def _curves(resolved: dict, quadrature: QuadratureSettings, alphas: np.ndarray,
            simulation: SimulationSettings) -> tuple[CurveSpec, ...]:
    model = resolved["model"]
    names = ("activation", "normalizer", "method", "temperature", "zeta", "weight_decay", "noise", "batch_size",
             "bn_regularizer")
    axes = [list(dict.fromkeys(model[name])) for name in names]
    acts, norms, methods, temps, zetas, decays, noises, batches, regularizers = axes
    combinations = int(np.prod([len(a) for a in axes], dtype=float))
    if combinations > GRID_SCAN_LIMIT:
        check_limit("the size of the [model] grid", combinations, resolved, "max_curves")
    for act in acts:
        for method in methods:
            if method not in allowed_methods(act):
                raise UserInputError(f"config: method {method!r} is not defined for activation {act!r} "
                                     f"(allowed: {', '.join(allowed_methods(act))})")
    _check_pairs(acts, norms, methods, zetas, decays, batches)
    _check_mean_field(norms, methods, noises, regularizers)
    if "sim_sgd" in methods:
        samples = max(int(round(alphas[0] * simulation.size)), 2)
        if max(batches) > samples:
            raise UserInputError(f"config: sim_sgd batch size {max(batches)} exceeds the P = {samples} training "
                                 f"samples at alpha = {alphas[0]:g}, N = {simulation.size} (raise --size or the "
                                 "smallest alpha, or lower --batch-size)")
    seen: dict[tuple, None] = {}
    for act, norm, method, temp, zeta, decay, noise, batch, regularizer in itertools.product(*axes):
        if norm not in allowed_normalizers(method):
            continue  # e.g. bn x sim_gibbs in a grid that also asks for sim_sgd; an empty method is refused below
        record = NORMALIZERS[norm]
        key = (act, norm, method, temp if method in SAMPLING_METHODS else 0.0,
               zeta if record.penalty is Penalty.GAMMA_DECAY else 0.0,
               decay if record.penalty is Penalty.WEIGHT_DECAY else 0.0, noise,
               batch if record.batch_statistics or method == "sim_sgd" else 0,
               regularizer if record.penalty is Penalty.BATCH_ZETA and method in THEORY_METHODS else "gamma_decay")
        seen.setdefault(key, None)
    check_limit("the number of curves", len(seen), resolved, "max_curves")
    for method in methods:
        if not any(k[2] == method for k in seen):
            covered = ", ".join(allowed_normalizers(method))
            batch_trained = [n for n, r in NORMALIZERS.items() if r.batch_statistics and method not in r.methods]
            hint = f" (the real {', '.join(batch_trained)} student is simulated by sim_sgd)" if batch_trained else ""
            raise UserInputError(f"config: method {method!r} covers normalizers {covered}, none of which was asked "
                                 f"for{hint}")
    specs = [CurveSpec(f"{i:03d}-{k[0]}-{k[1]}-{k[2]}",
                       Problem(k[0], k[1], k[2], temperature=k[3], zeta=k[4], weight_decay=k[5], noise=k[6],
                               batch_size=k[7], bn_regularizer=k[8], quadrature=quadrature))
             for i, k in enumerate(seen)]
    names = common.distinguishing_names([s.name for s in specs], [s.parameters() for s in specs], NAMED_PARAMETERS)
    return tuple(CurveSpec(name, spec.problem) for name, spec in zip(names, specs, strict=True))


def _check_pairs(acts, norms, methods, zetas, decays, batches) -> None:
    """Refuse the combinations that make no sense, saying what to add (the rules read the model tables)."""
    for name in norms:
        record = NORMALIZERS[name]
        if record.penalty is Penalty.BATCH_ZETA:
            rough = [a for a in acts if not ACTIVATIONS[a].differentiable]
            if rough:
                raise UserInputError(f"config: normalizer {name!r} needs a differentiable activation (not "
                                     f"{', '.join(rough)}): its gamma decay comes from the loss curvature")
        if record.penalty is Penalty.GAMMA_DECAY and max(zetas) == 0.0:
            raise UserInputError(f"config: {name} at model.zeta = 0 has no gamma decay (it is pn): add --zeta "
                                 "(e.g. --zeta 0.1), or use --normalizer pn")
        sampled = [m for m in methods if m in ("gibbs", "sim_gibbs")]
        if record.penalty is Penalty.WEIGHT_DECAY and min(decays) == 0.0 and sampled:
            raise UserInputError(f"config: Gibbs learning of normalizer {name!r} needs model.weight_decay > 0 (with a "
                                 "flat prior the posterior is improper for alpha < 1): add --weight-decay (e.g. 0.5)")
        if min(batches) < record.min_batch:
            raise UserInputError(f"config: {name} needs model.batch_size >= {record.min_batch} (got {min(batches)}; "
                                 "a batch of one sample has no variance)")
        if "sim_sgd" in methods and min(batches) < record.min_sgd_batch:
            raise UserInputError(f"config: sim_sgd of {name} needs model.batch_size >= {record.min_sgd_batch} (got "
                                 f"{min(batches)}: at M = 2 the batch-normalized fields are +-1 whatever w is, and "
                                 "w never learns)")


def _check_mean_field(norms, methods, noises, regularizers) -> None:
    """bn_regularizer mean_field is bn's finite-M mean field (:mod:`statmech_bn.theory.bn_finite_m`): an ERM theory
    with label noise only (of every activation ERM allows: relu, linear, erf); refuse it for any other theory curve
    the grid would make."""
    if "mean_field" not in regularizers or not any(NORMALIZERS[n].penalty is Penalty.BATCH_ZETA for n in norms):
        return
    theories = [m for m in methods if m in THEORY_METHODS]
    other = [m for m in theories if m != "erm"]
    if other:
        raise UserInputError(f"config: bn_regularizer 'mean_field' is the ERM (T -> 0) theory of bn: method "
                             f"{other[0]!r} has none (use --method erm, or another --bn-regularizer)")
    if not theories:
        return
    if min(noises) == 0.0:
        raise UserInputError("config: bn_regularizer 'mean_field' needs label noise: model.noise > 0 (add --noise, "
                             "e.g. 0.5)")


def _check_memory(curves, alphas: np.ndarray, simulation: SimulationSettings, workers: int, resolved: dict) -> None:
    """Peak memory of the simulation tasks running at once: their N x P data matrices (float64) x a factor."""
    sims = [c for c in curves if c.is_simulation]
    if not sims:
        return
    samples = max(int(round(float(alphas[-1]) * simulation.size)), 2)
    per_task = max(MEMORY_FACTOR[c.problem.method] for c in sims) * 8.0 * simulation.size * samples
    at_once = min(workers, len(sims) * alphas.size)
    check_limit(f"the estimated memory of {at_once} simulation task(s) at N = {simulation.size}, "
                f"alpha = {alphas[-1]:g}", at_once * per_task / 1e9, resolved, "max_memory_gb", " GB")


def has_alpha_values(resolved: dict) -> bool:
    return has(resolved, "alpha.values")
