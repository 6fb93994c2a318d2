"""What every finite-width simulation shares: settings, seeds, the teacher's data, and the per-point record.

Conventions (SCIENCE.md, analysis C): teacher w* with |w*|^2 = N, P = round(alpha N) inputs with i.i.d.
N(0, 1) components, labels y = g(u) + noise xi with u = w*.x/sqrt(N). Every random number of a seed comes
from ``numpy.random.Generator(PCG64(seed))`` in a fixed order (teacher, inputs, labels, then the method's own
draws), so a seed reproduces its run bit for bit. eps_g of a student is exact from its order parameters
(R, gain, beta) for Gaussian inputs (:func:`statmech_bn.theory.problem.generalization_error`): no test set
is needed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..seeds import derive_seeds
from ..statistics import mean_and_sem
from ..theory.problem import Problem, generalization_error


@dataclass(frozen=True)
class SimulationSettings:
    """Finite-N settings shared by the simulation methods (the ``[simulation]`` table; documented defaults).

    size: width N. seeds: independent teachers/training sets per load. seed: master seed (every point's seeds
    derive from it, the curve and alpha, and are stored).

    ERM: ``inits`` starts per seed; ``gtol`` on the largest component of the (sub)gradient of the total energy
    (1e-5: the total energy is a sum of P terms, so its float64 round-off, ~1e-16 E, lets a line search resolve
    gradients down to ~sqrt(1e-16 E curvature) ~ 1e-6 at N = 300..1000; a gradient of 1e-5 moves eps_g by
    ~1e-10); ``max_iterations`` of L-BFGS.

    Gibbs (Hamiltonian Monte Carlo): ``chains`` per seed, ``trajectories`` per chain (the first half is burn-in,
    where the step adapts), ``leapfrog_steps`` per trajectory; equilibrated when the split R-hat of the energy
    and of R is at most ``rhat_max`` (1.1: the threshold of Gelman & Rubin 1992 and of Gelman et al., Bayesian
    Data Analysis, 3rd ed., sec. 11.4; with a few hundred draws per chain the statistic fluctuates by ~0.02).

    SGD: learning rate ``learning_rate`` per sample (:mod:`.sgd`), halved when the epoch's training objective
    has not improved by ``improvement`` (relative) for ``patience`` epochs, stopped after ``lr_halvings``
    halvings or ``max_epochs`` epochs; then (``final_partitions`` K > 0) L-BFGS, at most ``final_iterations``
    iterations, on the mean of the epoch objective over K fixed random partitions (:mod:`.sgd`).
    """

    size: int = 1000
    seeds: int = 5
    seed: int = 2026
    inits: int = 3
    gtol: float = 1e-5
    max_iterations: int = 5000
    chains: int = 2
    trajectories: int = 400
    leapfrog_steps: int = 16
    rhat_max: float = 1.1
    learning_rate: float = 0.5
    max_epochs: int = 2000
    patience: int = 5
    improvement: float = 1e-4
    lr_halvings: int = 6
    final_partitions: int = 128
    final_iterations: int = 3000


def point_seeds(master: int, curve_key: str, alpha: float, count: int) -> list[int]:
    """The per-seed PCG64 seeds of one (curve, alpha) point: a function of the master seed, the curve's
    physical key and alpha only (:mod:`statmech_bn.seeds`), so the same point gets the same seeds in any grid."""
    return derive_seeds(master, curve_key, count, float(alpha))


def teacher_data(problem: Problem, alpha: float, n: int, rng: np.random.Generator):
    """(teacher (N,), inputs (P, N) C-contiguous, labels (P,)) of one seed, drawn in that order."""
    teacher = rng.standard_normal(n)
    teacher *= math.sqrt(n) / np.linalg.norm(teacher)
    p = max(int(round(alpha * n)), 2)
    x = rng.standard_normal((p, n))
    u = x @ teacher / math.sqrt(n)
    labels = problem.act.numpy(u) + problem.noise * rng.standard_normal(p)
    return teacher, x, labels


@dataclass
class SeedOutcome:
    """One seed's student: order parameters and diagnostics (NaN where a method has none)."""

    eps_gen: float
    eps_train: float
    overlap: float
    norm: float
    gamma: float
    beta: float
    converged: bool
    steps: float
    grad_norm: float = math.nan
    acceptance_rate: float = math.nan
    rhat: float = math.nan
    eps_gen_train_stats: float = math.nan
    gamma_train_stats: float = math.nan
    beta_train_stats: float = math.nan


def student_errors(problem: Problem, rules, weights: np.ndarray, teacher: np.ndarray, gamma: float,
                   beta: float) -> tuple[float, float, float]:
    """(eps_g, R, L) of a student; the gain is gamma for the normalized students and L for ``none``.

    (gamma, w) and (-gamma, -w) are the same normalized student: R is taken for the sign with gamma >= 0.
    """
    n = weights.shape[0]
    norm = float(np.linalg.norm(weights) / math.sqrt(n))
    overlap = float(weights @ teacher / (norm * n)) if norm > 0 else 0.0
    if problem.spherical and gamma < 0.0:
        gamma, overlap = -gamma, -overlap
    scale = gamma if problem.spherical else norm
    return generalization_error(problem, rules, overlap, scale, beta), overlap, norm


def point_record(alpha: float, seeds: list[int], outcomes: list[SeedOutcome]) -> dict:
    """Mean, standard error and per-seed values of eps_g, means (and per-seed values of R and gamma) of the order
    parameters, worst diagnostics; bn by sim_sgd also eps_g deployed with training-set statistics (NaN otherwise).

    ``converged`` is true only if every seed converged (reached its tolerance or passed its equilibration
    test); the per-seed values are stored whatever the flag says.
    """
    eps = np.array([o.eps_gen for o in outcomes])
    eps_mean, eps_sem = mean_and_sem(eps)

    def values(name):
        return np.array([getattr(o, name) for o in outcomes], dtype=float)

    def mean(name):
        return float(np.mean(values(name)))

    def worst(name, pick):
        values = np.array([getattr(o, name) for o in outcomes])
        return float(pick(values)) if np.all(np.isfinite(values)) else math.nan

    return {
        "alpha": alpha,
        "eps_gen": float(eps_mean),
        "eps_gen_sem": float(eps_sem),
        "eps_gen_seeds": eps,
        "eps_train": mean("eps_train"),
        "R": mean("overlap"),
        "L": mean("norm"),
        "gamma": mean("gamma"),
        "beta": mean("beta"),
        "steps": mean("steps"),
        "grad_norm": worst("grad_norm", np.max),
        "acceptance_rate": worst("acceptance_rate", np.min),
        "rhat": worst("rhat", np.max),
        "converged": bool(all(o.converged for o in outcomes)),
        "seeds": np.array(seeds, dtype=np.int64),
        "R_seeds": values("overlap"),
        "gamma_seeds": values("gamma"),
        "eps_gen_train_stats": mean("eps_gen_train_stats"),
        "eps_gen_train_stats_seeds": values("eps_gen_train_stats"),
        "gamma_train_stats": mean("gamma_train_stats"),
        "beta_train_stats": mean("beta_train_stats"),
    }
