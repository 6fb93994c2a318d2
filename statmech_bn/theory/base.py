"""What every saddle-point method shares: the problem, the gamma-decay strength in force, the continuation
warm start and the Newton step for the O(1) parameters (gamma, beta) or beta alone."""

from __future__ import annotations

import numpy as np

from ..model import Penalty
from .problem import Problem, nudge_off_symmetric
from .solver import ChordJacobian, newton_ascent_step


class SaddlePointMethod:
    """Base of the methods in METHOD_TABLE; subclasses set ``_gamma_slot`` (index of gamma in the spherical
    state, beta follows it) and provide ``stationarity(x, alpha, sums=None)``."""

    _gamma_slot: int

    def __init__(self, problem: Problem):
        self.problem = problem
        self.zeta = problem.gamma_decay(0.0, 1.0, 0.0)
        self._chord = ChordJacobian()

    def warm_start(self, x: np.ndarray) -> np.ndarray:
        return nudge_off_symmetric(x, 0, self._gamma_slot if self.problem.spherical else None)

    def _set_zeta(self, x: np.ndarray) -> None:
        """Self-consistent gamma decay (bn): zeta evaluated at the current state."""
        if self.problem.norm.penalty is Penalty.BATCH_ZETA:
            self.zeta = self.problem.gamma_decay(x[0], x[self._gamma_slot], x[self._gamma_slot + 1])

    def _newton_step(self, x: np.ndarray, alpha: float, sums: np.ndarray, slots: slice) -> np.ndarray:
        """New values of x[slots] after one Newton step on the stationarity equations of those slots."""
        def gradient(params):
            y = x.copy()
            y[slots] = params
            return self.stationarity(y, alpha)[slots]

        return newton_ascent_step(gradient, x[slots].copy(), self.stationarity(x, alpha, sums)[slots],
                                  chord=self._chord)
