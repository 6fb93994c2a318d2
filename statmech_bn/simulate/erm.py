"""ERM at finite N: full-batch minimisation of the regularized training energy (T -> 0 of analysis C).

Energy (the Gibbs measure's exponent times T, :mod:`statmech_bn.theory.problem`):
``E = sum_mu l(y_mu, h_hat_mu) + P zeta gamma^2`` for the normalized students (pn, wn, pn_gd: zeta = 0 except
pn_gd) and ``E = sum_mu l(y_mu, h_mu + beta) + (wd/2)|w|^2`` for ``none``, with l = (y - g)^2/2.

For centered Gaussian inputs a normalized student's field is gamma w.x/|w| + beta = v.x/sqrt(N) + beta with
v = gamma sqrt(N) w/|w|, and P zeta gamma^2 = (2 alpha zeta/2)|v|^2: the normalized ERM *is* the
unnormalized one with weight decay 2 alpha zeta on v (the same identity the theory's tests check), so one
minimiser serves every normalizer, in the better-conditioned variables (v, beta); gamma = |v|/sqrt(N).

Minimiser: L-BFGS from ``inits`` starts (the first along X^T(y - mean y), the others random), restarted from
its end point (up to LBFGS_RESTARTS times) while the gradient tolerance is unmet and the energy still falls;
the lowest energy over starts is kept. relu's energy is not differentiable where a sample with y < 0 sits at
h_hat = 0, and an extensive set of samples sits exactly there at the minimum (the theory's proximal map
clamps them to 0), so L-BFGS alone stalls with an O(1e-2) gradient. :func:`relu_active_set` then solves the
minimum exactly: for a partition of the samples into active (h_hat > 0), kink (h_hat = 0, y < 0) and inactive ones, the
energy is a ridge least-squares problem under the linear constraints h_hat = 0 on the kink set; its KKT
system gives the point and the multipliers c_mu, and the point is stationary iff every c_mu lies in the
subdifferential [0, -y_mu] of its sample's loss and every sample is on its side of the kink. Violators change
set and the system is solved again. ``grad_norm`` is the largest component of the minimum-norm subgradient
(the gradient for linear and erf); a seed converged when it is at most ``gtol`` and the minimum is unique.
Without regularization (pn, wn, or pn_gd with zeta = 0, none with wd = 0) the minimum is not unique when at most
N + 1 samples constrain it (for relu: those on the active or kink side): the student can interpolate them and
its norm is arbitrary along the interpolating set — the degenerate regime where the replica theory's gain or
chi diverges. Such seeds are flagged not converged.
"""

from __future__ import annotations

import math

import numpy as np

from ..kernels.block import loss_and_gradient
from ..theory.problem import Problem
from .common import SeedOutcome, SimulationSettings, student_errors, teacher_data

ACTIVE_SET_ROUNDS = 50
LBFGS_RESTARTS = 5
RELU_PRESOLVE = 1000
"""L-BFGS iterations before relu's active-set solve (L-BFGS cannot meet the tolerance at the kink anyway)."""


def effective_ridge(problem: Problem, alpha_exact: float) -> float:
    """Weight decay on v of the unnormalized problem equivalent to ``problem`` (see the module docstring)."""
    if problem.spherical:
        return 2.0 * alpha_exact * problem.gamma_decay(0.0, 1.0, 0.0)
    return problem.weight_decay


def energy_and_gradient(code: int, x: np.ndarray, y: np.ndarray, ridge: float, grad_v: np.ndarray,
                        work: np.ndarray):
    """The objective of L-BFGS over theta = (v, beta): E and its gradient (N + 1,)."""
    n = x.shape[1]

    def objective(theta):
        energy, _, d_beta = loss_and_gradient(code, False, x, y, theta[:n], 1.0, theta[n], 0.0, ridge, grad_v, work)
        grad = np.empty(n + 1)
        grad[:n] = grad_v
        grad[n] = d_beta
        return energy, grad

    return objective


