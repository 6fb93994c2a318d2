"""Order-parameter ODEs of online SGD of the block as N -> infinity (analysis B; Saad & Solla 1995, Biehl &
Schwarze 1995), in the conventions of :mod:`.problem` (t = steps/N; eta for w, eta/N for gamma and beta).

State y = (m, Q, gamma, beta) with m = w.w*/N = R L and Q = |w|^2/N = L^2. With the batch-mean error signals of
:mod:`statmech_bn.kernels.dynamics` (d = (g(a) - g(u) - noise xi) g'(a)) and |x|^2/N -> 1, x_j.x_k/N -> 0:

    none (a = L lambda + beta, gamma = 1):
        dm/dt = -eta E[d u] - eta wd m
        dQ/dt = -2 eta L E[d lambda] + (eta^2/M) E[d^2] - 2 eta wd Q
        dbeta/dt = -eta E[d]
    pn, wn, pn_gd (a = gamma lambda + beta; the w-gradient is orthogonal to w), kappa = gamma/L:
        dm/dt = -eta kappa E[d (u - R lambda)] - eta wd m
        dQ/dt = (eta^2 kappa^2/M) E[d^2] - 2 eta wd Q
        dgamma/dt = -eta (E[d lambda] + 2 zeta gamma),  dbeta/dt = -eta E[d]
    bn (batch statistics; e_j the signal backpropagated through the batch mean and std):
        dm/dt = -eta kappa E[mean_j e_j (u_j - R lambda_j)] - eta wd m
        dQ/dt = (eta^2 kappa^2/M) E[mean_j e_j^2] - 2 eta wd Q
        dgamma/dt = -eta E[mean_j d_j z_j],  dbeta/dt = -eta E[mean_j d_j]

so that dR/dt = -eta_eff E[d(u - R lambda)] - R eta_eff^2 E[d^2]/(2M) for the normalized students, with the
effective learning rate eta_eff = eta gamma/L^2 (the growth of L lowers it by itself). Per-sample averages are
2-D quadratures split at the kinks; the bn averages are Monte-Carlo means over ``batches`` fixed batches of M
samples (common random numbers: the right-hand side is a smooth function of the state), whose standard errors
are returned with the trajectory.

Closed form (none, linear, M, noise sigma, beta = 0): e = 2 eps_g = Q - 2m + 1 obeys
de/dt = -eta (2 - eta/M) e + eta^2 sigma^2/M: convergence iff eta < 2M (eta_max = 2 for M = 1) and
e -> eta sigma^2/(2M - eta), i.e. eps_g -> eta sigma^2/(2(2 - eta)) for M = 1 (SCIENCE.md).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from scipy import integrate

from ..kernels.dynamics import BATCH_SLOTS, SAMPLE_SLOTS, batch_averages, sample_averages
from ..quadrature import DRIFT_NODES, TAIL_CUT, legendre
from ..theory.problem import generalization_error
from .problem import DynamicsProblem

BN_BATCHES = 8000


@dataclass(frozen=True)
class Trajectory:
    """Order parameters at the output times. ``converged``: the integration reached the last time without
    diverging (``message`` says what happened otherwise); ``drift_sem`` is the largest standard error of the
    Monte-Carlo bn averages (the E[...] of the drift, absolute) along the run (0 for the quadrature normalizers)."""

    t: np.ndarray
    overlap: np.ndarray
    norm: np.ndarray
    gamma: np.ndarray
    beta: np.ndarray
    eps_gen: np.ndarray
    eta_eff: np.ndarray
    converged: bool
    message: str
    drift_sem: float


@functools.lru_cache(maxsize=8)
def bn_batches(seed: int, batches: int, batch_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The fixed standard normals (lambda, v, xi), each (batches, M), of bn's Monte-Carlo drift for one seed.

    Drawn once per (seed, batches, M) and shared read-only: a continuation in eta builds a Drift per step, and
    redrawing identical batches took half its time.
    """
    rng = np.random.Generator(np.random.PCG64(seed))
    arrays = tuple(rng.standard_normal((batches, batch_size)) for _ in range(3))
    for array in arrays:
        array.flags.writeable = False
    return arrays


