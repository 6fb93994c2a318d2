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
"""

from __future__ import annotations

import dataclasses
import math

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


def spectral_abscissa(problem: DynamicsProblem, step: float = 1e-6) -> float:
    """Largest real part of the Jacobian's eigenvalues at the fixed point (negative: stable)."""
    noiseless = dataclasses.replace(problem, noise=0.0)
    z0 = _fixed_point(noiseless)
    f = _reduced_drift(noiseless, Drift(noiseless))
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


def converges(problem: DynamicsProblem, t_max: float = 200.0) -> bool:
    """Whether the noise-free ODE (at L = 1 for the normalized students) returns to R > 1 - 1e-6 from a
    perturbed state."""
    noiseless = dataclasses.replace(problem, noise=0.0)
    z0 = _fixed_point(noiseless)
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
