"""The saddle-point solver: Anderson-accelerated fixed point (kept where the damped iteration would converge; along a
continuation preconditioned by the last load's Jacobian), the damped iteration itself, Newton steps for the O(1)
parameters, and continuation along alpha.

Conventions
-----------
A saddle-point method maps a state x to F(x) (the right-hand sides of its saddle-point equations). The
damped iteration is x <- d x + (1 - d) F(x) with damping d in [0, 1). Its stopping rule uses the
*undamped* residual r = max|F(x) - x|: the step actually taken is (1 - d) r, so testing the step against
the tolerance would stop a factor 1/(1 - d) too early. A point is converged when r <= tolerance and every
component is finite; otherwise it is returned with ``converged=False`` and its last residual.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SolverSettings:
    """Numerical settings shared by all saddle-point methods (documented defaults)."""

    damping: float = 0.3
    tolerance: float = 1e-9
    max_iterations: int = 4000
    branches: str = "both"


@dataclass(frozen=True)
class FixedPointResult:
    """Outcome of :func:`damped_fixed_point`."""

    value: np.ndarray
    residual: float
    iterations: int
    converged: bool
    jacobian: np.ndarray | None = None
    """dF/dx over the moving slots at ``value`` where :func:`accelerated_fixed_point` checked its stability there (the
    last load's where it inherited that check), else None: the next load's Newton preconditioner
    (:func:`newton_mixing`)."""
    inherited: bool = False
    """Whether the point inherited the last load's stability check (:data:`INHERIT_RADIUS`)."""


STALL_WINDOW = 500
"""Iterations over which the best residual must at least halve; otherwise the point is given up as
non-converged (a linear rate slower than 0.9986 per iteration would need > 10^4 iterations anyway)."""


def damped_fixed_point(update: Callable[[np.ndarray], np.ndarray], x0: np.ndarray, damping: float,
                       tolerance: float, max_iterations: int) -> FixedPointResult:
    """Iterate x <- d x + (1 - d) F(x) until the undamped residual max|F(x) - x| <= tolerance.

    Gives up (converged = False) after ``max_iterations``, on a non-finite F(x), or when the best residual
    has not halved over the last STALL_WINDOW iterations (a cycle or a stalled iteration).
    """
    x = np.array(x0, dtype=float)
    residual = np.inf
    best = np.inf
    best_at_checkpoint = np.inf
    for iteration in range(1, max_iterations + 1):
        fx = update(x)
        if not np.isfinite(fx).all():
            return FixedPointResult(x, float("nan"), iteration, False)
        residual = float(np.max(np.abs(fx - x)))
        if residual <= tolerance:
            return FixedPointResult(fx, residual, iteration, True)
        best = min(best, residual)
        if iteration % STALL_WINDOW == 0:
            if best > 0.5 * best_at_checkpoint:
                return FixedPointResult(x, residual, iteration, False)
            best_at_checkpoint = best
        x = damping * x + (1.0 - damping) * fx
    return FixedPointResult(x, residual, max_iterations, False)


ANDERSON_MEMORY = 5
"""Past iterates whose residuals the accelerated iteration combines."""
ANDERSON_RESTART = 2.0
"""The accelerated iteration forgets its history when the residual exceeds this multiple of the best one since it last
forgot it. (Against the best of the whole run, a residual that once came within a hair of the tolerance, followed by a
chord Jacobian refresh that changed the map, cleared every later history: measured on relu Gibbs, pn_gd zeta 0.1, T =
0.5, noise 0.3, alpha = 0.729, best 1.04e-9, then 500 plain damped steps and 800 evaluations in all; now 61.)"""
STABILITY_MARGIN = 1e-6
"""A fixed point is kept when the damped map's Jacobian there has spectral radius below 1 - STABILITY_MARGIN: it
attracts the damped iteration. A marginal one (radius 1: e.g. gamma = q = 0, where beta's Newton step degenerates) is
not a point the damped iteration converges to."""


STEP_HALVINGS = 40
"""Times :func:`forward_jacobian` may halve a difference step that leaves the domain of the order parameters."""


def forward_jacobian(fn: Callable[[np.ndarray], np.ndarray], x: np.ndarray, fx: np.ndarray, relative_step: float,
                     columns: np.ndarray | None = None,
                     admissible: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
    """d fn / d x[columns] by one-sided differences with steps relative_step (1 + |x_i|) (``fx`` = fn(x)).

    ``admissible`` (a method's :meth:`~statmech_bn.theory.base.SaddlePointMethod.admissible`, which moves a state into
    the domain): a step whose shifted state it would move is taken backwards instead, and where neither way stays in the
    domain the step is halved until one does (at most STEP_HALVINGS times). Near the uninformed point of the sphere, q
    ~ 1e-13, a step of 1e-6 in R leaves q >= R^2 both ways; measured on relu Gibbs (pn_gd zeta 0.1, T = 0.5, noise
    0.3) at alpha = 0.676, R = -1.3e-7: the R column came out as 3.5e5 in the beta row, the point was called repelling
    (radius 1.12) and took 1,066 evaluations; with the halved step (and steps of 1e-8, 1e-9 alike) the radius is
    0.99952, the point stable."""
    columns = np.arange(x.size) if columns is None else columns
    jac = np.empty((fx.size, columns.size))

    def inside(state):
        return np.array_equal(admissible(state), state)

    if admissible is not None and not inside(x):
        admissible = None  # x itself outside (a round-off q < R^2 ~ 1e-40): no step would stay in
    for column, i in enumerate(columns):
        delta = relative_step * (1.0 + abs(x[i]))
        shifted = x.copy()
        shifted[i] += delta
        if admissible is not None:
            for _ in range(STEP_HALVINGS):
                if inside(shifted):
                    break
                shifted[i] = x[i] - delta
                if inside(shifted):
                    delta = -delta
                    break
                delta *= 0.5
                shifted[i] = x[i] + delta
        jac[:, column] = (fn(shifted) - fx) / delta
    return jac


def damped_map_spectrum(update: Callable[[np.ndarray], np.ndarray], x: np.ndarray, fx: np.ndarray, damping: float,
                        moving: np.ndarray | None = None, relative_step: float = 1e-6,
                        admissible: Callable[[np.ndarray], np.ndarray] | None = None) -> tuple[float, np.ndarray]:
    """Spectral radius of the damped map x -> d x + (1 - d) F(x) at x over the ``moving`` slots (default all; a slot
    that F copies, such as sign's fixed gain, is neither stable nor unstable), by a forward-difference Jacobian of F,
    and the real part of the eigenvector of its largest eigenvalue (unit length, zero on the other slots)."""
    moving = np.arange(x.size) if moving is None else moving
    jac = forward_jacobian(update, x, fx, relative_step, moving, admissible)[moving]
    return damped_spectrum(jac, damping, moving, x.size)


def damped_spectrum(jac: np.ndarray, damping: float, moving: np.ndarray, size: int) -> tuple[float, np.ndarray]:
    """:func:`damped_map_spectrum` from the Jacobian ``jac`` of F over the ``moving`` slots of a state of ``size``."""
    damped = damping * np.eye(moving.size) + (1.0 - damping) * jac
    direction = np.zeros(size)
    if not np.isfinite(damped).all():
        return float("inf"), direction
    values, vectors = np.linalg.eig(damped)
    top = int(np.argmax(np.abs(values)))
    direction[moving] = vectors[:, top].real
    return float(np.abs(values[top])), direction / max(float(np.linalg.norm(direction)), 1e-300)


NEWTON_RADIUS = 0.95
"""The Jacobian of the last load's accepted point preconditions the next load's iteration (:func:`newton_mixing`) only
where the damped map's spectral radius there is below this: then no eigenvalue of F's Jacobian is within 0.05/(1 - d)
of 1, and the Newton step (I - J)^-1 (F(x) - x) stays within ~14 times the residual. Measured on 12 benchmark curves
(relu Gibbs, ERM and high-temperature, erf high-temperature, sign Gibbs, linear ERM; noise 0.5 and 0; both branches):
F is evaluated 10,373 times in all (13,967 without preconditioning); 10,359 with 0.9, 10,373 with 0.99 or with every
stable point's Jacobian: the bound is a safeguard, not a saving."""
NEWTON_BUDGET = 12
"""Evaluations of F allowed to the preconditioned iteration (:func:`accelerated_fixed_point`) before the plain one
restarts from the same state (on the curves of NEWTON_RADIUS: 8: 10,361 evaluations, 12: 10,373, 16: 10,365)."""
INHERIT_EVALUATIONS = 5
INHERIT_DISTANCE = 1e-2
INHERIT_RADIUS = 0.8
"""A point found by the preconditioned iteration (:func:`accelerated_fixed_point` with ``inherit``) inherits the last
load's stability check instead of taking its own where that iteration took at most INHERIT_EVALUATIONS evaluations (the
last point's linear model held), moved every order parameter by at most INHERIT_DISTANCE (1 + |x|) from its start (the
continuation's prediction: the same branch), and the last point's damped map contracts by INHERIT_RADIUS or better; it
is then stable too, and the next point takes its own check (no two inherit in a row). Measured on 20 benchmark curves
(every activation; Gibbs, ERM and high temperature but erf's ERM; noise 0.5 and 0; both branches), each inheriting point
checked afterwards by its own: 736 of the 2,000 points inherit, the inherited radius is within 0.032 of the point's own,
and the largest own radius of an inheriting point is 0.83 (stable by a margin of 0.17); F is evaluated 15,924 times,
18,831 without inheriting, 22,243 without preconditioning either. INHERIT_RADIUS 0.9: 742 points, largest own radius
0.89; INHERIT_EVALUATIONS 4: 643 points, 16,397 evaluations, 6: 740 points; INHERIT_DISTANCE 1e-3: 592 points.
Inheriting in a row (a check every few points) saved 12 % more evaluations, but the inherited radius was then up to
0.43 off the point's own (measured before preconditioning needed a prediction, :func:`_nudged`)."""


def newton_mixing(jacobian: np.ndarray | None, damping: float, moving: np.ndarray,
                  size: int) -> tuple[np.ndarray | None, float]:
    """The matrix N = (I - J)^-1 on the ``moving`` slots (zero elsewhere, where F(x) - x vanishes) whose step
    x + N (F(x) - x) is Newton's for x = F(x) with the Jacobian J = ``jacobian`` of a nearby point (the last load's),
    and the damped map's spectral radius with J; (None, radius) where that radius is not below NEWTON_RADIUS, (None,
    inf) where there is no J."""
    if jacobian is None or not np.isfinite(jacobian).all():
        return None, math.inf
    radius = damped_spectrum(jacobian, damping, moving, size)[0]
    if radius >= NEWTON_RADIUS:
        return None, radius
    mixing = np.zeros((size, size))
    mixing[np.ix_(moving, moving)] = np.linalg.inv(np.eye(moving.size) - jacobian)
    return mixing, radius


ESCAPE_STEPS = (0.05, 0.3, 1.0)
"""Distances (times 1 + |x|) along the unstable direction from which the accelerated iteration restarts after
finding a fixed point that the damped map repels."""
ESCAPE_BUDGET = 30
"""Evaluations of F allowed to each restart after an escape. Measured on 18 benchmark curves (both branches): with 30
the costliest point takes 77 evaluations (with 60: 102, a restart just past the learning transition that crawled for
all 60 before the next, farther start converged in 26), every point converges and eps_g moves by at most 3e-10."""


def _anderson(update: Callable[[np.ndarray], np.ndarray], x0: np.ndarray, mixing: float, tolerance: float,
              budget: int, memory: int, admissible: Callable[[np.ndarray], np.ndarray] | None = None,
              newton: np.ndarray | None = None) -> tuple[np.ndarray | None, float, int]:
    """Anderson-mixed iteration from x0: (F(x) at the first x with residual <= tolerance, or None; its residual;
    evaluations used). ``admissible``: moves each mixed iterate into the domain of the order parameters (an
    extrapolated step can leave it where the map itself does not). ``newton`` (:func:`newton_mixing`): the mixing of
    Anderson's base step, N (F(x) - x) instead of (1 - d)(F(x) - x), a Newton step with a nearby point's Jacobian;
    the residuals that Anderson combines are then N (F(x) - x), the stop rule still the undamped residual, and where
    F(x) is not finite or the residual grows past ANDERSON_RESTART times the best the iteration gives up (None)
    instead of forgetting its history."""
    x = np.array(x0, dtype=float)
    scale = mixing if newton is None else 1.0
    past_x: list[np.ndarray] = []
    past_g: list[np.ndarray] = []
    best = np.inf
    for iteration in range(1, budget + 1):
        fx = update(x)
        if not np.isfinite(fx).all():
            if not past_x or newton is not None:
                return None, float("nan"), iteration
            x = past_x[-1] + mixing * past_g[-1]  # the plain damped step from the last good iterate
            past_x.clear()
            past_g.clear()
            continue
        g = fx - x
        residual = float(np.max(np.abs(g)))
        if residual <= tolerance:
            return fx, residual, iteration
        if newton is not None:
            g = newton @ g
        if residual > ANDERSON_RESTART * best:
            if newton is not None:  # Newton's step with that Jacobian leads away: the plain iteration takes over
                return None, float("nan"), iteration
            past_x.clear()
            past_g.clear()
            best = residual  # the best since the restart: else one lucky residual would clear every later history
        best = min(best, residual)
        past_x.append(x.copy())
        past_g.append(g)
        if len(past_x) > memory + 1:
            past_x.pop(0)
            past_g.pop(0)
        step = scale * g
        if len(past_x) > 1:
            d_x = np.diff(np.array(past_x), axis=0).T
            d_g = np.diff(np.array(past_g), axis=0).T
            coefficients = np.linalg.lstsq(d_g, g, rcond=None)[0]
            step = scale * g - (d_x + scale * d_g) @ coefficients
        x = x + step
        if admissible is not None:
            x = admissible(x)
    return None, float("nan"), budget


def accelerated_fixed_point(update: Callable[[np.ndarray], np.ndarray], x0: np.ndarray, damping: float,
                            tolerance: float, max_iterations: int, memory: int = ANDERSON_MEMORY,
                            moving: np.ndarray | None = None, hold=nullcontext,
                            admissible: Callable[[np.ndarray], np.ndarray] | None = None,
                            jacobian: np.ndarray | None = None, inherit: bool = False) -> FixedPointResult:
    """A fixed point that the damped iteration of :func:`damped_fixed_point` would accept, found by Anderson mixing.

    Anderson mixing (type II, mixing 1 - d; Walker & Ni, SIAM J. Numer. Anal. 49, 1715 (2011)) combines the last
    ``memory`` residuals F(x) - x to step where their combination vanishes. Safeguards:

    - the history is forgotten on a non-finite F(x) (the step left the domain, e.g. q >= 1) or when the residual
      grows past ANDERSON_RESTART times the best;
    - the stop rule is the damped iteration's (the undamped residual <= tolerance);
    - Anderson mixing also converges to fixed points that the damped map repels (the student that ignores the
      teacher, R = 0, beyond the load where it loses stability), so a point is kept only when the damped map's
      Jacobian there has spectral radius below 1 - STABILITY_MARGIN (:func:`damped_map_spectrum`, k + 1 more
      evaluations of F for the k ``moving`` order parameters, counted in ``iterations``), and that Jacobian is
      returned with it;
    - from a repelling point the iteration restarts a distance ESCAPE_STEPS along the repelling direction, the way
      that raises the overlap, and keeps what it finds with a higher overlap than the repelling point (not, e.g., its
      mirror image at -R) as soon as it passes the check; failing that, the first point below it that passes the
      check, other than the repelling point itself. (A repelling point need not be R = 0: near a learning
      transition with hysteresis it can be the unstable branch between the two stable ones, and past the end of the
      learned branch the stable point is the one below it. Measured on relu Gibbs, pn_gd zeta 0.1, T = 0.5, noise
      0.1, backward branch at alpha = 0.913: the unstable point at R = 1.6e-4, every escape back to R ~ 1e-10, then
      318 damped iterations; with this rule 74 evaluations in all.)
    - if all that fails, the damped iteration runs from ``x0``.

    ``hold``: a context manager factory within whose block the stability check runs (a method's
    :meth:`ChordJacobian.hold`, so that F is one map there). ``admissible``: moves an escape's start into the domain
    of the order parameters (a method's :meth:`~statmech_bn.theory.base.SaddlePointMethod.admissible`).
    ``jacobian``: dF/dx over the moving slots at a nearby point (the last load's, :attr:`FixedPointResult.jacobian`):
    the first iteration from ``x0`` then takes Newton's base step with it (:func:`newton_mixing`, at most
    NEWTON_BUDGET evaluations) and, failing that, the plain one restarts from ``x0``. ``inherit``: a point that this
    iteration finds may inherit that Jacobian's stability check (:data:`INHERIT_RADIUS`) instead of taking its own.
    """
    budget = max(max_iterations // 8, 1)
    mixing = 1.0 - damping
    moving = np.arange(np.size(x0)) if moving is None else moving
    used = 0
    newton, near_radius = newton_mixing(jacobian, damping, moving, np.size(x0))
    starts = [np.array(x0, dtype=float)] * (1 if newton is None else 2)
    repelling = None  # after an escape: the repelling point, whose overlap a result should exceed
    lower = None  # (F(x), residual, Jacobian) of a stable point an escape found below it: kept if none is found above
    while starts:
        start = starts.pop(0)
        escaping = repelling is not None
        fx, residual, count = _anderson(update, start, mixing, tolerance,
                                        ESCAPE_BUDGET if escaping else NEWTON_BUDGET if newton is not None else budget,
                                        memory, admissible, newton)
        used += count
        if newton is not None:
            newton = None
            if fx is not None:
                starts.pop(0)  # the plain iteration from x0 is not needed
                if (inherit and count <= INHERIT_EVALUATIONS and near_radius <= INHERIT_RADIUS
                        and np.all(np.abs(fx - start) <= INHERIT_DISTANCE * (1.0 + np.abs(start)))):
                    return FixedPointResult(fx, residual, used, True, jacobian, inherited=True)
        if fx is None:
            continue
        below = escaping and fx[0] <= repelling[0]
        if below and (lower is not None or np.all(np.abs(fx - repelling) <= SAME_POINT * (1.0 + np.abs(repelling)))):
            continue
        with hold():
            jac = forward_jacobian(update, fx, update(fx), 1e-6, moving, admissible)[moving]
        radius, direction = damped_spectrum(jac, damping, moving, fx.size)
        used += moving.size + 1
        if radius < 1.0 - STABILITY_MARGIN:
            if not below:
                return FixedPointResult(fx, residual, used, True, jac)
            lower = (fx, residual, jac)
            continue
        if len(starts) == 0 and used <= 2 * budget and not below:
            scale = 1.0 + np.abs(fx)
            if direction[0] < 0.0:
                direction = -direction
            starts = [fx + step * scale * direction for step in ESCAPE_STEPS]
            if admissible is not None:
                starts = [admissible(start) for start in starts]
            repelling = fx
    if lower is not None:
        return FixedPointResult(lower[0], lower[1], used, True, lower[2])
    fallback = damped_fixed_point(update, x0, damping, tolerance, max_iterations)
    return FixedPointResult(fallback.value, fallback.residual, used + fallback.iterations, fallback.converged)


CHORD_REFRESH = 8
"""Newton steps between fresh Jacobians of :class:`ChordJacobian` (each costs one disorder average per parameter).
Measured on the benchmark curves (both branches, every activation and method): 8 takes 10-20 % fewer averages than 4,
with every point converged, the same branches and eps_g within 2.4e-9 (the solver's tolerance); 20 saved more on the
accelerated iteration but steered the plain damped iteration (the solver's last resort) into relu's dead state
(gamma = 0, beta < 0, a marginal continuum of fixed points) on whole curves."""


class ChordJacobian:
    """Keeps a finite-difference Jacobian for ``refresh_every`` Newton steps (a chord method).

    The Jacobian only steers the iteration towards gradient = 0; a slightly stale one changes the path,
    never the converged point, and saves the extra disorder averages a fresh difference quotient costs.
    """

    def __init__(self, refresh_every: int = CHORD_REFRESH):
        self.refresh_every = refresh_every
        self.matrix: np.ndarray | None = None
        self.age = 0
        self.held = False

    def get(self, gradient, params: np.ndarray, grad_at_params: np.ndarray, relative_step: float) -> np.ndarray:
        if self.matrix is None or self.matrix.shape[0] != params.shape[0] or (
                self.age >= self.refresh_every and not self.held):
            self.matrix, self.age = forward_jacobian(gradient, params, grad_at_params, relative_step), 0
        if not self.held:
            self.age += 1
        return self.matrix

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Within the block the Jacobian is neither refreshed nor aged (one is still taken if there is none): the
        stability check of an accepted point (:func:`damped_map_spectrum`, k + 1 evaluations of the map) then
        differentiates one map, the one the iteration had at that point, without the evaluations of a refresh (one per
        Newton parameter) that fell in it about (k + 1)/CHORD_REFRESH of the time. The accepted point is F at the last
        iterate, taken before the check; only the check's verdict and Jacobian (an escape's path, the next load's
        preconditioner) see the held Jacobian. On the relu benchmark curves (pn_gd, T = 0.5, both branches) this saved
        10% of the evaluations of the sums; every benchmark curve's eps_g moved by at most 1e-9."""
        self.held = True
        try:
            yield
        finally:
            self.held = False


NEWTON_MAX_MOVE = 0.25
"""Largest move of a Newton step on the O(1) parameters, times 1 + |p| (:func:`newton_ascent_step`)."""

CONCAVITY_FLOOR = 1e-3
"""Smallest curvature, relative to the largest, that :func:`ascent_hessian_step` gives a direction of the modified
Hessian where the function is not concave."""


def _negative_definite(symmetric: np.ndarray) -> bool:
    """Whether a small symmetric matrix is negative definite: the leading minors alternate in sign (closed form up to
    2 x 2, the size of every Newton block here; a Cholesky factorisation of -H beyond)."""
    if symmetric.shape[0] == 1:
        return bool(symmetric[0, 0] < 0.0)
    if symmetric.shape[0] == 2:
        a, b, d = float(symmetric[0, 0]), float(symmetric[0, 1]), float(symmetric[1, 1])
        return a < 0.0 and a * d - b * b > 0.0
    try:
        np.linalg.cholesky(-symmetric)
    except np.linalg.LinAlgError:
        return False
    return True


def ascent_hessian_step(jacobian: np.ndarray, gradient: np.ndarray) -> np.ndarray:
    """The Newton move -J^-1 g where the symmetric part of J is negative definite (the same bits as a plain solve);
    elsewhere -H'^-1 g with H' the symmetric part with its eigenvalues lambda replaced by -max(|lambda|, floor), floor
    = CONCAVITY_FLOOR max |lambda| (a "saddle-free" Newton step: g . move > 0, an ascent direction).

    Measured on relu pn Gibbs at T = 1 without noise, started from the default state at alpha = 0.5, 1, 2 or 5: the
    plain step climbs gamma while dPhi/dgamma < 0 and gamma, beta run away to 1e60 (stored as diverged) although
    the saddle point is finite (gamma = 0 below alpha ~ 3, gamma = 0.50 at alpha = 5); with this step every one
    converges there, in 34-64 iterations."""
    symmetric = 0.5 * (jacobian + jacobian.T)
    if not np.isfinite(symmetric).all() or _negative_definite(symmetric):
        try:
            return -np.linalg.solve(jacobian, gradient)
        except np.linalg.LinAlgError:
            return 0.1 * gradient
    curvatures, directions = np.linalg.eigh(symmetric)
    floor = CONCAVITY_FLOOR * np.abs(curvatures).max()
    if not floor > 0.0:
        return 0.1 * gradient
    return directions @ ((directions.T @ gradient) / np.maximum(np.abs(curvatures), floor))


def newton_ascent_step(gradient: Callable[[np.ndarray], np.ndarray], params: np.ndarray,
                       grad_at_params: np.ndarray, relative_step: float = 1e-6,
                       max_relative_move: float = NEWTON_MAX_MOVE, chord: ChordJacobian | None = None) -> np.ndarray:
    """One Newton step towards a maximum of a function whose gradient is given.

    The Jacobian of the gradient (the Hessian) is taken by forward differences, fresh or from ``chord`` (it only
    steers the iteration: the converged point satisfies gradient = 0 exactly, whatever the Jacobian's error). Where
    the function is not concave (the symmetric part of the Jacobian not negative definite) the plain Newton step may
    lead away from every maximum: the step is then taken with that Hessian's eigenvalues replaced by -max(|lambda|,
    floor) (:func:`ascent_hessian_step`), an ascent direction. A singular Jacobian falls back to a small ascent step;
    moves are capped at ``max_relative_move`` (1 + |p|).
    """
    jac = (chord or ChordJacobian(refresh_every=0)).get(gradient, params, grad_at_params, relative_step)
    move = ascent_hessian_step(jac, grad_at_params)
    if not np.isfinite(move).all():
        move = 0.1 * grad_at_params
    cap = max_relative_move * (1.0 + np.abs(params))
    return params + np.clip(move, -cap, cap)


@dataclass(frozen=True)
class PointResult:
    """One solved alpha: observables of the method plus solver diagnostics."""

    index: int
    alpha: float
    observables: dict[str, float]
    state: np.ndarray
    residual: float
    iterations: int
    converged: bool
    branch: int


def _confirm_exact(method, alpha: float, tolerance: float) -> FixedPointResult | None:
    """The method's closed-form saddle point (:meth:`exact_state`) once one evaluation of the map confirms it (its
    undamped residual within the tolerance, as any converged point); None when there is none or it fails."""
    exact = method.exact_state(alpha)
    if exact is None:
        return None
    fx = method.update(exact, alpha)
    residual = float(np.max(np.abs(fx - exact)))
    if not (np.isfinite(fx).all() and residual <= tolerance):
        return None
    return FixedPointResult(fx, residual, 1, True)


def _sweep(method, alphas: np.ndarray, order: np.ndarray, settings: SolverSettings,
           state: np.ndarray, branch: int) -> Iterator[PointResult]:
    """Continuation: each point starts from the last converged one (never from a failed iterate).

    A method whose whole branch has a kernel (:meth:`~statmech_bn.theory.base.SaddlePointMethod.solve_branch`, ridge
    regression) solves it in one call, by the same rules; the iteration below stays its reference (the tests).

    ``method.warm_start`` nudges that state off the exactly invariant set R = 0 (the student ignoring
    the teacher), which the iteration could otherwise never leave even where it is unstable. A converged point of a
    scale-invariant student with gamma < 0 is replaced by its mirror image (``method.mirror``), solved again from
    there: the same student, stored with gamma >= 0.
    """
    whole = method.solve_branch(alphas[order], state, settings)
    if whole is not None:  # the branch in one kernel call (a closed-form problem): the same points
        for index, alpha, *fields in zip(order.tolist(), alphas[order].tolist(), *whole, strict=True):
            value, residual, iterations, converged, obs = fields
            yield PointResult(index, alpha, obs, value, residual, iterations, converged, branch)
        return
    last_good = state
    history: list[tuple[float, np.ndarray]] = []  # (log alpha, state) of the last consecutive converged points
    moving = method.moving_slots(state.size)
    jacobian = None  # dF/dx at the last point, when it converged (the next one's Newton preconditioner)
    inherited = False  # whether the last point inherited its check (then the next one takes its own)
    for index in order:
        alpha = float(alphas[index])
        method.begin_point()

        def solve(start, a=alpha, near=None, inherit=not inherited):
            return accelerated_fixed_point(lambda x: method.update(x, a), start, settings.damping,
                                           settings.tolerance, settings.max_iterations, moving=moving,
                                           hold=method.hold_jacobian, admissible=method.admissible, jacobian=near,
                                           inherit=inherit)

        result = _confirm_exact(method, alpha, settings.tolerance)
        if result is None:
            predicted = _secant_prediction(history, math.log(alpha))
            if predicted is not None:
                start, near = _nudged(method, predicted, jacobian)
                result = solve(start, near=near)
                if not result.converged:
                    again = solve(method.warm_start(state))
                    result = FixedPointResult(again.value, again.residual, result.iterations + again.iterations,
                                              again.converged, again.jacobian)
            else:
                result = solve(method.warm_start(state))
        mirrored = method.mirror(result.value) if result.converged else None
        if mirrored is not None:
            again = solve(mirrored)
            if again.converged:
                result = FixedPointResult(again.value, again.residual, result.iterations + again.iterations, True,
                                          again.jacobian)
        obs = method.observables(result.value, alpha)
        yield PointResult(int(index), alpha, obs, result.value, result.residual, result.iterations,
                          result.converged, branch)
        if result.converged:
            last_good = result.value
            history = [*history[-2:], (math.log(alpha), result.value)]
        else:
            history = []
        jacobian = result.jacobian if result.converged else None
        inherited = result.inherited
        state = last_good


def _nudged(method, predicted: np.ndarray, jacobian: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """The warm start from the continuation's prediction (``method.warm_start``) and the Jacobian that preconditions its
    iteration: the last point's (a prediction exists only on a straight stretch of the branch, where the last point is
    near; from two loads alpha = 1 and 3 of relu pn Gibbs, T = 0.5, Newton's steps with the first one's ran away),
    unless the warm start nudged the state off the invariant set R = 0 (where the map is singular, and a Newton step
    with the Jacobian of the point on it leads away: measured on relu Gibbs, pn_gd zeta 0.1, T = 0.5, noise 0.2, 7 of
    92 preconditioned iterations failed, every one from a nudged start)."""
    start = method.warm_start(predicted)
    return start, jacobian if np.array_equal(start, predicted) else None


SECANT_BEND = 0.25
"""The continuation's secant predictor is used only on a straight stretch of the branch: where the last two steps in
log alpha (rescaled to the same length) differ by at most this fraction of the last one in every order parameter
(beyond 1e-6 (1 + |value|)). Near the end of a branch (a spinodal, where the order parameters turn like a square root)
the steps grow and the extrapolation would leave the branch; the last point is the safer start there."""


def _secant_prediction(history: list[tuple[float, np.ndarray]], log_alpha: float) -> np.ndarray | None:
    """The state at log_alpha extrapolated linearly in log alpha from the last two converged points of the
    continuation, where the last three lie on a straight stretch (:data:`SECANT_BEND`); None otherwise."""
    if len(history) < 3:
        return None
    (t0, x0), (t1, x1), (t2, x2) = history
    if t1 == t0 or t2 == t1:
        return None
    slope_before = (x1 - x0) / (t1 - t0)
    slope = (x2 - x1) / (t2 - t1)
    bend = np.abs(slope - slope_before) * abs(t2 - t1)
    allowed = SECANT_BEND * np.abs(slope) * abs(t2 - t1) + 1e-6 * (1.0 + np.abs(x2))
    if not (np.all(np.isfinite(slope)) and np.all(bend <= allowed)):
        return None
    return x2 + slope * (log_alpha - t2)


def forward_branch(method, alphas: np.ndarray, settings: SolverSettings, start_index: int = 0,
                   warm_state: np.ndarray | None = None) -> Iterator[PointResult]:
    """The continuation from small alpha: the points from ``start_index`` on, in ascending alpha (warm start:
    the previous point, or ``warm_state`` when resuming); ``branch`` 0."""
    alphas = np.asarray(alphas, dtype=float)
    state = warm_state if warm_state is not None else method.initial_state(float(alphas[0]), learned=False)
    yield from _sweep(method, alphas, np.arange(start_index, len(alphas)), settings, state, 0)


def backward_branch(method, alphas: np.ndarray, settings: SolverSettings) -> Iterator[PointResult]:
    """The continuation from the largest alpha down, from a well-learned state: every point, in descending alpha;
    ``branch`` 1. It cannot be resumed part-way (its first point is the largest alpha)."""
    alphas = np.asarray(alphas, dtype=float)
    start = method.initial_state(float(alphas[-1]), learned=True)
    yield from _sweep(method, alphas, np.arange(len(alphas))[::-1], settings, start, 1)


RUNAWAY = 1e6
"""Size of |gamma|, |beta|, chi or L beyond which a point that did not converge is said to have diverged (no solution
of physical interest has order parameters within orders of magnitude of it)."""


def diverged(observables: dict[str, float], converged: bool) -> bool:
    """Whether a point failed because its order parameters ran away (:data:`RUNAWAY`, or not finite), rather than by
    a slow or cycling iteration at finite values; always False for a converged point."""
    if converged:
        return False
    sizes = (abs(observables.get(name, math.nan)) for name in ("gamma", "beta", "chi", "L"))
    return any(size > RUNAWAY for size in sizes)  # NaN (a geometry without that parameter) compares false


SAME_POINT = 1e-6
"""Two branches' points whose order parameters agree to this (times 1 + |value|) are the same saddle point: the solver
stops at a residual of 1e-9, which leaves the state within ~1e-9 / (1 - rate) of the fixed point."""
ORDER_PARAMETERS = ("R", "q", "L", "gamma", "beta", "chi")


def same_point(first: dict, second: dict) -> bool:
    """Whether two points' observables (their order parameters, NaN where a geometry has none) agree to
    SAME_POINT."""
    for name in ORDER_PARAMETERS:
        a, b = first.get(name, np.nan), second.get(name, np.nan)
        if np.isnan(a) and np.isnan(b):
            continue
        if not abs(a - b) <= SAME_POINT * (1.0 + abs(a)):
            return False
    return True


def prefer_backward(forward_converged: bool, forward_free_energy: float, backward_converged: bool,
                    backward_free_energy: float, same: bool = False) -> bool:
    """The rule of ``branches = "both"``: keep the backward point when it converged and the forward one did not,
    or when both did, they are different points (``same``: :func:`same_point`), and the backward one has the lower
    free energy (the stable of two coexisting solutions). Where the branches met, the forward point is kept, whatever
    the last bits of the free energies say, so a resumed curve (warm-started from its stored points) repeats the
    uninterrupted one."""
    if not backward_converged:
        return False
    if not forward_converged:
        return True
    return not same and backward_free_energy < forward_free_energy


def solve_curve(method, alphas: np.ndarray, settings: SolverSettings, start_index: int = 0,
                warm_state: np.ndarray | None = None) -> Iterator[PointResult]:
    """Solve the saddle point at every alpha (ascending), yielding points from ``start_index`` on.

    ``branches``: "forward" is :func:`forward_branch`; "backward" is :func:`backward_branch`, computed whole
    before any point is yielded; "both" runs both and keeps, at each alpha, the point :func:`prefer_backward`
    chooses (``branch`` says which: 0 forward, 1 backward), exposing first-order transitions that a single
    continuation would miss. (The sweep driver runs the two branches as separate tasks with the same rule.)
    """
    alphas = np.asarray(alphas, dtype=float)
    backward: dict[int, PointResult] = {}
    if settings.branches in ("backward", "both"):
        backward = {p.index: p for p in backward_branch(method, alphas, settings)}
    if settings.branches == "backward":
        for index in range(start_index, len(alphas)):
            yield backward[index]
        return
    for point in forward_branch(method, alphas, settings, start_index, warm_state):
        other = backward.get(point.index)
        if other is not None and prefer_backward(point.converged, point.observables["free_energy"],
                                                 other.converged, other.observables["free_energy"],
                                                 same_point(point.observables, other.observables)):
            yield other
        else:
            yield point
