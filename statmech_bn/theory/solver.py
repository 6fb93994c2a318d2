"""Damped fixed-point iteration, Newton steps for the O(1) parameters, and continuation along alpha.

Conventions
-----------
A saddle-point method maps a state x to F(x) (the right-hand sides of its saddle-point equations). The
damped iteration is x <- d x + (1 - d) F(x) with damping d in [0, 1). Its stopping rule uses the
*undamped* residual r = max|F(x) - x|: the step actually taken is (1 - d) r, so testing the step against
the tolerance would stop a factor 1/(1 - d) too early. A point is converged when r <= tolerance and every
component is finite; otherwise it is returned with ``converged=False`` and its last residual.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
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
        if not np.all(np.isfinite(fx)):
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


class ChordJacobian:
    """Keeps a finite-difference Jacobian for ``refresh_every`` Newton steps (a chord method).

    The Jacobian only steers the iteration towards gradient = 0; a slightly stale one changes the path,
    never the converged point, and saves the extra disorder averages a fresh difference quotient costs.
    """

    def __init__(self, refresh_every: int = 4):
        self.refresh_every = refresh_every
        self.matrix: np.ndarray | None = None
        self.age = 0

    def get(self, gradient, params: np.ndarray, grad_at_params: np.ndarray, relative_step: float) -> np.ndarray:
        if self.matrix is None or self.matrix.shape[0] != params.shape[0] or self.age >= self.refresh_every:
            k = params.shape[0]
            jac = np.empty((k, k))
            for i in range(k):
                shifted = params.copy()
                delta = relative_step * (1.0 + abs(params[i]))
                shifted[i] += delta
                jac[:, i] = (gradient(shifted) - grad_at_params) / delta
            self.matrix, self.age = jac, 0
        self.age += 1
        return self.matrix


def newton_ascent_step(gradient: Callable[[np.ndarray], np.ndarray], params: np.ndarray,
                       grad_at_params: np.ndarray, relative_step: float = 1e-6,
                       max_relative_move: float = 0.25, chord: ChordJacobian | None = None) -> np.ndarray:
    """One Newton step towards a stationary point of a function whose gradient is given.

    The Jacobian of the gradient is taken by forward differences, fresh or from ``chord`` (it only steers
    the iteration: the converged point satisfies gradient = 0 exactly, whatever the Jacobian's error). A
    singular Jacobian falls back to a small ascent step; moves are capped at ``max_relative_move`` (1 + |p|).
    """
    jac = (chord or ChordJacobian(refresh_every=0)).get(gradient, params, grad_at_params, relative_step)
    try:
        move = -np.linalg.solve(jac, grad_at_params)
    except np.linalg.LinAlgError:
        move = 0.1 * grad_at_params
    if not np.all(np.isfinite(move)):
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


def _sweep(method, alphas: np.ndarray, order: np.ndarray, settings: SolverSettings,
           state: np.ndarray, branch: int) -> Iterator[PointResult]:
    """Continuation: each point starts from the last converged one (never from a failed iterate).

    ``method.warm_start`` nudges that state off the exactly invariant set R = 0 (the student ignoring
    the teacher), which the iteration could otherwise never leave even where it is unstable.
    """
    last_good = state
    for index in order:
        alpha = float(alphas[index])
        method.begin_point()
        result = damped_fixed_point(lambda x, a=alpha: method.update(x, a), method.warm_start(state),
                                    settings.damping, settings.tolerance, settings.max_iterations)
        obs = method.observables(result.value, alpha)
        yield PointResult(int(index), alpha, obs, result.value, result.residual, result.iterations,
                          result.converged, branch)
        if result.converged:
            last_good = result.value
        state = last_good


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


def prefer_backward(forward_converged: bool, forward_free_energy: float, backward_converged: bool,
                    backward_free_energy: float) -> bool:
    """The rule of ``branches = "both"``: keep the backward point when it converged and the forward one did not,
    or when both did and the backward one has the lower free energy (the stable of two coexisting solutions)."""
    return backward_converged and (not forward_converged or backward_free_energy < forward_free_energy)


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
                                                 other.converged, other.observables["free_energy"]):
            yield other
        else:
            yield point
