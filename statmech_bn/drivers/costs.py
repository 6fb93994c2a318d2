"""Estimated CPU time of a point, for the plan printed before a run and the weights of its ETA.

Rough models calibrated on the reference 2-core machine (warm Numba cache): an estimate to decide whether to
start a run, not a promise. The scale of each model (the work that grows with N, P, the seeds and the steps) is
what matters; the constants only set the unit.
"""

from __future__ import annotations

from ..model import ACTIVATIONS, NORMALIZERS, Penalty

THEORY_SECONDS = {
    ("linear", "gibbs"): (0.002, 0.002), ("linear", "erm"): (0.002, 0.002),
    ("linear", "high_temperature"): (0.002, 0.002),
    ("relu", "gibbs"): (0.012, 0.096), ("relu", "erm"): (0.002, 0.01), ("relu", "high_temperature"): (0.002, 0.002),
    ("erf", "gibbs"): (0.15, 1.36), ("erf", "erm"): (0.29, 2.43), ("erf", "high_temperature"): (0.004, 0.022),
    ("sign", "gibbs"): (0.006, 0.043), ("sign", "high_temperature"): (0.002, 0.002),
}
"""Seconds per point with both continuation branches, (noise-free, with label noise): benchmarks/bench_curves.py
(pn_gd, T = 0.5, 50 loads), at least 2 ms for the storing."""
ONE_BRANCH = 0.55
"""Cost of one continuation branch relative to both."""
BN_THEORY_FACTOR = 1.5
"""bn's theory evaluates zeta(M) at every iteration."""
MULTIPLY_ADD_SECONDS = 0.15e-9
"""One multiply-add of the dense N x P products the simulations are made of."""
SIM_ERM_ITERATIONS = 300
SIM_SGD_EPOCHS = 200
SIM_SGD_FINAL_ITERATIONS = 200
"""Typical L-BFGS iterations per start, SGD epochs per seed and L-BFGS iterations of sim_sgd's final phase (each run
stops at its own tolerance or plateau; one iteration of the final phase costs about one epoch: two passes over x)."""


def theory_point(activation: str, method: str, normalizer: str, noisy: bool, branches: str) -> float:
    seconds = THEORY_SECONDS.get((activation, method), (0.3, 0.3))[int(noisy)]
    self_consistent = NORMALIZERS[normalizer].penalty is Penalty.BATCH_ZETA
    return seconds * (1.0 if branches == "both" else ONE_BRANCH) * (BN_THEORY_FACTOR if self_consistent else 1.0)


MEAN_FIELD_SECONDS = (8.0, 0.5)
"""CPU seconds of one point of bn's finite-M mean field with the default settings (20_000 batches), as a + b M:
measured 10.6 s (M = 4, alpha = 3, 47 iterations), 7.4 s (M = 4, alpha = 8, 34) and 12.1 s (M = 16, alpha = 8, 33)
at noise 0.5; a point that does not converge runs up to 300 iterations (README: up to 400 s at M = 64)."""


def mean_field_point(batch_size: int, settings) -> float:
    """One point of bn's finite-M mean field (:class:`statmech_bn.config.sweep.MeanFieldSettings`); the Monte-Carlo
    batches dominate, so the cost is scaled by their number."""
    fixed, per_member = MEAN_FIELD_SECONDS
    return (fixed + per_member * batch_size) * settings.batches / 20_000


def simulation_point(activation: str, method: str, alpha: float, settings, batch_size: int = 1) -> float:
    """All seeds of one load of a finite-N simulation."""
    n = settings.size
    p = max(round(alpha * n), 2)
    product = 2.0 * n * p * MULTIPLY_ADD_SECONDS
    if method == "sim_gibbs":
        if not ACTIVATIONS[activation].differentiable:  # Metropolis sweeps, not HMC
            per_seed = settings.chains * settings.trajectories * n * p * MULTIPLY_ADD_SECONDS
        else:
            per_seed = settings.chains * settings.trajectories * 0.75 * settings.leapfrog_steps * product
    elif method == "sim_erm":
        per_seed = settings.inits * min(SIM_ERM_ITERATIONS, settings.max_iterations) * product
    else:
        final = min(SIM_SGD_FINAL_ITERATIONS, settings.final_iterations) if settings.final_partitions > 0 else 0
        per_seed = (min(SIM_SGD_EPOCHS, settings.max_epochs) + final) * 2.0 * product
    return settings.seeds * per_seed


def ode_trajectory(normalizer: str, t_max: float, batch_size: int) -> float:
    base = 0.05 + 1e-3 * t_max
    return base * (5.0 * max(batch_size, 1) / 8.0 if NORMALIZERS[normalizer].batch_statistics else 1.0)


def simulated_trajectory(method: str, t_max: float, size: int, seeds: int, batch_size: int) -> float:
    steps = t_max * size
    per_step = 3.5e-9 * size * batch_size if method == "sim" else 1.1e-7 + 2e-8 * batch_size**2
    return seeds * steps * per_step


TABLE_SECONDS = {"thresholds": (1.5, 4.0, 15.0), "eta_scan": (0.3, 0.3, 2.0), "stationary": (0.3, 0.3, 2.0)}
"""Seconds per entry of the dynamics tables (maximal rate at one M; one eta of a scan or of a branch): (a teacher
threshold, a stationary branch by quadrature, a branch of batch statistics by Monte Carlo)."""


def table_point(kind: str, normalizer: str) -> float:
    record = NORMALIZERS[normalizer]
    return TABLE_SECONDS[kind][2 if record.batch_statistics else 1 if record.stationary_branch else 0]


def decompose_point(batches: int, batch_size: int) -> float:
    return 6e-8 * batches * batch_size + 0.01
