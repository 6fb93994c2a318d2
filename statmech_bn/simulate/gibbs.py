"""Gibbs learning at finite N: Hamiltonian Monte Carlo of the posterior at temperature T (analysis C).

Posterior and potential: :mod:`statmech_bn.kernels.sampling`. Per seed, ``chains`` chains start from
overdispersed points (chain 0 along X^T(y - mean y), i.e. close to the teacher; the others from random
directions). Each runs ``trajectories`` HMC trajectories of a random number of leapfrog steps (uniform in
[L/2, L], which avoids periodic orbits) with unit mass for w and mass N for gamma and beta (their curvature is
N times larger: they are O(1) parameters of an extensive energy). During the first half (burn-in) the step
size adapts toward an acceptance probability of 0.75; it is then frozen and the second half is sampled.

eps_g of a seed is the posterior mean of the student's eps_g(R, gain, beta) over the sampled half of every
chain (the Gibbs error the replica theory computes). Equilibration is tested, not assumed: the split R-hat
(Gelman & Rubin 1992; Gelman et al., Bayesian Data Analysis, 3rd ed., sec. 11.4) of the energy and of R over
the chains' sampled halves; the seed counts as equilibrated when both are at most ``rhat_max``.
"""

from __future__ import annotations

import math

import numpy as np

from ..kernels.sampling import leapfrog, potential_and_gradient, sign_metropolis_sweep
from ..theory.problem import Problem
from .common import SeedOutcome, SimulationSettings, student_errors, teacher_data

TARGET_ACCEPTANCE = 0.75
ADAPTATION_RATE = 0.05
RECORD_EVERY = 1
SIGN_TARGET_ACCEPTANCE = 0.4


def split_rhat(chains: np.ndarray) -> float:
    """Split R-hat of samples (chains, draws): sqrt(var_plus/W) over the chains cut in halves."""
    half = chains.shape[1] // 2
    if half < 2:
        return math.nan
    pieces = np.concatenate([chains[:, :half], chains[:, half:2 * half]])
    n = pieces.shape[1]
    within = pieces.var(axis=1, ddof=1).mean()
    between = n * pieces.mean(axis=1).var(ddof=1)
    if within == 0.0:
        return 1.0 if between == 0.0 else math.inf
    return float(math.sqrt(((n - 1) / n * within + between / n) / within))


def _start(problem: Problem, x, y, rng, informed: bool) -> np.ndarray:
    p, n = x.shape
    w = x.T @ (y - y.mean()) if informed else rng.standard_normal(n)
    w *= math.sqrt(n) / max(float(np.linalg.norm(w)), 1e-300)
    return np.concatenate([w, [1.0, 0.5 * float(np.mean(y)) if informed else 0.0]])


