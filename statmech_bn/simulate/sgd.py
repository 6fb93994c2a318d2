"""Mini-batch SGD of the block on a fixed training set (analysis C): the real ``bn`` student and its rivals.

``bn`` trains through the statistics of its batch (kernel :mod:`statmech_bn.kernels.sgd`, kind BATCH);
``pn``, ``wn``, ``pn_gd`` through the population statistics of the centered Gaussian inputs (kind POPULATION:
pn and wn are the same student here), ``none`` through h + beta with weight decay (kind PLAIN). Every seed
starts from a random direction with |w| = sqrt(N), gamma = 1, beta = 0, and draws a fresh permutation of the
training set per epoch.

Learning rate: ``learning_rate`` eta is per sample: the step is eta M times the batch-mean gradient for w and
eta M/N for gamma and beta (so that all order parameters move on one time scale, t = samples seen/N), so an
epoch is the same amount of learning for every batch size M. The learning rate is halved whenever the epoch's
mean training objective has not improved by the relative amount ``improvement`` for ``patience`` epochs; the
run stops at the plateau after ``lr_halvings`` halvings (converged) or after ``max_epochs`` epochs (not
converged). A NaN or infinite objective (a diverged run) stops the seed, flagged not converged.

The student is evaluated as deployed: with population statistics (for ``bn`` the exact population mean 0 and
std |w|/sqrt(N) of its pre-activation, the limit of running averages), so eps_g follows from (R, gamma, beta).
``grad_norm``: the largest component of the gradient of the epoch objective (mean over the batches of one
fresh partition) at the final point, w-components included; ``eps_train``: the training error of the deployed
student, noise included.
"""

from __future__ import annotations

import math

import numpy as np

from ..kernels.sgd import batch_gradient, sgd_epoch
from ..theory.problem import Problem
from .common import SeedOutcome, SimulationSettings, student_errors, teacher_data


def epoch_gradient_norm(problem: Problem, x, y, w, scalars, permutation, batch_size) -> float:
    """Largest component of the mean over the batches of ``permutation`` of the batch gradients."""
    p, n = x.shape
    kind, zeta = problem.norm.training, problem.penalty
    fields, deltas, grad_w = np.empty(batch_size), np.empty(batch_size), np.empty(n)
    total = np.zeros(n + 2)
    n_batches = p // batch_size
    for b in range(n_batches):
        rows = permutation[b * batch_size:(b + 1) * batch_size]
        _, d_gamma, d_beta = batch_gradient(problem.code, kind, x, y, rows, w, scalars[0], scalars[1], zeta,
                                            problem.weight_decay, fields, deltas, grad_w)
        total[:n] += grad_w
        total[n] += d_gamma
        total[n + 1] += d_beta
    return float(np.abs(total / n_batches).max())


def simulate_sgd(problem: Problem, alpha: float, settings: SimulationSettings, seed: int) -> SeedOutcome:
    """One seed of one load: draw the data, train to the plateau, measure the deployed student."""
    rng = np.random.Generator(np.random.PCG64(seed))
    teacher, x, y = teacher_data(problem, alpha, settings.size, rng)
    p, n = x.shape
    batch_size = problem.batch_size
    if not max(1, problem.norm.min_batch) <= batch_size <= p:
        raise ValueError(f"batch size {batch_size} does not fit a training set of {p} samples")
    kind, zeta = problem.norm.training, problem.penalty
    w = rng.standard_normal(n)
    w *= math.sqrt(n) / np.linalg.norm(w)
    scalars = np.array([1.0, 0.0])
    fields, deltas = np.empty(batch_size), np.empty(batch_size)
    rate = settings.learning_rate
    best, stale, halvings, epochs, converged = math.inf, 0, 0, 0, False
    while epochs < settings.max_epochs:
        permutation = rng.permutation(p)
        objective = sgd_epoch(problem.code, kind, x, y, permutation, batch_size, rate * batch_size,
                              rate * batch_size / n, zeta, problem.weight_decay, w, scalars, fields, deltas)
        epochs += 1
        if not (math.isfinite(objective) and np.all(np.isfinite(w)) and np.all(np.isfinite(scalars))):
            break
        if objective < best * (1.0 - settings.improvement):
            best, stale = objective, 0
            continue
        stale += 1
        if stale >= settings.patience:
            if halvings == settings.lr_halvings:
                converged = True
                break
            rate *= 0.5
            halvings += 1
            best, stale = objective, 0
    gamma, beta = float(scalars[0]), float(scalars[1])
    with np.errstate(over="ignore", invalid="ignore"):  # a diverged run is flagged below, not warned about
        norm_square = float(w @ w)
    finite = math.isfinite(norm_square) and norm_square > 0.0 and math.isfinite(gamma) and math.isfinite(beta)
    if not finite:
        nan = math.nan
        return SeedOutcome(eps_gen=nan, eps_train=nan, overlap=nan, norm=nan, gamma=nan, beta=nan, converged=False,
                           steps=float(epochs * (p // batch_size)), grad_norm=nan)
    grad_norm = epoch_gradient_norm(problem, x, y, w, scalars, rng.permutation(p), batch_size)
    gain = gamma if problem.spherical else 1.0
    eps_gen, overlap, norm = student_errors(problem, problem.rules(), w, teacher, gain, beta)
    lam = x @ w / (np.linalg.norm(w) if problem.spherical else math.sqrt(n))
    deployed = problem.act.numpy(gain * lam + beta)
    return SeedOutcome(eps_gen=eps_gen, eps_train=0.5 * float(np.mean((deployed - y) ** 2)), overlap=overlap,
                       norm=norm, gamma=abs(gamma) if problem.spherical else 1.0, beta=beta, converged=converged,
                       steps=float(epochs * (p // batch_size)), grad_norm=grad_norm)
