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
run stops at the plateau after ``lr_halvings`` halvings or after ``max_epochs`` epochs (not converged). A NaN or
infinite objective (a diverged run) stops the seed, flagged not converged.

Final full-batch phase (``final_partitions`` K > 0, the default): the plateau test sees the epoch objective through
its permutation noise (~1e-3 relative at N = 1000), so the rate is halved long before the slow directions of the
minimum have relaxed: measured at N = 1000 (benchmarks/sgd_schedule.py), eps_g of bn at M = 64, alpha = 3 still
rose by 0.035 from the (patience 5, 6 halvings) schedule to (50, 14), gamma by 0.2, i.e. the plateau schedule
stops early and the stopped student depends on the schedule. The minimum that SGD approaches is that of the
expected batch loss, the mean of the epoch objective over random partitions into batches; after the plateau
the student is taken to the minimum of its estimate, the mean over K fixed random partitions (one for the
normalizers without batch statistics, whose objective does not depend on the partition), by L-BFGS
(:func:`partitions_minimize`): its cost per evaluation is one pass over x (the fields h are shared by all
partitions) plus O(K P). The converged flag then also needs L-BFGS to stop on its tolerances at a small
gradient (:func:`final_phase` redraws the partitions when it stops at a cusp of the K-partition objective).

