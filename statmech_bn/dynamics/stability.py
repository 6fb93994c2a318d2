"""Maximal learning rates of the noise-free online dynamics (analysis B): linear stability and root finding.

Definitions (stored with the results):

- ``none``: eta_max is the largest eta for which the teacher state (m = Q = 1, beta = 0) is a stable fixed point
  of the ODE in (m, Q, beta), i.e. the spectral abscissa of the Jacobian (:func:`jacobian`) is negative.
  Closed form: eta_max = 2M E[g'(u)^2]/E[g'(u)^4] (linearizing at the teacher, e = Q - 2m + 1 decouples and obeys
  de/dt = -eta (2 E[g'^2] - eta E[g'^4]/M) e): 2M for linear (:mod:`.ode`) and relu, pi sqrt(5/3) M for erf
  (g = erf(x/sqrt 2); Saad & Solla 1995). pn and wn have the same teacher threshold on eta_eff (1 - R obeys the
  same linearized equation as e).
- ``pn``, ``wn``, ``pn_gd``, ``bn``: the direction and (gamma, beta) only see eta through eta_eff = eta gamma/L^2,
  and L drifts (it grows by eta_eff^2 E[d^2]/(2M) per unit time, or shrinks under weight decay), so a fixed eta
  has no threshold of its own. The threshold is on eta_eff: the largest eta_eff for which the fixed point
  R = 1 (with gamma, beta at their stationary values) is stable in (R, gamma, beta) at L = 1, so that
  eta_eff = eta gamma*; the direction's equation keeps the eta_eff^2 E[d^2]/(2M) term of the norm growth.
  Without weight decay any eta eventually converges (L grows until eta_eff is below threshold).

Each threshold is found twice, to a relative tolerance ``rtol`` (default 1e-6): by root finding on the spectral
abscissa, and by root finding on the distance from the fixed point that the ODE integrated from a perturbed state
(overlap 10 % lower, gain 10 % higher, beta + 0.05) still has at t = ``horizon`` (:data:`INTEGRATION_DEFINITION`:
the latter lies below the former by ~1/horizon, since close to the threshold the return slows down like
1/(threshold - eta)). For the normalized students the fixed point is
R* = 1 only when the student can match the teacher (pn, wn); otherwise the residual error drives the norm and
R* < 1 (pn_gd, bn).

pn_gd (zeta > 0) and bn never reach R = 1 (except bn with a linear activation, whose backpropagated signal
vanishes at R = 1). Their maximal rate is that of their stationary state R*(eta_eff), continued from
eta_eff -> 0 (:func:`stationary_branch`): the largest eta_eff up to which it exists and is linearly stable
(:func:`branch_limit`, checked by integration; :func:`maximal_rate` serves every normalizer); the values measured
for relu, erf and linear are in the README. With weight decay wd the free-norm ODE settles on the branch where
eta_eff^2 E[d^2]/M = 2 eta wd.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
from scipy import integrate, optimize

from .ode import Drift, monte_carlo_drift
from .problem import DynamicsProblem

MAX_EVALUATIONS = 100_000


class _Budget(Exception):
    pass


def _fixed_point(problem: DynamicsProblem, seed: int = 0) -> np.ndarray:
    """The reduced state z* (see :func:`_reduced_drift`) where the noise-free drift vanishes.

    none: the teacher, (m, Q, beta) = (1, 1, 0). Normalized students: (R, gamma, beta) at L = 1; the teacher
    (1, 1, 0) when the student can match it exactly (pn, wn), otherwise (pn_gd with zeta > 0, bn) the state of
    :func:`stationary_branch` at the problem's eta, R* < 1: the remaining error feeds the norm growth, whose
    eta_eff^2 term pulls R below 1. ``seed``: bn's drift batches.
    """
    if not problem.spherical:
        return np.array([1.0, 1.0, 0.0])
    f = _reduced_drift(problem, Drift(problem, seed))
    start = np.array([1.0, 1.0, 0.0])
    if float(np.max(np.abs(f(start)))) < 1e-12:
        return start
    state = stationary_branch(problem, [problem.learning_rate], seed)[0]
    return np.array([state.overlap, state.gamma, state.beta])


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


JACOBIAN_STEP = 1e-6
"""Central-difference step of the Jacobian of the quadrature drifts (interior coordinates; two steps, h and h/2,
combined by Richardson extrapolation, see :func:`_central_derivative`)."""

BOUNDARY_STEP = 1e-5
"""First one-sided step of the Jacobian at the boundary R = 1 (see :func:`_inward_derivative`)."""
BOUNDARY_LEVELS = 4
"""One-sided steps h, h/4, h/16, h/64 at the boundary R = 1: Richardson extrapolation removes the h^(1/2), h and
h^(3/2) terms of the difference quotient."""

BN_JACOBIAN_STEP = 1e-3
"""Finite-difference step of bn's Jacobian. bn's drift is a Monte-Carlo mean over fixed batches, and with relu its
error signal (g(a) - y) g'(a) jumps where a sample crosses the kink: a jump of ~|y|/(samples) in the mean. A
step of 1e-6 can straddle one such jump and read a slope of O(10) (a spurious positive abscissa on a stable
branch point); a step of 1e-3 straddles thousands, whose jumps average into the true slope. For the same
reason bn's differences are not extrapolated (no smaller steps), except at R = 1, which only linear bn reaches:
its drift has no kink and hence no jumps."""


def _central_derivative(f, z0: np.ndarray, direction: np.ndarray, step: float, levels: int) -> np.ndarray:
    """Derivative of f at z0 along ``direction`` by central differences with steps h, h/2, ... (``levels`` of
    them), Richardson-extrapolated in powers of h: at a kink of relu moving with the coordinate (beta at the
    teacher), the drift's second-order term differs on the two sides and the quotient has an O(h) error, which a
    smooth drift does not have (its error is O(h^2)); the extrapolation removes both."""
    quotients = [(f(z0 + step / 2**i * direction) - f(z0 - step / 2**i * direction)) / (2 * step / 2**i)
                 for i in range(levels)]
    for level in range(1, levels):
        factor = 2.0**level
        quotients = [(factor * quotients[i + 1] - quotients[i]) / (factor - 1.0) for i in range(len(quotients) - 1)]
    return quotients[0]


def _inward_derivative(f, z0: np.ndarray, f0: np.ndarray, direction: np.ndarray, step: float,
                       levels: int) -> np.ndarray:
    """One-sided derivative of f at z0 along ``direction`` (which must point into the domain R <= 1) from steps
    h, h/4, h/16, ... (``levels`` of them; f0 = f(z0)).

    At the teacher the fixed point sits on the boundary R = 1 of the state space: the drift is only defined on one
    side (the kernels clip R at 1, so a central difference straddles a kink of the clipped function and misses the
    true slope), and on that side it is a series in the angle theta = arccos R ~ sqrt(2(1 - R)), i.e. in powers of
    h^(1/2) (relu's kinks give odd powers of theta: the (1 - R)^(3/2) terms). The quotient (f(z0 + h v) - f0)/h =
    J v + c1 h^(1/2) + c2 h + ... is Richardson-extrapolated with the step ratio 4 in those powers.
    """
    quotients = [(f(z0 + step / 4**i * direction) - f0) / (step / 4**i) for i in range(levels)]
    for level in range(1, levels):
        factor = 2.0**level  # 4**(level/2): removes the h^(level/2) term
        quotients = [(factor * quotients[i + 1] - quotients[i]) / (factor - 1.0) for i in range(len(quotients) - 1)]
    return quotients[0]


def _on_boundary(problem: DynamicsProblem, z0: np.ndarray, step: float) -> bool:
    """Whether the reduced state z0 has R = 1 to within ``step`` (then its Jacobian is one-sided in R)."""
    overlap = z0[0] if problem.spherical else z0[0] / math.sqrt(max(z0[1], 1e-300))
    return bool(overlap > 1.0 - step)


def jacobian(problem: DynamicsProblem, state: np.ndarray | None = None, seed: int = 0,
             step: float | None = None) -> np.ndarray:
    """The Jacobian (3 x 3) of the reduced noise-free drift (:func:`_reduced_drift`) at its fixed point.

    ``state``: the reduced fixed point z* if already known; by default the one :func:`_fixed_point` finds.
    Interior coordinates: central differences (:func:`_central_derivative`, step :data:`JACOBIAN_STEP`, two levels;
    bn: one level of :data:`BN_JACOBIAN_STEP`). At R = 1 (the teacher, and linear bn's branch) the coordinates that
    would leave the domain R <= 1 are probed from inside (:func:`_inward_derivative`, :data:`BOUNDARY_LEVELS`
    steps from :data:`BOUNDARY_STEP`, bn from :data:`BN_JACOBIAN_STEP`): -R for the normalized students, and for
    none, whose (m, Q) leave R = m/sqrt(Q) <= 1 when m grows or Q shrinks, -m and +Q. ``step`` replaces the
    default central step and first one-sided step.
    """
    bn = monte_carlo_drift(problem)
    central = step if step is not None else (BN_JACOBIAN_STEP if bn else JACOBIAN_STEP)
    inward = step if step is not None else (BN_JACOBIAN_STEP if bn else BOUNDARY_STEP)
    noiseless = dataclasses.replace(problem, noise=0.0)
    z0 = _fixed_point(noiseless, seed) if state is None else np.asarray(state, dtype=float)
    f = _reduced_drift(noiseless, Drift(noiseless, seed))
    inside = {}
    if _on_boundary(problem, z0, central):
        inside = {0: -1.0} if problem.spherical else {0: -1.0, 1: 1.0}
    f0 = f(z0) if inside else None
    jac = np.empty((3, 3))
    for k, unit in enumerate(np.eye(3)):
        if k in inside:
            jac[:, k] = inside[k] * _inward_derivative(f, z0, f0, inside[k] * unit, inward, BOUNDARY_LEVELS)
        else:
            jac[:, k] = _central_derivative(f, z0, unit, central, 1 if bn else 2)
    return jac


def spectral_abscissa(problem: DynamicsProblem, step: float | None = None, state: np.ndarray | None = None,
                      seed: int = 0) -> float:
    """Largest real part of the eigenvalues of the :func:`jacobian` at the fixed point (negative: stable).

    ``step``: see :func:`jacobian`. ``state``: the reduced fixed point z* if already known (e.g. from
    :func:`stationary_branch`); by default the one :func:`_fixed_point` finds.
    """
    return float(np.max(np.linalg.eigvals(jacobian(problem, state, seed, step)).real))


DEFAULT_RTOL = 1e-6
"""Default relative tolerance of the maximal learning rates (:func:`threshold`, :func:`branch_limit`,
:func:`maximal_rate`)."""
DEFAULT_HORIZON = 200.0
"""Default horizon of the integration check (:data:`INTEGRATION_DEFINITION`)."""
RETURN_TOLERANCE = 1e-6
"""Largest deviation from the fixed point, in every reduced coordinate, that counts as "returned"."""
PERTURBATION = (0.9, 1.1, 0.05)
"""The perturbed start of the integration check: first reduced coordinate (m or R) x 0.9, second (Q or gamma)
x 1.1, beta + 0.05."""
SLOPE_STEP = 1e-2
"""Relative offset below the stability threshold at which the slope |d lambda/d eta| of the spectral abscissa is
read off (a secant to the threshold, where the abscissa vanishes): it only sets the first guess of the integration
root."""

INTEGRATION_DEFINITION = (
    "the largest learning rate (eta for none, eta_eff = eta gamma* at frozen norm L = 1 for the normalized "
    "students) at which the noise-free ODE of the reduced state, (m, Q, beta) for none and (R, gamma, beta) at "
    "L = 1 for the others, started from its fixed point with the first coordinate (m or R) multiplied by 0.9, the "
    "second (Q or gamma) by 1.1 and beta raised by 0.05, is within 1e-6 of the fixed point in every coordinate at "
    "time t = horizon (RK45 on the deviation from the fixed point; a run that explodes or exhausts its evaluation "
    "budget has not returned). It is the root in eta of log(distance at the horizon / 1e-6), found to the same "
    "relative tolerance as the stability threshold eta_c and within [0.5, 1.5] x eta_c (NaN if the outcome does "
    "not switch there). Being a finite-time criterion it lies below eta_c: near eta_c the slowest mode of the "
    "linearized dynamics decays like A exp(lambda(eta) t) with lambda(eta_c) = 0, so the time to come within 1e-6 "
    "is ln(A/1e-6)/|lambda| and diverges like 1/(eta_c - eta), and a fixed horizon puts the integration threshold "
    "below eta_c by about ln(A/1e-6)/(horizon |d lambda/d eta|) in eta, where A is the amplitude of the "
    "perturbation along the slowest mode (linear none: e = Q - 2m + 1 obeys de/dt = -eta (2 - eta/M) e + "
    "eta^2 beta^2/M, so |d lambda/d eta| = 2 at eta_c = 2M and A is e(0) plus what the decaying beta feeds into e). "
    "The offset shrinks like 1/horizon; the integration threshold checks the linear stability analysis against "
    "the nonlinear dynamics and is not a second definition of eta_max."
)


def return_distance(problem: DynamicsProblem, horizon: float = DEFAULT_HORIZON, state: np.ndarray | None = None,
                    seed: int = 0) -> float:
    """max_k |z_k(horizon) - z*_k|: how far the noise-free reduced ODE (at L = 1 for the normalized students),
    started from its fixed point z* (``state``, by default the one :func:`_fixed_point` finds) perturbed by
    :data:`PERTURBATION`, still is from z* at t = horizon; inf when it explodes (|z| > 1e3) or needs more than
    MAX_EVALUATIONS drift evaluations (an undamped oscillation). ``seed``: bn's drift batches, those of ``state``.

    Integrated by RK45 in the deviation d = z - z* (rtol 1e-8, atol 1e-14), so that the tolerances are relative to
    the deviation and the distance near 1e-6 is accurate to ~1e-7 relative (measured against the closed form of
    linear none); bn: rtol 1e-6, atol 1e-12, as :func:`.ode.integrate_ode` (its Monte-Carlo drift is only
    piecewise smooth).
    """
    noiseless = dataclasses.replace(problem, noise=0.0)
    z0 = _fixed_point(noiseless, seed) if state is None else np.asarray(state, dtype=float)
    f = _reduced_drift(noiseless, Drift(noiseless, seed))
    scale, shift = np.array([PERTURBATION[0], PERTURBATION[1], 1.0]), np.array([0.0, 0.0, PERTURBATION[2]])
    d0 = z0 * scale + shift - z0
    rtol, atol = (1e-6, 1e-12) if monte_carlo_drift(problem) else (1e-8, 1e-14)

    calls = [0]

    def rhs(t, d):
        calls[0] += 1
        if calls[0] > MAX_EVALUATIONS:  # an undamped oscillation: it has not returned
            raise _Budget
        return f(z0 + d)

    def exploded(t, d):
        return 1e3 - float(np.max(np.abs(z0 + d)))

    exploded.terminal = True
    try:
        solution = integrate.solve_ivp(rhs, (0.0, horizon), d0, method="RK45", rtol=rtol, atol=atol,
                                       events=exploded)
    except _Budget:
        return math.inf
    if not solution.success or solution.status == 1:
        return math.inf
    return float(np.max(np.abs(solution.y[:, -1])))


def converges(problem: DynamicsProblem, horizon: float = DEFAULT_HORIZON, state: np.ndarray | None = None,
              seed: int = 0) -> bool:
    """Whether the perturbed noise-free ODE is within RETURN_TOLERANCE of its fixed point at t = horizon
    (:func:`return_distance`)."""
    return return_distance(problem, horizon, state, seed) < RETURN_TOLERANCE


EXCESS_CAP = 1e3
"""Value of log(distance/RETURN_TOLERANCE) given to runs that did not return at all (inf distance), so that the
root finder sees finite numbers."""


def _log_excess(distance: float) -> float:
    return min(math.log(max(distance, 1e-300) / RETURN_TOLERANCE), EXCESS_CAP)


def _root(g, low: float, high: float, rtol: float) -> float:
    """The point in [low, high] where g changes sign (g(low) < 0 <= g(high)) to relative ``rtol``: Brent's method
    (its error is below rtol x the root)."""
    return float(optimize.brentq(g, low, high, xtol=1e-300, rtol=max(rtol, 4.0 * np.finfo(float).eps)))


def _cached(g):
    values = {}

    def cached(x):
        if x not in values:
            values[x] = g(x)
        return values[x]
    return cached


def _stability_threshold(abscissa, rtol: float, low: float = 0.1, high: float = 1.0,
                         ceiling: float = 1e4) -> float:
    """The eta where ``abscissa(eta)`` turns from negative to non-negative, to relative ``rtol``: bracketed by
    halving ``low`` and doubling ``high`` (inf when still stable above ``ceiling``; 0 when unstable down to
    1e-12), then Brent's method on the (continuous) abscissa."""
    abscissa = _cached(abscissa)
    while abscissa(low) >= 0.0:
        low /= 2.0
        if low < 1e-12:
            return 0.0
    while abscissa(high) < 0.0:
        low, high = high, 2.0 * high
        if high > ceiling:
            return math.inf
    return _root(abscissa, low, high, rtol)


def _integration_threshold(excess, eta_c: float, slope: float, rtol: float, horizon: float) -> float:
    """The root of ``excess(eta)`` = log(distance at the horizon/RETURN_TOLERANCE) in [0.5, 1.5] x eta_c (NaN if it
    does not change sign there), to relative ``rtol``.

    First guess (:data:`INTEGRATION_DEFINITION`): at eta_c the slowest mode does not decay and excess(eta_c) ~
    ln(A/1e-6), so the root lies about excess(eta_c)/(horizon x slope) below eta_c (``slope`` = |d lambda/d eta|);
    the bracket is widened by doubling that offset until the run returns, then Brent's method.
    """
    excess = _cached(excess)
    low, high = 0.5 * eta_c, 1.5 * eta_c
    if excess(eta_c) <= 0.0:  # returns even at eta_c: the switch, if any, lies above
        if excess(high) <= 0.0:
            return math.nan
        return _root(excess, eta_c, high, rtol)
    high = eta_c
    offset = excess(eta_c) / (horizon * slope) if slope > 0.0 and math.isfinite(slope) else 0.01 * eta_c
    offset = min(max(offset, rtol * eta_c), 0.5 * eta_c)
    while True:
        trial = max(eta_c - 1.25 * offset, low)
        if excess(trial) < 0.0:
            return _root(excess, trial, high, rtol)
        if trial <= low:
            return math.nan
        high, offset = trial, 2.0 * offset


def threshold(problem: DynamicsProblem, rtol: float = DEFAULT_RTOL, horizon: float = DEFAULT_HORIZON,
              integrate: bool = True) -> tuple[float, float]:
    """(threshold by linear stability, threshold by integration) on eta (none) or eta_eff (the rest), both to
    relative ``rtol`` (any rtol >= 4 x the machine epsilon; the Jacobian resolves the abscissa to ~1e-9, so
    ~1e-8 is the useful limit).

    Stability: the eta where the spectral abscissa at the teacher turns non-negative (:func:`_stability_threshold`).
    Integration: :data:`INTEGRATION_DEFINITION` with ``horizon``, sought in [0.5, 1.5] x the stability threshold;
    NaN when the integration does not change behaviour inside that bracket or ``integrate`` is false; inf when no
    threshold exists below eta = 1e4 (0 and NaN when the teacher is unstable down to eta = 1e-12).
    """
    if problem.on_branch:
        raise ValueError(f"no eta_max of 'reaching R -> 1' for {problem.normalizer}: its noise-free fixed point keeps "
                         "a residual error (see branch_limit)")

    def at(eta):
        return dataclasses.replace(problem, learning_rate=eta)

    def abscissa(eta):
        return spectral_abscissa(at(eta))

    gamma_star = _fixed_point(dataclasses.replace(problem, noise=0.0))[1] if problem.spherical else 1.0
    by_stability = _stability_threshold(abscissa, rtol)
    if math.isinf(by_stability):
        return math.inf, math.inf
    if by_stability <= 0.0:
        return 0.0, math.nan
    if not integrate:
        return by_stability * gamma_star, math.nan
    slope = -abscissa((1.0 - SLOPE_STEP) * by_stability) / (SLOPE_STEP * by_stability)
    by_integration = _integration_threshold(lambda eta: _log_excess(return_distance(at(eta), horizon)),
                                            by_stability, slope, rtol, horizon)
    return by_stability * gamma_star, by_integration * gamma_star


BRANCH_STEP_RATIO = 1.5
"""Largest ratio between successive learning rates of the continuation (the previous state is the next guess)."""
BRANCH_MAX_JUMP = 0.1
"""Largest change of theta = arccos R, of gamma (relative) and of beta accepted in one continuation step; a larger
one means the root finder left the branch, and the step is halved (in log eta)."""
BRANCH_MIN_STEP = 1e-4
"""Smallest relative step in eta: below it the branch is declared lost (it ends, e.g. at a fold)."""
BRANCH_RESIDUAL = 1e-10
"""Largest |drift|/eta at an accepted branch point (every component of the drift is proportional to eta)."""
BN_BRANCH_RESIDUAL = 1e-5
"""The same for bn: its Monte-Carlo drift (fixed batches) jumps by ~|y|/(batches M) ~ 1e-5 where a sample crosses
relu's kink, so a zero may fall inside a jump; 1e-5 is still far below the Monte-Carlo error of the drift
(standard errors ~ 1e-3)."""

BRANCH_START = 1e-2
"""Learning rate (at L = 1) where the continuation starts at the latest, from a guess near the teacher."""
BRANCH_ETA_EFF_CAP = 16.0
"""The limit search stops at eta_eff = BRANCH_ETA_EFF_CAP * M (8 x the teacher threshold 2M of pn): no limit
below it is reported as inf. (Far beyond, R* ~ 0.1 and gamma* ~ 0.1, the continuation can lose the branch for
numerical reasons while it is still strongly stable, e.g. erf pn_gd at eta_eff ~ 38, M = 1.)"""


def _tolerance(problem: DynamicsProblem, eta: float) -> float:
    return (BN_BRANCH_RESIDUAL if monte_carlo_drift(problem) else BRANCH_RESIDUAL) * eta


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


def _branch_point(problem: DynamicsProblem, eta: float, guess: np.ndarray, seed: int):
    """(z, residual, found): the zero z = (R*, gamma*, beta*) of the reduced drift at eta near ``guess``.

    Solved in theta = arccos R (which keeps R <= 1); when theta goes to 0 or the guess is the teacher direction,
    the zero is sought at R = 1 (a student that matches the teacher's direction, e.g. linear bn, whose
    backpropagated signal vanishes there) by solving (gamma, beta) and requiring the R-drift to vanish too.
    """
    at = dataclasses.replace(problem, learning_rate=float(eta))
    f = _reduced_drift(at, Drift(at, seed))
    if guess[0] < 1.0 - 1e-12:
        def in_angle(x):
            d_overlap, d_gamma, d_beta = f(np.array([math.cos(x[0]), x[1], x[2]]))
            return np.array([-d_overlap / math.sin(x[0]), d_gamma, d_beta])

        start = np.array([math.acos(guess[0]), guess[1], guess[2]])
        for method in ("hybr", "lm"):  # lm minimizes |drift|: it copes with bn's small Monte-Carlo jumps
            angle = optimize.root(in_angle, start, method=method, tol=1e-13).x
            if np.all(np.isfinite(angle)) and angle[0] > 1e-7:
                z = np.array([math.cos(angle[0]), angle[1], angle[2]])
                residual = float(np.max(np.abs(f(z))))
                if residual < _tolerance(problem, eta) and z[1] > 0.0:  # the residual decides (hybr may stall)
                    return z, residual, True
    solution = optimize.root(lambda y: f(np.array([1.0, y[0], y[1]]))[1:], np.asarray(guess[1:], dtype=float),
                             tol=1e-13)
    z = np.array([1.0, *solution.x])
    residual = float(np.max(np.abs(f(z)))) if np.all(np.isfinite(z)) else math.inf
    return z, residual, bool(residual < _tolerance(problem, eta) and z[1] > 0.0)


def _jumped(old: np.ndarray, new: np.ndarray) -> bool:
    angle = abs(math.acos(min(new[0], 1.0)) - math.acos(min(old[0], 1.0)))
    return (angle > BRANCH_MAX_JUMP or abs(new[1] - old[1]) > BRANCH_MAX_JUMP * max(abs(old[1]), 0.1)
            or abs(new[2] - old[2]) > BRANCH_MAX_JUMP)


def _predicted(previous, current, eta: float) -> np.ndarray:
    """The guess for the branch point at ``eta``: the secant through the two last points (eta, z), linear in log eta
    and in (theta = arccos R, gamma, beta), or the last point alone. Only the root finder's start: the point found is
    the zero of the drift either way (measured on bn's default threshold walk: 8 % fewer drift evaluations)."""
    eta_now, z_now = current
    if previous is None or z_now[0] >= 1.0 - 1e-12:
        return z_now
    eta_before, z_before = previous
    fraction = math.log(eta / eta_now) / math.log(eta_now / eta_before)
    angle_now, angle_before = math.acos(min(z_now[0], 1.0)), math.acos(min(z_before[0], 1.0))
    angle = angle_now + fraction * (angle_now - angle_before)
    guess = z_now + fraction * (z_now - z_before)
    guess[0] = math.cos(angle) if 0.0 < angle < math.pi / 2 else z_now[0]
    return guess


def _continuation(problem: DynamicsProblem, eta_start: float, seed: int):
    """Generator of (eta, z, residual) along the branch, from its zero at eta_start (guess R = cos 0.05,
    gamma = 1, beta = 0) upward; each ``send(target)`` continues to eta = target with adaptive steps and yields
    (target, z, max |drift| at z), or (eta_reached, None, NaN) once the branch is lost (no acceptable step of
    relative size BRANCH_MIN_STEP)."""
    z, residual, found = _branch_point(problem, eta_start, np.array([math.cos(0.05), 1.0, 0.0]), seed)
    eta = eta_start
    target = yield (eta, z, residual) if found else (eta, None, math.nan)
    ratio = BRANCH_STEP_RATIO
    previous = None  # the branch point before (eta, z), for the secant predictor
    while found:
        while eta < target:
            trial = eta * min(ratio, target / eta)
            z_new, residual_new, ok = _branch_point(problem, trial, _predicted(previous, (eta, z), trial), seed)
            if ok and not _jumped(z, z_new):
                previous = (eta, z)
                eta, z, residual = trial, z_new, residual_new
                ratio = min(BRANCH_STEP_RATIO, ratio * ratio)
                continue
            ratio = math.sqrt(ratio)
            if ratio - 1.0 < BRANCH_MIN_STEP:
                found = False
                break
        target = yield (eta, z, residual) if found else (eta, None, math.nan)
    while True:
        yield (eta, None, math.nan)


def _require_branch(problem: DynamicsProblem, rates) -> np.ndarray:
    rates = np.asarray(rates, dtype=float)
    if rates.size == 0 or np.any(rates <= 0.0) or np.any(np.diff(rates) <= 0.0):
        raise ValueError("the stationary branch needs increasing learning rates > 0")
    if not problem.spherical:
        raise ValueError(f"no stationary branch at frozen norm for {problem.normalizer}")
    return rates


def stationary_branch(problem: DynamicsProblem, learning_rates, seed: int = 0) -> list[StationaryState]:
    """The stationary state reached by the noise-free dynamics at frozen norm, continued in eta from eta -> 0.

    Definition (analysis B, the students whose noise-free fixed point keeps a residual error, ``problem.on_branch``:
    a gamma decay, or batch statistics; linear bn is the exception that matches the teacher, R* = 1): the direction
    and (gamma, beta) see eta only through eta_eff = eta gamma/L^2, so the branch at L = 1 holds every stationary
    state the free-norm dynamics passes through, indexed by eta_eff. The state is the zero of the reduced drift (R,
    gamma, beta) of :func:`_reduced_drift` (:func:`_branch_point`), continued in ascending eta from min(eta / 10 of
    the smallest requested one, BRANCH_START) with steps of at most :data:`BRANCH_STEP_RATIO`, halved when a step
    fails or jumps (:data:`BRANCH_MAX_JUMP`). A point is converged when it was reached with max |drift| <
    BRANCH_RESIDUAL eta (bn: BN_BRANCH_RESIDUAL eta); past the end of the branch (no step of relative size
    BRANCH_MIN_STEP is acceptable, e.g. at a fold) the points are NaN and not converged. ``seed`` draws the fixed
    Monte-Carlo batches of bn's drift (:class:`.ode.Drift`); the branch is deterministic given it, and its spread
    over seeds is the Monte-Carlo error of the branch.
    """
    from .ode import observables

    rates = _require_branch(problem, rates=learning_rates)
    noiseless = dataclasses.replace(problem, noise=0.0)
    walk = _continuation(noiseless, min(rates[0] / 10.0, BRANCH_START), seed)
    next(walk)
    branch = []
    for eta in rates:
        _, z, residual = walk.send(float(eta))
        at = dataclasses.replace(noiseless, learning_rate=float(eta))
        if z is None:
            branch.append(StationaryState(float(eta), math.nan, math.nan, math.nan, math.nan, math.nan, math.nan,
                                          math.nan, False))
            continue
        eps = observables(at, np.array([[z[0], 1.0, z[1], z[2]]]))[4][0]
        branch.append(StationaryState(float(eta), float(eta * z[1]), float(z[0]), float(z[1]), float(z[2]),
                                      float(eps), spectral_abscissa(at, state=z, seed=seed), float(residual),
                                      bool(residual < _tolerance(problem, eta))))
    return branch


class LimitKind(IntEnum):
    """How a maximal learning rate was found (stored as ``limit_kind``)."""

    TEACHER = 0
    """The teacher state loses stability (:func:`threshold`)."""
    INSTABILITY = 1
    """The stationary branch loses stability (:func:`branch_limit`)."""
    END_OF_BRANCH = 2
    """The stationary branch ends: a fold, or a numerical loss."""
    NONE = 3
    """No limit below BRANCH_ETA_EFF_CAP M (stored as inf)."""
    NO_BRANCH = 4
    """No stable branch could be started at eta = BRANCH_START (NaN)."""


def branch_limit(problem: DynamicsProblem, rtol: float = DEFAULT_RTOL,
                 seed: int = 0) -> tuple[float, float, LimitKind]:
    """(eta_eff_max, eta at L = 1, kind): where the stationary branch continued from eta_eff -> 0 stops being a
    stable state the noise-free dynamics can reach.

    Walks the branch (:func:`_continuation`) from eta = BRANCH_START in steps of :data:`BRANCH_STEP_RATIO`,
    computing the spectral abscissa at each point. INSTABILITY: the abscissa turns positive, located by bisection
    to ``rtol``; END_OF_BRANCH: the branch is lost (a fold, where the stable state merges with an unstable one), at
    the last reached eta; NONE: stable up to eta_eff = BRANCH_ETA_EFF_CAP M (returns inf, inf); NO_BRANCH: no
    stable branch at BRANCH_START (NaN, NaN).
    """
    noiseless = dataclasses.replace(problem, noise=0.0)
    cap = BRANCH_ETA_EFF_CAP * problem.batch_size
    walk = _continuation(noiseless, BRANCH_START, seed)
    eta, z, _ = next(walk)
    if z is None:
        return math.nan, math.nan, LimitKind.NO_BRANCH

    def abscissa(eta_, z_):
        return spectral_abscissa(dataclasses.replace(noiseless, learning_rate=eta_), state=z_, seed=seed)

    if abscissa(eta, z) >= 0.0:
        return math.nan, math.nan, LimitKind.NO_BRANCH
    while eta * z[1] < cap:
        previous_eta, previous_z = eta, z
        eta, z, _ = walk.send(eta * BRANCH_STEP_RATIO)
        if z is None:
            return float(eta * previous_z[1]), float(eta), LimitKind.END_OF_BRANCH
        if abscissa(eta, z) >= 0.0:
            low, high, low_z = previous_eta, eta, previous_z
            while high - low > rtol * high:
                mid = math.sqrt(low * high)
                mid_z, _, ok = _branch_point(noiseless, mid, low_z, seed)
                if ok and abscissa(mid, mid_z) < 0.0:
                    low, low_z = mid, mid_z
                else:
                    high = mid
            return float(low * low_z[1]), float(low), LimitKind.INSTABILITY
    return math.inf, math.inf, LimitKind.NONE


def _integration_limit(problem: DynamicsProblem, eta_limit: float, rtol: float, seed: int,
                       horizon: float = DEFAULT_HORIZON) -> float:
    """eta_eff at the largest eta in [0.5, 1.5] x eta_limit at which the frozen-norm ODE returns to the branch's
    stationary state from a perturbed one (:data:`INTEGRATION_DEFINITION`, :func:`_integration_threshold` in eta at
    L = 1, to relative ``rtol``); NaN if it does not switch in that bracket. A point where the branch is not found
    counts as not returned."""
    states = {}

    def state_at(eta):
        if eta not in states:
            states[eta] = stationary_branch(problem, [eta], seed)[0]
        return states[eta]

    def excess(eta):
        state = state_at(eta)
        if not state.converged:
            return EXCESS_CAP
        z = np.array([state.overlap, state.gamma, state.beta])
        at = dataclasses.replace(problem, learning_rate=eta, noise=0.0)
        return _log_excess(return_distance(at, horizon, state=z, seed=seed))

    below = state_at((1.0 - SLOPE_STEP) * eta_limit)
    slope = -below.abscissa / (SLOPE_STEP * eta_limit) if below.converged else math.nan
    eta = _integration_threshold(excess, eta_limit, slope, rtol, horizon)
    return state_at(eta).eta_eff if math.isfinite(eta) else math.nan


def maximal_rate(problem: DynamicsProblem, rtol: float = DEFAULT_RTOL, seed: int = 0, integrate: bool = True,
                 horizon: float = DEFAULT_HORIZON) -> tuple[float, float, LimitKind]:
    """(by linear stability, by integration, :class:`LimitKind`): the maximal learning rate of any normalizer, eta
    for none and eta_eff for the normalized students, both to relative ``rtol`` (no floor: bn's limit is a
    deterministic function of its drift ``seed`` and is located to rtol too, but its Monte-Carlo error, the spread
    over seeds, is ~1e-3 relative, and the residual BN_BRANCH_RESIDUAL of its branch states limits its
    reproducibility to ~1e-5: digits beyond those are those of one fixed set of batches).

    Students that can reach the teacher (none, pn, wn, pn_gd at zeta = 0): :func:`threshold`. pn_gd (zeta > 0)
    and bn: :func:`branch_limit`, the largest eta_eff up to which the stationary state continued from
    eta_eff -> 0 exists and is stable, checked by integration (:func:`_integration_limit`). The integration value
    follows :data:`INTEGRATION_DEFINITION` with ``horizon``; it is skipped (NaN) when ``integrate`` is false.
    For bn at M <= 5 the drift's noise term E[mean_j e_j^2] has infinite variance over batches (it carries
    1/sigma_B^4 with sigma_B^2 ~ chi^2 with M - 1 degrees of freedom): the Monte-Carlo mean of a fixed set of
    batches is then typically low and the limit high (README, "maximal learning rates").
    """
    if not problem.on_branch:
        stable, integrated = threshold(problem, rtol, horizon, integrate)
        return float(stable), float(integrated), LimitKind.TEACHER
    eta_eff, eta, kind = branch_limit(problem, rtol, seed)
    if not math.isfinite(eta_eff):
        return eta_eff, eta_eff, kind
    if not integrate:
        return eta_eff, math.nan, kind
    return eta_eff, _integration_limit(problem, eta, rtol, seed, horizon), kind
