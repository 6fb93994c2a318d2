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

pn_gd (zeta > 0) and bn never reach R = 1 (except bn with a linear activation, whose backpropagated signal
vanishes at R = 1). Their maximal rate is that of their stationary state R*(eta_eff), continued from
eta_eff -> 0 (:func:`stationary_branch`): the largest eta_eff up to which it exists and is linearly stable
(:func:`branch_limit`, checked by integration; :func:`maximal_rate` serves every normalizer). Measured: for relu
and erf it stays stable up to the search cap eta_eff = 16 M while R* falls continuously (pn_gd at M = 1 is stable
at eta_eff = 2.2, where the teacher of pn is already unstable); linear bn loses stability at eta_eff = 12.0
(M = 8) and 28.3 (M = 16), below pn's 2M. With weight decay wd the free-norm ODE settles on the branch where
eta_eff^2 E[d^2]/M = 2 eta wd.
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


BN_JACOBIAN_STEP = 1e-3
"""Finite-difference step of bn's Jacobian. bn's drift is a Monte-Carlo mean over fixed batches, and with relu its
error signal (g(a) - y) g'(a) jumps where a sample crosses the kink: a jump of ~|y|/(samples) in the mean. A
step of 1e-6 can straddle one such jump and read a slope of O(10) (measured: a spurious abscissa of +20 on a
stable branch point); a step of 1e-3 straddles thousands, whose jumps average into the true slope."""


def spectral_abscissa(problem: DynamicsProblem, step: float | None = None, state: np.ndarray | None = None,
                      seed: int = 0) -> float:
    """Largest real part of the Jacobian's eigenvalues at the fixed point (negative: stable).

    ``step``: of the central differences, by default 1e-6 (quadrature drifts) or :data:`BN_JACOBIAN_STEP` (bn).
    ``state``: the reduced fixed point z* if already known (e.g. from :func:`stationary_branch`); by default the
    one :func:`_fixed_point` finds.
    """
    if step is None:
        step = BN_JACOBIAN_STEP if problem.normalizer == "bn" else 1e-6
    noiseless = dataclasses.replace(problem, noise=0.0)
    z0 = _fixed_point(noiseless, seed) if state is None else np.asarray(state, dtype=float)
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


def converges(problem: DynamicsProblem, t_max: float = 200.0, state: np.ndarray | None = None,
              seed: int = 0) -> bool:
    """Whether the noise-free ODE (at L = 1 for the normalized students) returns to within 1e-6 of its fixed
    point (``state``, by default the one :func:`_fixed_point` finds) from a perturbed state; ``seed``: bn's drift
    batches, those of ``state``."""
    noiseless = dataclasses.replace(problem, noise=0.0)
    z0 = _fixed_point(noiseless, seed) if state is None else np.asarray(state, dtype=float)
    f = _reduced_drift(noiseless, Drift(noiseless, seed))
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
bn keep a residual error at their fixed point, whose R* < 1 depends on eta itself: see :func:`branch_limit`."""


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
stationary branch R*(eta_eff) of :func:`stationary_branch` and the limit of :func:`branch_limit` instead of the
threshold of :func:`threshold` (bn with a linear activation is the exception that matches the teacher: its branch
is R* = 1)."""

BRANCH_STEP_RATIO = 1.2
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
    return (BN_BRANCH_RESIDUAL if problem.normalizer == "bn" else BRANCH_RESIDUAL) * eta


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


def _continuation(problem: DynamicsProblem, eta_start: float, seed: int):
    """Generator of (eta, z, residual) along the branch, from its zero at eta_start (guess R = cos 0.05,
    gamma = 1, beta = 0) upward; each ``send(target)`` continues to eta = target with adaptive steps and yields
    (target, z, max |drift| at z), or (eta_reached, None, NaN) once the branch is lost (no acceptable step of
    relative size BRANCH_MIN_STEP)."""
    z, residual, found = _branch_point(problem, eta_start, np.array([math.cos(0.05), 1.0, 0.0]), seed)
    eta = eta_start
    target = yield (eta, z, residual) if found else (eta, None, math.nan)
    ratio = BRANCH_STEP_RATIO
    while found:
        while eta < target:
            trial = eta * min(ratio, target / eta)
            z_new, residual_new, ok = _branch_point(problem, trial, z, seed)
            if ok and not _jumped(z, z_new):
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

    Definition (analysis B, the normalizers of :data:`RESIDUAL_NORMALIZERS`): the direction and (gamma, beta) see
    eta only through eta_eff = eta gamma/L^2, so the branch at L = 1 holds every stationary state the free-norm
    dynamics passes through, indexed by eta_eff. The state is the zero of the reduced drift (R, gamma, beta) of
    :func:`_reduced_drift` (:func:`_branch_point`), continued in ascending eta from min(eta / 10 of the smallest
    requested one, BRANCH_START) with steps of at most :data:`BRANCH_STEP_RATIO`, halved when a step fails or jumps
    (:data:`BRANCH_MAX_JUMP`). A point is converged when it was reached with max |drift| < BRANCH_RESIDUAL eta
    (bn: BN_BRANCH_RESIDUAL eta); past the end of the branch (no step of relative size BRANCH_MIN_STEP is
    acceptable, e.g. at a fold) the points are NaN and not converged. ``seed`` draws the fixed Monte-Carlo
    batches of bn's drift (:class:`.ode.Drift`); the branch is deterministic given it, and its spread over seeds
    is the Monte-Carlo error of the branch.
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