class Drift:
    """The right-hand side of the ODE for one problem (allocates the quadrature rule and the bn samples once)."""

    def __init__(self, problem: DynamicsProblem, seed: int = 0, batches: int = BN_BATCHES):
        self.problem = problem
        x, w = legendre(DRIFT_NODES)
        self._rule = (x, w, TAIL_CUT, np.empty(5 * DRIFT_NODES), np.empty(5 * DRIFT_NODES),
                      np.empty(2 * DRIFT_NODES), np.empty(2 * DRIFT_NODES))
        self._out = np.empty(max(SAMPLE_SLOTS, BATCH_SLOTS))
        self._sem = np.zeros(BATCH_SLOTS)
        self.max_sem = 0.0
        if problem.norm.batch_statistics:
            self._lam, self._v, self._xi = bn_batches(seed, batches, problem.batch_size)

    def __call__(self, t: float, y: np.ndarray) -> np.ndarray:
        p = self.problem
        m, q, gamma, beta = y
        norm = math.sqrt(max(q, 1e-300))
        overlap = min(max(m / norm, -1.0), 1.0)
        eta, decay, size = p.learning_rate, p.weight_decay, p.batch_size
        out = self._out
        if p.norm.batch_statistics:
            batch_averages(p.code, overlap, gamma, beta, p.noise, self._lam, self._v, self._xi, out, self._sem)
            self.max_sem = max(self.max_sem, float(np.max(self._sem)))
            kappa = gamma / norm
            return np.array([-eta * kappa * out[0] - eta * decay * m,
                             eta**2 * kappa**2 * out[1] / size - 2 * eta * decay * q,
                             -eta * out[2], -eta * out[3]])
        scale = gamma if p.spherical else norm
        sample_averages(p.code, overlap, scale, beta, p.noise, *self._rule, out)
        e_d, e_dl, e_du, e_dd = out[:SAMPLE_SLOTS]
        if p.spherical:
            kappa = gamma / norm
            return np.array([-eta * kappa * (e_du - overlap * e_dl) - eta * decay * m,
                             eta**2 * kappa**2 * e_dd / size - 2 * eta * decay * q,
                             -eta * (e_dl + 2.0 * p.penalty * gamma), -eta * e_d])
        return np.array([-eta * e_du - eta * decay * m,
                         -2 * eta * norm * e_dl + eta**2 * e_dd / size - 2 * eta * decay * q,
                         0.0, -eta * e_d])


def initial_state(problem: DynamicsProblem) -> np.ndarray:
    q = problem.initial_norm**2
    return np.array([problem.initial_overlap * problem.initial_norm, q, problem.initial_gamma, problem.initial_beta])


def observables(problem: DynamicsProblem, states: np.ndarray):
    """(R, L, gamma, beta, eps_g, eta_eff) of states (k, 4); eps_g deployed with population statistics."""
    theory = problem.deployed()
    rules = theory.rules()
    m, q, gamma, beta = states.T
    norm = np.sqrt(np.maximum(q, 0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        overlap = np.clip(m / norm, -1.0, 1.0)
    gain = gamma if problem.spherical else norm
    eps = np.array([generalization_error(theory, rules, r, s, b) if np.isfinite(r * s * b) else math.nan
                    for r, s, b in zip(overlap, gain, beta, strict=True)])
    eta_eff = problem.learning_rate * (gamma / norm**2 if problem.spherical else np.ones_like(norm))
    return overlap, norm, (gamma if problem.spherical else np.ones_like(gamma)), beta, eps, eta_eff


def integrate_ode(problem: DynamicsProblem, times: np.ndarray, seed: int = 0, rtol: float = 1e-8,
                  atol: float = 1e-10, blowup: float = 1e6) -> Trajectory:
    """Integrate from the problem's initial state to the output ``times`` (RK45).

    For bn the Monte-Carlo right-hand side is piecewise smooth (relu's kink moves through the fixed samples), so
    its tolerances are capped at 1e-6, well below its Monte-Carlo error.
    """
    drift = Drift(problem, seed)
    if problem.norm.batch_statistics:
        rtol, atol = max(rtol, 1e-6), max(atol, 1e-8)

    def exploded(t, y):
        return blowup - float(np.max(np.abs(y)))

    exploded.terminal = True
    solution = integrate.solve_ivp(drift, (0.0, float(times[-1])), initial_state(problem), method="RK45",
                                   t_eval=times, rtol=rtol, atol=atol, events=exploded)
    states = np.full((times.size, 4), np.nan)
    states[: solution.y.shape[1]] = solution.y.T
    converged = bool(solution.success and solution.y.shape[1] == times.size)
    r, norm, gamma, beta, eps, eta_eff = observables(problem, states)
    return Trajectory(times, r, norm, gamma, beta, eps, eta_eff, converged,
                      solution.message if converged else "diverged or failed: " + solution.message,
                      drift.max_sem)