The student is evaluated as deployed: with population statistics (for ``bn`` the exact population mean 0 and
std |w|/sqrt(N) of its pre-activation, the limit of running averages), so eps_g follows from (R, gamma, beta).
``grad_norm``: the largest component of the gradient of the epoch objective (mean over the batches of one
fresh partition) at the final point, w-components included; ``eps_train``: the training error of the deployed
student, noise included.
"""

from __future__ import annotations

import math

import numpy as np

from ..kernels.codes import BATCH, PLAIN
from ..kernels.sgd import batch_gradient, partitions_objective, sgd_epoch
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


def train_sgd(problem: Problem, x: np.ndarray, y: np.ndarray, rng: np.random.Generator,
              settings: SimulationSettings) -> tuple[np.ndarray, np.ndarray, int, bool]:
    """Train one student on (x, y) by the schedule of the module docstring; (w, [gamma, beta], epochs, converged).

    The initial direction and every epoch's permutation are drawn from ``rng`` (in that order). A diverged run
    (NaN or infinite objective or parameters) stops at once, flagged not converged.
    """
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
    return w, scalars, epochs, converged


def training_statistics_deployment(fields: np.ndarray, norm: float, gamma: float,
                                   beta: float) -> tuple[float, float]:
    """(gain, shift) of the bn student deployed with the statistics of its training set instead of the population's.

    ``fields``: h_mu = w.x_mu/sqrt(N) over the P training inputs; ``norm``: sigma_P = |w|/sqrt(N), the population
    std of h. Deployed field gamma (h - mu_T)/s_T + beta with mu_T the training mean of h and s_T^2 =
    sum_mu (h_mu - mu_T)^2/(P - 1): the limit of running averages of the batch mean and of the unbiased batch
    variance (PyTorch's convention) over random batches drawn without replacement from the training set at fixed
    w. In the population-normalized field lambda = h/sigma_P the deployment is affine, gain * lambda + shift, with
    gain = gamma sigma_P/s_T and shift = beta - gamma mu_T/s_T, so eps_g follows exactly from (R, gain, shift).
    """
    mean = float(np.mean(fields))
    spread = math.sqrt(float(np.sum((fields - mean) ** 2)) / (fields.size - 1))
    return gamma * norm / spread, beta - gamma * mean / spread


FINAL_WINDOW = 25
"""Iterations over which the final phase's progress is judged."""
FINAL_DECREASE = 1e-9
"""The final phase stops when the objective fell by less than this per iteration, averaged over FINAL_WINDOW
iterations. relu's kinks keep the gradient of the stationary point finite (|gradient| ~ 1e-3 at N = 1000), so the
gradient cannot be the test. Measured on bn, relu, noise 0.5, M = 64, alpha = 3, N = 1000, K = 32 partitions: the rule
stops after ~200 iterations, where eps_g is 1e-5 from its value after 400 (and 0.04 above the SGD plateau it started
from). Two sets of K = 32 partitions gave minima whose eps_g differ by 2e-3, K = 32 and 128 by 2e-4 on that seed;
the default K = 128 adds ~30% to the phase's cost."""


def partitions_minimize(problem: Problem, x: np.ndarray, y: np.ndarray, w: np.ndarray, scalars: np.ndarray,
                        partitions: np.ndarray, max_iterations: int) -> tuple[bool, int, float]:
    """Final full-batch phase: minimize the mean over the fixed ``partitions`` (K, P) of the epoch objective by
    L-BFGS from (w, scalars), in place; (converged, iterations, |gradient|).

    Variables (w/sqrt(N), gamma, beta), in which every direction has O(1) curvature (the time convention of the SGD
    phase); ``|gradient|`` is the Euclidean norm of the objective's gradient in them at the end. Converged: the
    objective decreased by less than FINAL_DECREASE per iteration over the last FINAL_WINDOW iterations, or
    L-BFGS stopped on its own tolerances, before ``max_iterations``. ``gamma`` is not a variable of ``none``.
    """
    from scipy.optimize import minimize

    p, n = x.shape
    root = math.sqrt(n)
    kind, m = problem.norm.training, problem.batch_size
    coefficients, scratch, deltas = np.empty(p), np.empty(m), np.empty(m)
    plain = kind == PLAIN

    def objective(theta):
        v = theta[:n]
        gamma, beta = (1.0, theta[n]) if plain else (theta[n], theta[n + 1])
        value, c_w, d_gamma, d_beta = partitions_objective(problem.code, kind, x @ v, y, partitions, m,
                                                           float(v @ v), n, gamma, beta, problem.penalty,
                                                           problem.weight_decay, coefficients, scratch, deltas)
        grad_v = root * (coefficients @ x + c_w * root * v)
        return value, np.concatenate([grad_v, [d_beta] if plain else [d_gamma, d_beta]])

    history, stalled = [], [False]

    def stop_when_stalled(intermediate_result):
        history.append(float(intermediate_result.fun))
        if len(history) > FINAL_WINDOW and history[-1 - FINAL_WINDOW] - history[-1] < FINAL_DECREASE * FINAL_WINDOW:
            stalled[0] = True
            raise StopIteration

    start = np.concatenate([w / root, scalars[1:] if plain else scalars])
    result = minimize(objective, start, jac=True, method="L-BFGS-B", callback=stop_when_stalled,
                      options={"maxiter": max_iterations, "maxfun": 2 * max_iterations, "ftol": 1e-15,
                               "gtol": 1e-10, "maxcor": 20})
    w[:] = result.x[:n] * root
    if plain:
        scalars[1] = result.x[n]
    else:
        scalars[:] = result.x[n:]
    gradient = objective(result.x)[1]
    return stalled[0] or result.status == 0, int(result.nit), float(np.linalg.norm(gradient))


FINAL_ATTEMPTS = 4
"""Draws of the K partitions the final phase may use (each run from where the last one stopped)."""
FINAL_GRADIENT = 0.1
"""Largest |gradient| (Euclidean, in the variables of :func:`partitions_minimize`) accepted at the end of the final
phase. With K fixed partitions the objective has cusps where one batch's M fields nearly coincide (sigma_B -> 0
makes its normalized fields turn fast with w); L-BFGS can stop at one, stalled or with a failed line search, with a
gradient of 1 to 1e3. Measured (relu, bn, M = 4, alpha = 2, N = 500, seeds 0-3): at the minima reached |gradient| is
0.003-0.03; two seeds stopped at cusps (|gradient| 1.4 and 605) and, from there, fresh partitions reached minima
with 0.019 and 0.007. The expected batch loss that SGD descends has no such cusps (any one batch has weight -> 0)."""


def final_phase(problem: Problem, x: np.ndarray, y: np.ndarray, w: np.ndarray, scalars: np.ndarray,
                rng: np.random.Generator, settings: SimulationSettings) -> bool:
    """The final full-batch phase, in place: L-BFGS over K partitions drawn from ``rng``; True when it converged.

    A run that stops at a cusp of the K-partition objective (not converged, or |gradient| > FINAL_GRADIENT) is
    continued from where it stopped on freshly drawn partitions, up to FINAL_ATTEMPTS draws in all, within
    ``final_iterations`` iterations in total. One partition for the normalizers without batch statistics (their
    objective does not depend on it, and it has no cusps).
    """
    p = x.shape[0]
    count = settings.final_partitions if problem.norm.training == BATCH else 1
    budget = settings.final_iterations
    for _ in range(FINAL_ATTEMPTS):
        partitions = np.stack([rng.permutation(p) for _ in range(count)])
        converged, iterations, gradient = partitions_minimize(problem, x, y, w, scalars, partitions, budget)
        budget -= iterations
        if converged and gradient <= FINAL_GRADIENT:
            return True
        if budget <= 0 or not np.all(np.isfinite(w)):
            return False
    return False


def simulate_sgd(problem: Problem, alpha: float, settings: SimulationSettings, seed: int) -> SeedOutcome:
    """One seed of one load: draw the data, train to the plateau, measure the deployed student."""
    rng = np.random.Generator(np.random.PCG64(seed))
    teacher, x, y = teacher_data(problem, alpha, settings.size, rng)
    p, n = x.shape
    w, scalars, epochs, converged = train_sgd(problem, x, y, rng, settings)
    if settings.final_partitions > 0 and converged:
        converged = final_phase(problem, x, y, w, scalars, rng, settings)
    steps = float(epochs * (p // problem.batch_size))
    gamma, beta = float(scalars[0]), float(scalars[1])
    with np.errstate(over="ignore", invalid="ignore"):  # a diverged run is flagged below, not warned about
        norm_square = float(w @ w)
    finite = math.isfinite(norm_square) and norm_square > 0.0 and math.isfinite(gamma) and math.isfinite(beta)
    if not finite:
        nan = math.nan
        return SeedOutcome(eps_gen=nan, eps_train=nan, overlap=nan, norm=nan, gamma=nan, beta=nan, converged=False,
                           steps=steps, grad_norm=nan)
    grad_norm = epoch_gradient_norm(problem, x, y, w, scalars, rng.permutation(p), problem.batch_size)
    gain = gamma if problem.spherical else 1.0
    rules = problem.rules()
    eps_gen, overlap, norm = student_errors(problem, rules, w, teacher, gain, beta)
    h = x @ w / math.sqrt(n)
    lam = h / (math.sqrt(norm_square / n) if problem.spherical else 1.0)
    deployed = problem.act.numpy(gain * lam + beta)
    extra = {}
    if problem.norm.training == BATCH:
        train_gain, train_shift = training_statistics_deployment(h, norm, gamma, beta)
        extra = {"eps_gen_train_stats": student_errors(problem, rules, w, teacher, train_gain, train_shift)[0],
                 "gamma_train_stats": abs(train_gain), "beta_train_stats": train_shift}
    return SeedOutcome(eps_gen=eps_gen, eps_train=0.5 * float(np.mean((deployed - y) ** 2)), overlap=overlap,
                       norm=norm, gamma=abs(gamma) if problem.spherical else 1.0, beta=beta, converged=converged,
                       steps=steps, grad_norm=grad_norm, **extra)
