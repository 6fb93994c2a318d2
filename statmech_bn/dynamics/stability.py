"""Maximal learning rates of the noise-free online dynamics (analysis B): linear stability and bisection.

Definitions (stored with the results):

- ``none``: eta_max is the largest eta for which the teacher state (m = Q = 1, beta = 0) is a stable fixed point
  of the ODE in (m, Q, beta), i.e. the spectral abscissa of the Jacobian (central differences) is negative.
  Closed form for linear: eta_max = 2M (:mod:`.ode`).
- ``pn``, ``wn``, ``pn_gd``, ``bn``: the direction and (gamma, beta) only see eta through eta_eff = eta gamma/L^2,
  and L drifts (it grows by eta_eff^2 E[d^2]/(2M) per unit time, or shrinks under weight decay), so a fixed eta
  has no threshold of its own. The threshold is on eta_eff: the largest eta_eff for which the fixed point
  R = 1 (with gamma, beta at their stationary values) is stable in (R, gamma, beta) at L = 1, so that
  eta_eff = eta gamma*; the direction's equation keeps the eta_eff^2 E[d^2]/(2M) term of the norm growth.
  Without weight decay any eta eventually converges (L grows until eta_eff is below threshold).

Each threshold is found twice: by bisection on the sign of the spectral abscissa, and by bisection on whether
the ODE integrated from a perturbed state (overlap 10 % lower, gain 10 % higher, beta + 0.05) returns to within
1e-6 of the fixed point within ``t_max`` (the latter approaches the former from below as t_max grows: close to
the threshold the return slows down like 1/(threshold - eta)). For the normalized students the fixed point is
R* = 1 only when the student can match the teacher (pn, wn); otherwise the residual error drives the norm and
R* < 1 (pn_gd, bn).

pn_gd and bn have no threshold of this kind: they never reach R = 1, and their stationary state R*(eta_eff),
continued from eta_eff -> 0 (:func:`stationary_branch`), stays linearly stable while R* falls continuously as
eta_eff grows (measured for relu up to eta_eff ~ 20; pn_gd at M = 1 is stable at eta_eff = 2.2, where the
teacher of pn is already unstable). They are reported by that branch (R*, eps_g*, the spectral abscissa per
eta_eff), by eta-scans of the free-norm dynamics, and with weight decay by the fixed point of the full ODE, which
lies on the branch: with weight decay wd the norm settles where eta_eff^2 E[d^2]/M = 2 eta wd.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
from scipy import integrate, optimize

from .ode import Drift
from .problem import DynamicsProblem

MAX_EVALUATIONS = 100_000


class _Budget(Exception):
    pass


def _fixed_point(problem: DynamicsProblem) -> np.ndarray:
    """The reduced state z* (see :func:`_reduced_drift`) where the noise-free drift vanishes.

    none: the teacher, (m, Q, beta) = (1, 1, 0). Normalized students: (R, gamma, beta) solved at L = 1; R* = 1
    when the student can match the teacher exactly (pn, wn), R* < 1 when it cannot (pn_gd with zeta > 0, bn):
    the remaining error feeds the norm growth, whose eta_eff^2 term pulls R below 1.
    """
    if not problem.spherical:
        return np.array([1.0, 1.0, 0.0])
    f = _reduced_drift(problem, Drift(problem))
    start = np.array([1.0, 1.0, 0.0])
    if float(np.max(np.abs(f(start)))) < 1e-12:
        return start
    solution = optimize.root(f, np.array([0.999, 1.0, 0.0]), tol=1e-13)
    return solution.x


def _reduced_drift(problem: DynamicsProblem, drift: Drift):
    """The drift in the coordinates that have a fixed point: (m, Q, beta) for none; (R, gamma, beta) at the
    instantaneous L = 1 for the normalized students, dR/dt = dm/dt - R (dQ/dt)/2 (which keeps the eta_eff^2
    term of the norm growth in the direction's equation)."""
    if problem.spherical:
        def f(z):
            dm, dq, dgamma, dbeta = drift(0.0, np.array([z[0], 1.0, z[1], z[2]]))
            return np.array([dm - z[0] * dq / 2.0, dgamma, dbeta])
        return f

    def g(z):
        return drift(0.0, np.array([z[0], z[1], 1.0, z[2]]))[[0, 1, 3]]
    return g


def spectral_abscissa(problem: DynamicsProblem, step: float = 1e-6, state: np.ndarray | None = None,
                      seed: int = 0) -> float:
    """Largest real part of the Jacobian's eigenvalues at the fixed point (negative: stable).

    ``state``: the reduced fixed point z* if already known (e.g. from :func:`stationary_branch`); by default the
    one :func:`_fixed_point` finds.
    """
    noiseless = dataclasses.replace(problem, noise=0.0)
    z0 = _fixed_point(noiseless) if state is None else np.asarray(state, dtype=float)
    f = _reduced_drift(noiseless, Drift(noiseless, seed))
    jac = np.empty((3, 3))
    for k in range(3):
        dz = np.zeros(3)
        dz[k] = step
        jac[:, k] = (f(z0 + dz) - f(z0 - dz)) / (2 * step)
    if problem.spherical and z0[0] > 1.0 - step:  # R cannot exceed 1: probe the overlap from inside
        dz = np.zeros(3)
        dz[0] = step
        jac[:, 0] = (f(z0) - f(z0 - dz)) / step
    return float(np.max(np.linalg.eigvals(jac).real))


def converges(problem: DynamicsProblem, t_max: float = 200.0, state: np.ndarray | None = None) -> bool:
    """Whether the noise-free ODE (at L = 1 for the normalized students) returns to within 1e-6 of its fixed
    point (``state``, by default the one :func:`_fixed_point` finds) from a perturbed state."""
    noiseless = dataclasses.replace(problem, noise=0.0)
    z0 = _fixed_point(noiseless) if state is None else np.asarray(state, dtype=float)
    f = _reduced_drift(noiseless, Drift(noiseless))
    y0 = z0 * np.array([0.9, 1.1, 1.0]) + np.array([0.0, 0.0, 0.05])

    calls = [0]

    def rhs(t, y):
        calls[0] += 1
        if calls[0] > MAX_EVALUATIONS:  # an undamped oscillation: it has not returned
            raise _Budget
        return f(y)

    def exploded(t, y):
        return 1e3 - float(np.max(np.abs(y)))

    exploded.terminal = True
    try:
        solution = integrate.solve_ivp(rhs, (0.0, t_max), y0, method="RK45", rtol=1e-8, atol=1e-11,
                                       events=exploded)
    except _Budget:
        return False
    if not solution.success or solution.status == 1:
        return False
    return bool(np.all(np.abs(solution.y[:, -1] - z0) < 1e-6))


def _bisect(stable, low: float, high: float, rtol: float, ceiling: float = 1e4) -> float:
    while not stable(low):
        low /= 2.0
    while stable(high):
        low, high = high, 2.0 * high
        if high > ceiling:
            return math.inf
    while high - low > rtol * high:
        mid = 0.5 * (low + high)
        if stable(mid):
            low = mid
        else:
            high = mid
    return 0.5 * (low + high)


THRESHOLD_NORMALIZERS = ("none", "pn", "wn")
"""Students that can match the teacher exactly, so that "reaches R -> 1" defines a threshold. pn_gd (zeta > 0) and
bn keep a residual error at their fixed point, whose R* < 1 depends on eta itself: no threshold of this kind."""


def threshold(problem: DynamicsProblem, rtol: float = 1e-4) -> tuple[float, float]:
    """(threshold by linear stability, threshold by integration) on eta (none) or eta_eff (the rest).

    The integration bisection runs in [0.5, 1.5] x the stability threshold; NaN when the integration does not
    change behaviour inside that bracket, inf when no threshold exists below eta = 1e4.
    """
    if problem.normalizer not in THRESHOLD_NORMALIZERS:
        raise ValueError(f"no eta_max of 'reaching R -> 1' for {problem.normalizer} (see THRESHOLD_NORMALIZERS)")
    def at(eta):
        return dataclasses.replace(problem, learning_rate=eta)

    gamma_star = _fixed_point(dataclasses.replace(problem, noise=0.0))[1] if problem.spherical else 1.0
    by_stability = _bisect(lambda eta: spectral_abscissa(at(eta)) < 0.0, 0.1, 1.0, rtol)
    if not math.isfinite(by_stability):
        return math.inf, math.inf
    low, high = 0.5 * by_stability, 1.5 * by_stability
    if not converges(at(low)) or converges(at(high)):
        return by_stability * gamma_star, math.nan  # integration disagrees beyond +-50 %: reported, not hidden
    by_integration = _bisect(lambda eta: converges(at(eta)), low, high, max(rtol, 1e-3))
    return by_stability * gamma_star, by_integration * gamma_star


RESIDUAL_NORMALIZERS = ("pn_gd", "bn")
"""Students with a residual error at their noise-free fixed point (gamma decay; batch statistics): they get the
stationary branch R*(eta_eff) of :func:`stationary_branch` instead of a threshold."""

BRANCH_STEP_RATIO = 1.2
"""Largest ratio between successive learning rates of the continuation (the previous state is the next guess)."""


@dataclass(frozen=True)
class StationaryState:
    """The noise-free fixed point of (R, gamma, beta) at frozen norm L = 1 and learning rate eta, so that
    eta_eff = eta gamma*; ``abscissa`` is the largest real part of the Jacobian's eigenvalues there (negative:
    linearly stable) and ``eps_gen`` its generalization error (population statistics)."""

    learning_rate: float
    eta_eff: float
    overlap: float
    gamma: float
    beta: float
    eps_gen: float
    abscissa: float
    residual: float
    converged: bool


def stationary_branch(problem: DynamicsProblem, learning_rates, seed: int = 0) -> list[StationaryState]:
    """The stationary state reached by the noise-free dynamics at frozen norm, continued in eta from eta -> 0.

    Definition (analysis B, the normalizers of :data:`RESIDUAL_NORMALIZERS`): the direction and (gamma, beta) see
    eta only through eta_eff = eta gamma/L^2, so the branch at L = 1 holds every stationary state the free-norm
    dynamics passes through, indexed by eta_eff. The state is the zero of the reduced drift (R, gamma, beta) of
    :func:`_reduced_drift`, solved in the angle theta = arccos R (which keeps R <= 1) by continuation in
    ascending eta with steps of at most :data:`BRANCH_STEP_RATIO`, starting from :func:`_fixed_point` at eta / 10
    of the smallest requested one. A point is converged when the root finder succeeds with max |drift| < 1e-10
    and 0 < R* < 1. ``seed`` draws the fixed Monte-Carlo batches of bn's drift (:class:`.ode.Drift`); the branch
    is deterministic given it, and its spread over seeds is the Monte-Carlo error of the branch.
    """
    from .ode import observables

    rates = np.asarray(learning_rates, dtype=float)
    if rates.size == 0 or np.any(rates <= 0.0) or np.any(np.diff(rates) <= 0.0):
        raise ValueError("stationary_branch needs increasing learning rates > 0")
    if not problem.spherical:
        raise ValueError(f"no stationary branch at frozen norm for {problem.normalizer}")
    noiseless = dataclasses.replace(problem, noise=0.0)
    eta = rates[0] / 10.0
    z = _fixed_point(dataclasses.replace(noiseless, learning_rate=eta))
    angle = np.array([math.acos(min(z[0], 1.0 - 1e-12)), z[1], z[2]])
    branch = []
    for target in rates:
        steps = max(1, math.ceil(math.log(target / eta) / math.log(BRANCH_STEP_RATIO)))
        for step_rate in eta * (target / eta) ** (np.arange(1, steps + 1) / steps):
            at = dataclasses.replace(noiseless, learning_rate=float(step_rate))
            f = _reduced_drift(at, Drift(at, seed))

            def in_angle(x, f=f):
                d_overlap, d_gamma, d_beta = f(np.array([math.cos(x[0]), x[1], x[2]]))
                return np.array([-d_overlap / math.sin(x[0]), d_gamma, d_beta])

            solution = optimize.root(in_angle, angle, tol=1e-13)
            if np.all(np.isfinite(solution.x)):
                angle = solution.x
        eta = float(target)
        z = np.array([math.cos(angle[0]), angle[1], angle[2]])
        residual = float(np.max(np.abs(f(z))))
        converged = bool(solution.success and residual < 1e-10 and 0.0 < z[0] < 1.0)
        eps = observables(at, np.array([[z[0], 1.0, z[1], z[2]]]))[4][0]
        branch.append(StationaryState(eta, float(eta * z[1]), float(z[0]), float(z[1]), float(z[2]), float(eps),
                                      spectral_abscissa(at, state=z, seed=seed), residual, converged))
    return branch