def relu_active_set(theta: np.ndarray, x: np.ndarray, y: np.ndarray, ridge: float):
    """Exact stationary point of the relu energy near ``theta`` (see the module docstring).

    Returns (theta, largest component of the minimum-norm subgradient, certified). ``certified`` is true when
    the partition stopped changing: every kink multiplier in [0, -y] and every sample on its side.
    """
    p, n = x.shape
    sqrt_n = math.sqrt(n)
    field = x @ theta[:n] / sqrt_n + theta[n]
    width = 1e-6 * max(float(np.abs(field).max()), 1.0)
    kink = (np.abs(field) <= width) & (y < 0.0)
    active = (field > 0.0) & ~kink
    multipliers = np.zeros(0)
    certified = False
    for _ in range(ACTIVE_SET_ROUNDS):
        rows_a, rows_k = np.flatnonzero(active), np.flatnonzero(kink)
        design = np.hstack([x[rows_a] / sqrt_n, np.ones((rows_a.size, 1))])
        constraints = np.hstack([x[rows_k] / sqrt_n, np.ones((rows_k.size, 1))])
        size = n + 1 + rows_k.size
        system = np.zeros((size, size))
        system[: n + 1, : n + 1] = design.T @ design
        system[np.arange(n), np.arange(n)] += ridge
        system[: n + 1, n + 1:] = constraints.T
        system[n + 1:, : n + 1] = constraints
        rhs = np.concatenate([design.T @ y[rows_a], np.zeros(rows_k.size)])
        try:
            solution = np.linalg.solve(system, rhs)
        except np.linalg.LinAlgError:
            break
        theta, multipliers = solution[: n + 1], solution[n + 1:]
        field = x @ theta[:n] / sqrt_n + theta[n]
        field[rows_k] = 0.0
        slack = 1e-10 * max(float(np.abs(y).max()), 1.0)
        too_low = rows_k[multipliers < -slack]
        too_high = rows_k[multipliers > -y[rows_k] + slack]
        wrong_side = np.flatnonzero((active & (field < 0.0)) | (~active & ~kink & (field > 0.0)))
        if too_low.size == too_high.size == wrong_side.size == 0:
            certified = True
            break
        kink[too_low] = False
        kink[too_high] = False
        active[too_high] = True
        negative = y[wrong_side] < 0.0
        kink[wrong_side[negative]] = True
        active[wrong_side[negative]] = False
        active[wrong_side[~negative]] = field[wrong_side[~negative]] > 0.0
    # the subgradient with the kink samples' coefficients clipped into their subdifferential
    field = x @ theta[:n] / sqrt_n + theta[n]
    residual = np.where(field > 0.0, field - y, 0.0)
    if certified and multipliers.size:
        residual[np.flatnonzero(kink)] = np.clip(multipliers, 0.0, -y[kink])
    grad = np.concatenate([x.T @ residual / sqrt_n + ridge * theta[:n], [residual.sum()]])
    return theta, float(np.abs(grad).max()), certified


def fit(problem: Problem, x: np.ndarray, y: np.ndarray, rng: np.random.Generator, settings: SimulationSettings):
    """(v, beta, energy, grad_norm, iterations, unique) of the lowest-energy start; v is the unnormalized weight."""
    from scipy import optimize  # 0.4 s to import: loaded by the first ERM simulation, not by every run

    p, n = x.shape
    ridge = effective_ridge(problem, p / n)
    objective = energy_and_gradient(problem.code, x, y, ridge, np.empty(n), np.empty(p))
    best = None
    iterations = 0
    for k in range(settings.inits):
        v0 = x.T @ (y - y.mean()) if k == 0 else rng.standard_normal(n)
        v0 *= math.sqrt(n) / max(float(np.linalg.norm(v0)), 1e-300)
        theta0 = np.concatenate([v0, [0.5 * float(np.mean(y))]])
        theta, grad_norm, energy = theta0, math.inf, math.inf
        for _ in range(LBFGS_RESTARTS):  # a restart clears a memory that ended in a failed line search
            budget = min(settings.max_iterations, RELU_PRESOLVE) if problem.act.kinked \
                else settings.max_iterations
            result = optimize.minimize(objective, theta, jac=True, method="L-BFGS-B",
                                       options={"maxiter": budget, "gtol": settings.gtol,
                                                "ftol": 0.0, "maxcor": 20})
            iterations += int(result.nit)
            improved = result.fun < energy
            theta, grad_norm, energy = result.x, float(np.abs(result.jac).max()), float(result.fun)
            if grad_norm <= settings.gtol or not improved or problem.act.kinked:
                break
        if problem.act.kinked:
            polished, polished_norm, _ = relu_active_set(theta, x, y, ridge)
            if objective(polished)[0] <= result.fun * (1.0 + 1e-12):
                theta, grad_norm = polished, polished_norm
        energy = objective(theta)[0]
        if best is None or energy < best[2]:
            best = (theta[:n].copy(), float(theta[n]), energy, grad_norm)
    v, beta = best[0], best[1]
    constraining = p
    if problem.act.kinked:
        field = x @ v / math.sqrt(n) + beta
        constraining = int(np.sum((field > 0.0) | ((np.abs(field) <= 1e-9) & (y < 0.0))))
    unique = ridge > 0.0 or constraining > n + 1
    return (*best, iterations, unique)


def simulate_erm(problem: Problem, alpha: float, settings: SimulationSettings, seed: int) -> SeedOutcome:
    """One seed of one load: draw the data, minimise, measure."""
    rng = np.random.Generator(np.random.PCG64(seed))
    teacher, x, y = teacher_data(problem, alpha, settings.size, rng)
    v, beta, energy, grad_norm, iterations, unique = fit(problem, x, y, rng, settings)
    p, n = x.shape
    ridge = effective_ridge(problem, p / n)
    gain = float(np.linalg.norm(v) / math.sqrt(n))
    eps_gen, overlap, norm = student_errors(problem, problem.rules(), v, teacher, gain, beta)
    return SeedOutcome(eps_gen=eps_gen, eps_train=(energy - 0.5 * ridge * float(v @ v)) / p, overlap=overlap,
                       norm=norm, gamma=gain if problem.spherical else 1.0, beta=beta,
                       converged=unique and grad_norm <= settings.gtol, steps=iterations, grad_norm=grad_norm)
