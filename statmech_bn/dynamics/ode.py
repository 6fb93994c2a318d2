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
2-D quadratures split at the kinks; the bn averages are exact integrals over the batch for relu at
4 <= M <= 12 (:mod:`statmech_bn.kernels.bn_exact`: the batch's mean and std and a point of the sphere of
normalized fields, within 1e-6 of a many-node reference), and otherwise Monte-Carlo means over ``batches`` fixed
batches of M samples (common random numbers: the right-hand side is a piecewise smooth function of the state),
whose standard errors are returned with the trajectory. The Monte-Carlo drift stays the tested reference of the
exact one (``Drift(..., monte_carlo=True)``, tests/test_bn_exact.py).

Closed form (none, linear, M, noise sigma, beta = 0): e = 2 eps_g = Q - 2m + 1 obeys
de/dt = -eta (2 - eta/M) e + eta^2 sigma^2/M: convergence iff eta < 2M (eta_max = 2 for M = 1) and
e -> eta sigma^2/(2M - eta), i.e. eps_g -> eta sigma^2/(2(2 - eta)) for M = 1 (SCIENCE.md).

Two ways to integrate (:func:`integrate_ode`). Where the per-sample averages have a closed form (Saad & Solla 1995;
:mod:`statmech_bn.kernels.saad_solla`) — a linear activation with any beta, or erf g(z) = erf(z/sqrt 2) started at
beta = 0 (erf is odd and the teacher has no bias, so E[d] = 0 and beta stays 0) — and the normalizer has no batch
statistics, the whole trajectory is one compiled call: Dormand-Prince 5(4) on the closed-form drift
(:mod:`statmech_bn.kernels.ode_rk`), at rtol/atol :data:`CLOSED_FORM_TOLERANCES`. relu (any beta; the bivariate
normal moments of :mod:`statmech_bn.kernels.relu_drift`) and sign (whose drift vanishes: g' = 0) take the same
path. Everything else (erf with a bias, bn) integrates :class:`Drift` (the quadrature or Monte-Carlo averages) by
SciPy's RK45 at :data:`QUADRATURE_TOLERANCES`; that path with the quadrature everywhere stays the reference of the
closed-form one (tests/test_saad_solla.py, tests/test_relu_drift.py).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from scipy import integrate

from ..kernels.bn_exact import bn_exact_averages
from ..kernels.codes import RELU
from ..kernels.dynamics import BATCH_SLOTS, SAMPLE_SLOTS, batch_averages, sample_averages
from ..kernels.ode_rk import BLOWUP, STEP_TOO_SMALL, SUCCESS, TOO_MANY_STEPS, dopri5_closed_form
from ..kernels.saad_solla import closed_form_averages, drift_from_averages, field_of_state, has_closed_form
from ..quadrature import DRIFT_NODES, TAIL_CUT, batch_rules, legendre
from ..theory.problem import generalization_error
from .problem import DynamicsProblem

BN_BATCHES = 8000
QUADRATURE_TOLERANCES = (1e-8, 1e-10)
"""(rtol, atol) of SciPy's RK45 on the quadrature drift (bn: capped at (1e-6, 1e-8), see :func:`integrate_ode`)."""
CLOSED_FORM_TOLERANCES = (1e-11, 1e-13)
"""(rtol, atol) of the compiled Dormand-Prince 5(4) on the closed-form drift, chosen by measurement to t = 100 (40
log-spaced outputs; erf and linear, none/pn/wn/pn_gd, M = 1 and 8, noise 0 and 0.3, eta 0.5 and 2, from R = 0.1,
L = 0.8, gamma = 1.2, beta = 0.2 for linear): the states are within 2.1e-11 of DOP853 at rtol 1e-13 on the same
drift, and every trajectory field within 5.4e-11 (relative to max(1, |value|)) of the quadrature drift integrated
by DOP853 at rtol 1e-12, which is that drift's own error. At (1e-10, 1e-12) the latter is 1.0e-9."""
MAX_STEPS = 10_000_000
"""Accepted steps after which the compiled integrator gives up (a safeguard: t = 100 takes 240 to 1100)."""


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


EXACT_BATCH_SIZES = (4, 12)
"""Batch sizes (inclusive) where bn's drift is integrated exactly (:func:`exact_batch_applies`). At the default nodes
(:data:`statmech_bn.quadrature.BATCH_SPHERE_NODES`, :data:`~statmech_bn.quadrature.BATCH_SCALE_NODES`) the averages
are within 5e-7 of a 64-node reference at M = 4 ... 8 and 1e-6 at M = 12 (relu, states with R from 0.3 to 1); the
error grows with M (the sphere's density concentrates: 3.5e-6 at M = 16, 3e-5 at M = 32), so larger batches keep the
Monte-Carlo drift, whose standard errors are ~1e-3."""


def exact_batch_applies(problem: DynamicsProblem) -> bool:
    """Whether bn's drift averages are computed by exact integration over the batch
    (:mod:`statmech_bn.kernels.bn_exact`): batch statistics, a relu activation and M in :data:`EXACT_BATCH_SIZES`.
    Elsewhere (erf, M = 3, M > 12, and linear) they are Monte-Carlo means over fixed batches. The kernel does linear
    too, but linear bn's branch sits at R = 1, where its O1 vanishes only by a cancellation between the one-sample
    and pair terms that the quadrature leaves at ~1e-9 ... 1e-6: the branch's residual test (1e-10 eta) then loses
    it (measured: linear bn ended at eta_eff = 8.1 at M = 12, where the Monte-Carlo drift gives ~20)."""
    low, high = EXACT_BATCH_SIZES
    return bool(problem.norm.batch_statistics and problem.code == RELU
                and low <= problem.batch_size <= high)


def monte_carlo_drift(problem: DynamicsProblem) -> bool:
    """Whether the problem's drift is a Monte-Carlo mean over fixed batches (bn where
    :func:`exact_batch_applies` does not): piecewise smooth, seed-dependent, with standard errors ~1e-3."""
    return bool(problem.norm.batch_statistics and not exact_batch_applies(problem))


class Drift:
    """The right-hand side of the ODE for one problem (allocates the quadrature rule and the bn samples once).

    Without batch statistics the per-sample averages are in closed form wherever
    :func:`statmech_bn.kernels.saad_solla.has_closed_form` (linear, relu, sign; erf at beta = 0) and by quadrature
    otherwise; ``closed_forms=False`` takes the quadrature everywhere (the reference of the closed forms). With batch
    statistics (bn) the averages are exact integrals over the batch where :func:`exact_batch_applies` (relu and
    linear, M >= 4; ``seed`` and ``batches`` are then unused) and Monte-Carlo means over ``batches`` fixed batches
    drawn from ``seed`` otherwise; ``monte_carlo=True`` takes the Monte-Carlo means everywhere (the reference of the
    exact integrals)."""

    def __init__(self, problem: DynamicsProblem, seed: int = 0, batches: int = BN_BATCHES, closed_forms: bool = True,
                 monte_carlo: bool = False):
        self.problem = problem
        self.closed_forms = closed_forms
        self.exact_batch = exact_batch_applies(problem) and not monte_carlo
        x, w = legendre(DRIFT_NODES)
        self._rule = (x, w, TAIL_CUT, np.empty(5 * DRIFT_NODES), np.empty(5 * DRIFT_NODES),
                      np.empty(2 * DRIFT_NODES), np.empty(2 * DRIFT_NODES))
        self._out = np.empty(max(SAMPLE_SLOTS, BATCH_SLOTS))
        self._sem = np.zeros(BATCH_SLOTS)
        self.max_sem = 0.0
        if self.exact_batch:
            self._batch_rules = batch_rules(problem.batch_size)
        elif problem.norm.batch_statistics:
            self._lam, self._v, self._xi = bn_batches(seed, batches, problem.batch_size)

    def __call__(self, t: float, y: np.ndarray) -> np.ndarray:
        p = self.problem
        m, q, gamma, beta = y
        norm, overlap, scale = field_of_state(y, p.spherical)
        eta, decay, size = p.learning_rate, p.weight_decay, p.batch_size
        out = self._out
        if p.norm.batch_statistics:
            if self.exact_batch:
                bn_exact_averages(p.code, overlap, gamma, beta, p.noise, size, *self._batch_rules, out)
            else:
                batch_averages(p.code, overlap, gamma, beta, p.noise, self._lam, self._v, self._xi, out, self._sem)
                self.max_sem = max(self.max_sem, float(np.max(self._sem)))
            kappa = gamma / norm
            return np.array([-eta * kappa * out[0] - eta * decay * m,
                             eta**2 * kappa**2 * out[1] / size - 2 * eta * decay * q,
                             -eta * out[2], -eta * out[3]])
        if self.closed_forms and has_closed_form(p.code, beta):
            closed_form_averages(p.code, overlap, scale, beta, p.noise, out)
        else:
            sample_averages(p.code, overlap, scale, beta, p.noise, *self._rule, out)
        dy = np.empty(4)
        drift_from_averages(y, out, eta, decay, float(size), p.penalty, p.spherical, dy)
        return dy


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


def closed_form_applies(problem: DynamicsProblem) -> bool:
    """Whether the drift's averages have a closed form along the whole run (:mod:`statmech_bn.kernels.saad_solla`):
    no batch statistics, and a linear, relu or sign activation (any beta) or erf started at beta = 0 (where it
    stays)."""
    return not problem.norm.batch_statistics and bool(has_closed_form(problem.code, float(problem.initial_beta)))


_STOPS = {BLOWUP: "max |y| exceeded {blowup:g} or a state became non-finite at t = {t:.6g}",
          STEP_TOO_SMALL: "the step size fell below the spacing of floating-point numbers at t = {t:.6g}",
          TOO_MANY_STEPS: "{steps} steps did not reach the last output time (stopped at t = {t:.6g})"}


def closed_form_states(problem: DynamicsProblem, times: np.ndarray, rtol: float = CLOSED_FORM_TOLERANCES[0],
                       atol: float = CLOSED_FORM_TOLERANCES[1], blowup: float = 1e6) -> tuple[np.ndarray, bool, str]:
    """(states (m, Q, gamma, beta) at ``times``, (k, 4), NaN where not reached; converged; message) of the compiled
    closed-form integration, the part of :func:`integrate_ode` before its observables."""
    if times.size and (times[0] < 0.0 or np.any(np.diff(times) <= 0.0)):
        raise ValueError("output times must be >= 0 and strictly increasing")
    states = np.full((times.size, 4), np.nan)
    status, filled, steps, t = dopri5_closed_form(
        initial_state(problem), 0.0, times, float(problem.learning_rate), float(problem.weight_decay),
        float(problem.batch_size), float(problem.penalty), bool(problem.spherical), int(problem.code),
        float(problem.noise), float(rtol), float(atol), float(blowup), MAX_STEPS, states)
    if status == SUCCESS and filled == times.size:
        return states, True, f"closed-form drift, compiled Dormand-Prince 5(4): reached the last output time " \
                             f"in {steps} steps."
    return states, False, "diverged or failed: " + _STOPS[status].format(blowup=blowup, t=t, steps=steps)


def integrate_ode(problem: DynamicsProblem, times: np.ndarray, seed: int = 0, rtol: float | None = None,
                  atol: float | None = None, blowup: float = 1e6, closed_form: bool | None = None) -> Trajectory:
    """Integrate from the problem's initial state to the output ``times`` (sorted, from t >= 0).

    ``closed_form``: None chooses the compiled closed-form path wherever :func:`closed_form_applies`, False forces
    the quadrature drift (the reference), True requires the closed form. ``rtol``/``atol`` default to
    :data:`CLOSED_FORM_TOLERANCES` or :data:`QUADRATURE_TOLERANCES` by path. Either path stops when max |y|
    exceeds ``blowup`` and leaves the later states NaN, not converged.

    For bn the Monte-Carlo right-hand side is piecewise smooth (relu's kink moves through the fixed samples), so
    its tolerances are capped at 1e-6, well below its Monte-Carlo error.
    """
    times = np.asarray(times, dtype=float)
    if closed_form is None:
        closed_form = closed_form_applies(problem)
    elif closed_form and not closed_form_applies(problem):
        raise ValueError(f"no closed-form drift for {problem.activation}/{problem.normalizer} with "
                         f"initial beta {problem.initial_beta}")
    if closed_form:
        default_rtol, default_atol = CLOSED_FORM_TOLERANCES
        states, converged, message = closed_form_states(
            problem, times, default_rtol if rtol is None else rtol, default_atol if atol is None else atol, blowup)
        sem = 0.0
    else:
        states, converged, message, sem = _integrate_drift(problem, times, seed, rtol, atol, blowup)
    r, norm, gamma, beta, eps, eta_eff = observables(problem, states)
    return Trajectory(times, r, norm, gamma, beta, eps, eta_eff, converged, message, sem)


def _integrate_drift(problem: DynamicsProblem, times: np.ndarray, seed: int, rtol: float | None,
                     atol: float | None, blowup: float) -> tuple[np.ndarray, bool, str, float]:
    """(states, converged, message, largest Monte-Carlo SEM) of SciPy's RK45 on :class:`Drift`; bn's exact drift
    (:func:`exact_batch_applies`) by SciPy's LSODA instead: gamma and beta relax at rates ~eta, the direction at
    ~eta_eff, which the growth of L lowers, so at large eta the system is stiff and RK45's stability limit, not its
    accuracy, sets the step (16,000 drift evaluations to t = 200 at eta = 32, against ~10^3 for LSODA). The
    Monte-Carlo drift keeps RK45: its jumps defeat a stiff solver's Jacobian."""
    rtol = QUADRATURE_TOLERANCES[0] if rtol is None else rtol
    atol = QUADRATURE_TOLERANCES[1] if atol is None else atol
    drift = Drift(problem, seed, closed_forms=False)
    if monte_carlo_drift(problem):
        rtol, atol = max(rtol, 1e-6), max(atol, 1e-8)
    method = "LSODA" if drift.exact_batch else "RK45"

    def exploded(t, y):
        return blowup - float(np.max(np.abs(y)))

    exploded.terminal = True
    solution = integrate.solve_ivp(drift, (0.0, float(times[-1])), initial_state(problem), method=method,
                                   t_eval=times, rtol=rtol, atol=atol, events=exploded)
    states = np.full((times.size, 4), np.nan)
    states[: solution.y.shape[1]] = solution.y.T
    converged = bool(solution.success and solution.y.shape[1] == times.size)
    return states, converged, solution.message if converged else "diverged or failed: " + solution.message, \
        drift.max_sem