def branch_limit(problem: DynamicsProblem, rtol: float = 1e-3, seed: int = 0) -> tuple[float, float, str]:
    """(eta_eff_max, eta at L = 1, reason): where the stationary branch continued from eta_eff -> 0 stops being a
    stable state the noise-free dynamics can reach.

    Walks the branch (:func:`_continuation`) from eta = BRANCH_START in steps of :data:`BRANCH_STEP_RATIO`,
    computing the spectral abscissa at each point. reason "instability": the abscissa turns positive, located by
    bisection to ``rtol``; "end of branch": the branch is lost (a fold, where the stable state merges with an
    unstable one), at the last reached eta; "none": stable up to eta_eff = BRANCH_ETA_EFF_CAP M (returns inf, inf).
    """
    noiseless = dataclasses.replace(problem, noise=0.0)
    cap = BRANCH_ETA_EFF_CAP * problem.batch_size
    walk = _continuation(noiseless, BRANCH_START, seed)
    eta, z, _ = next(walk)
    if z is None:
        return math.nan, math.nan, "no branch at eta = 1e-2"

    def abscissa(eta_, z_):
        return spectral_abscissa(dataclasses.replace(noiseless, learning_rate=eta_), state=z_, seed=seed)

    if abscissa(eta, z) >= 0.0:
        return math.nan, math.nan, "unstable at eta = 1e-2"
    while eta * z[1] < cap:
        previous_eta, previous_z = eta, z
        eta, z, _ = walk.send(eta * BRANCH_STEP_RATIO)
        if z is None:
            return float(eta * previous_z[1]), float(eta), "end of branch"
        if abscissa(eta, z) >= 0.0:
            low, high, low_z = previous_eta, eta, previous_z
            while high - low > rtol * high:
                mid = math.sqrt(low * high)
                mid_z, _, ok = _branch_point(noiseless, mid, low_z, seed)
                if ok and abscissa(mid, mid_z) < 0.0:
                    low, low_z = mid, mid_z
                else:
                    high = mid
            return float(low * low_z[1]), float(low), "instability"
    return math.inf, math.inf, "none"


LIMIT_KINDS = {"teacher": 0, "instability": 1, "end of branch": 2, "none": 3, "no branch": 4}
"""Codes of how a maximal learning rate was found: 0 the teacher state loses stability (:func:`threshold`);
1 the stationary branch loses stability, 2 it ends (a fold, or a numerical loss), 3 no limit below
BRANCH_ETA_EFF_CAP M (inf), 4 no branch could be started (NaN) (:func:`branch_limit`)."""


def _integration_limit(problem: DynamicsProblem, eta_limit: float, rtol: float, seed: int) -> float:
    """eta_eff of the largest eta in [0.5, 1.5] x eta_limit at which the frozen-norm ODE returns to the branch's
    stationary state from a perturbed one (:func:`converges`); NaN if it does not switch in that bracket."""
    def returns(eta):
        state = stationary_branch(problem, [eta], seed)[0]
        if not state.converged:
            return False, math.nan
        z = np.array([state.overlap, state.gamma, state.beta])
        at = dataclasses.replace(problem, learning_rate=eta, noise=0.0)
        return converges(at, state=z, seed=seed), state.eta_eff

    low, high = 0.5 * eta_limit, 1.5 * eta_limit
    ok_low, eff_low = returns(low)
    if not ok_low or returns(high)[0]:
        return math.nan
    while high - low > rtol * high:
        mid = 0.5 * (low + high)
        ok, eff = returns(mid)
        if ok:
            low, eff_low = mid, eff
        else:
            high = mid
    return eff_low


def maximal_rate(problem: DynamicsProblem, rtol: float = 1e-3, seed: int = 0,
                 integrate: bool = True) -> tuple[float, float, int]:
    """(by linear stability, by integration, LIMIT_KINDS code): the maximal learning rate of any normalizer, eta
    for none and eta_eff for the normalized students.

    Students that can reach the teacher (none, pn, wn, pn_gd at zeta = 0): :func:`threshold`. pn_gd (zeta > 0)
    and bn: :func:`branch_limit`, the largest eta_eff up to which the stationary state continued from
    eta_eff -> 0 exists and is stable, checked by integration (:func:`_integration_limit`; skipped, NaN, when
    ``integrate`` is false). For bn at M <= 5 the drift's noise term E[mean_j e_j^2] has infinite variance over
    batches (it carries 1/sigma_B^4 with sigma_B^2 ~ chi^2 with M - 1 degrees of freedom): the Monte-Carlo mean of
    a fixed set of batches is then typically low and the limit high (linear bn, M = 4: 3.29-3.56 over seeds with
    8000 batches, 2.95-3.21 with 512000, while the finite-N simulation parks at 3.25); from M = 6 on it is
    reliable (M = 8: 12.04 +- 0.03 over seeds, the simulation 12.031 +- 0.002).
    """
    if not problem.on_branch:
        stable, integrated = threshold(problem if problem.normalizer != "pn_gd"
                                       else dataclasses.replace(problem, normalizer="pn"), max(rtol, 1e-4))
        return float(stable), float(integrated), LIMIT_KINDS["teacher"]
    eta_eff, eta, reason = branch_limit(problem, rtol, seed)
    kind = LIMIT_KINDS["no branch"] if reason.startswith(("no branch", "unstable")) else LIMIT_KINDS[reason]
    if not math.isfinite(eta_eff):
        return eta_eff, eta_eff, kind
    if not integrate:
        return eta_eff, math.nan, kind
    return eta_eff, _integration_limit(problem, eta, max(rtol, 1e-3), seed), kind