def run_chain(problem: Problem, x, y, teacher, theta, settings: SimulationSettings, rng, rules):
    """One chain: (records of the sampled half, acceptance rate there, gradient evaluations).

    A record is (E, R, eps_g, |gain|, beta, L) of one state, every RECORD_EVERY trajectories.
    """
    p, n = x.shape
    spherical = problem.spherical
    temperature, zeta, decay = problem.temperature, problem.gamma_decay(0.0, 1.0, 0.0), problem.weight_decay
    inverse_mass = np.ones(n + 2)
    inverse_mass[n:] = 1.0 / n
    if not spherical:
        inverse_mass[n] = 0.0
    grad, work = np.empty(n + 2), np.empty(p)
    potential = potential_and_gradient(problem.code, spherical, x, y, theta, temperature, zeta, decay, grad, work)
    curvature = (p / n) / temperature * 4.0 + 1.0
    step = 0.5 / math.sqrt(curvature)
    burn_in = settings.trajectories // 2
    records, accepted, gradients = [], 0, 0
    for k in range(settings.trajectories):
        momentum = rng.standard_normal(n + 2) / np.sqrt(np.where(inverse_mass > 0, inverse_mass, 1.0))
        momentum[inverse_mass == 0.0] = 0.0
        kinetic = 0.5 * float(np.sum(inverse_mass * momentum**2))
        n_steps = int(rng.integers(settings.leapfrog_steps // 2 + 1, settings.leapfrog_steps + 1))
        uniform = rng.random()
        gradients += n_steps
        proposal, proposal_grad = theta.copy(), grad.copy()
        new_potential, new_kinetic = leapfrog(problem.code, spherical, x, y, proposal, momentum, inverse_mass, step,
                                              n_steps, temperature, zeta, decay, proposal_grad, work)
        log_ratio = potential + kinetic - new_potential - new_kinetic
        accept_probability = math.exp(min(log_ratio, 0.0)) if math.isfinite(log_ratio) else 0.0
        if uniform < accept_probability:
            theta, grad, potential = proposal, proposal_grad, new_potential
            if k >= burn_in:
                accepted += 1
        if k < burn_in:
            step *= math.exp(ADAPTATION_RATE * (accept_probability - TARGET_ACCEPTANCE))
        elif (k - burn_in) % RECORD_EVERY == 0:
            gamma = theta[n] if spherical else 1.0
            eps, overlap, norm = student_errors(problem, rules, theta[:n], teacher, gamma, theta[n + 1])
            prior = 0.5 * float(theta[:n] @ theta[:n]) if spherical else 0.0
            records.append((temperature * (potential - prior), overlap, eps, abs(gamma), theta[n + 1], norm))
    sampled = settings.trajectories - burn_in
    return np.array(records), accepted / max(sampled, 1), gradients


def run_sign_chain(problem: Problem, columns, y, teacher, w, settings: SimulationSettings, rng, rules):
    """One single-site Metropolis chain of the sign student (no gradient: HMC does not apply); one sweep of N
    proposals per trajectory of the settings. The proposal width adapts toward acceptance 0.4 during burn-in.
    Same outputs as :func:`run_chain` (gain 1, beta 0: the sign theory's fixed point)."""
    n, p = columns.shape
    fields = columns.T @ w / math.sqrt(n)
    width = 1.0
    burn_in = settings.trajectories // 2
    records, accepted, proposals_made = [], 0, 0
    for k in range(settings.trajectories):
        proposals = width * rng.standard_normal(n)
        uniforms = rng.random(n)
        moved = sign_metropolis_sweep(columns, y, w, fields, problem.temperature, proposals, uniforms)
        proposals_made += n
        if k < burn_in:
            width *= math.exp(ADAPTATION_RATE * (moved / n - SIGN_TARGET_ACCEPTANCE))
            continue
        accepted += moved
        if (k - burn_in) % RECORD_EVERY == 0:
            sign = np.where(fields > 0.0, 1.0, np.where(fields < 0.0, -1.0, 0.0))
            energy = 0.5 * float(np.sum((y - sign) ** 2))
            eps, overlap, norm = student_errors(problem, rules, w, teacher, 1.0, 0.0)
            records.append((energy, overlap, eps, 1.0, 0.0, norm))
    sampled = settings.trajectories - burn_in
    return np.array(records), accepted / max(sampled * n, 1), proposals_made


def simulate_gibbs(problem: Problem, alpha: float, settings: SimulationSettings, seed: int) -> SeedOutcome:
    """One seed of one load: draw the data, run the chains, test equilibration, average."""
    rng = np.random.Generator(np.random.PCG64(seed))
    teacher, x, y = teacher_data(problem, alpha, settings.size, rng)
    rules = problem.rules()
    if not problem.act.differentiable:  # no gradient for HMC: single-site Metropolis over the direction
        columns = np.ascontiguousarray(x.T)
        runs = [run_sign_chain(problem, columns, y, teacher, _start(problem, x, y, rng, informed=c == 0)[:-2],
                               settings, rng, rules) for c in range(settings.chains)]
    else:
        runs = [run_chain(problem, x, y, teacher, _start(problem, x, y, rng, informed=c == 0), settings, rng, rules)
                for c in range(settings.chains)]
    samples = np.stack([r[0] for r in runs])  # (chains, draws, field)
    acceptance = float(np.mean([r[1] for r in runs]))
    rhat = max(split_rhat(samples[:, :, 0]), split_rhat(samples[:, :, 1]))
    flat = samples.reshape(-1, samples.shape[2])
    energy, overlap, eps, gamma, beta, norm = flat.mean(axis=0)
    p = x.shape[0]
    penalty = 0.0 if not problem.act.differentiable else (
        p * problem.gamma_decay(0.0, 1.0, 0.0) * float(np.mean(flat[:, 3] ** 2)) if problem.spherical
               else 0.5 * problem.weight_decay * settings.size * float(np.mean(flat[:, 5] ** 2)))
    finite = bool(np.all(np.isfinite(flat)))
    return SeedOutcome(eps_gen=float(eps), eps_train=float(energy - penalty) / p, overlap=float(overlap),
                       norm=float(norm), gamma=float(gamma) if problem.spherical else 1.0, beta=float(beta),
                       converged=finite and rhat <= settings.rhat_max,
                       steps=float(sum(r[2] for r in runs)),
                       acceptance_rate=acceptance, rhat=rhat)
