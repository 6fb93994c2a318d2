"""The frozen description of one learning-dynamics run (analysis B of SCIENCE.md).

Online SGD of the block on a teacher: every step draws a fresh batch of M Gaussian inputs, and

    w     <- w - eta * dF_B/dw,            F_B = (1/M) sum_j l_j,  l_j = (g(a_j) - y_j)^2/2 (+ zeta gamma^2),
    gamma <- gamma - (eta/N) dF_B/dgamma,  beta <- beta - (eta/N) dF_B/dbeta,
    w     <- w (1 - eta * weight_decay / N)                           (weight decay on w, any normalizer),

so that, with t = steps/N, the order parameters R, L = |w|/sqrt(N), gamma and beta all move on time t as
N -> infinity (gamma and beta have O(1) gradients; w's O(1/sqrt(N)) per-component gradient moves R and L by
O(eta/N) per step). ``learning_rate`` is eta. The field a_j is gamma (h_j - mu)/sigma + beta with batch
statistics (bn), population statistics of the centered inputs mu = 0, sigma = L (pn, wn, pn_gd), or h_j + beta
(none, whose gain is L). The effective learning rate of the direction is eta_eff = eta gamma/L^2 for the
normalized students and eta for none.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..model import Block
from ..theory.problem import Problem


def output_times(t_max: float, points: int, t_min: float = 1e-2) -> np.ndarray:
    """0 followed by ``points`` log-spaced times from t_min to t_max."""
    return np.concatenate([[0.0], np.geomspace(t_min, t_max, points)])


@dataclass(frozen=True)
class DynamicsProblem(Block):
    """One online-SGD run: the block (:class:`statmech_bn.model.Block`; ``weight_decay`` acts on w for every
    normalizer), the learning rate eta, the batch size M (default 1) and the initial state."""

    learning_rate: float
    batch_size: int = field(default=1, kw_only=True)
    initial_overlap: float = field(default=0.0, kw_only=True)
    initial_norm: float = field(default=1.0, kw_only=True)
    initial_gamma: float = field(default=1.0, kw_only=True)
    initial_beta: float = field(default=0.0, kw_only=True)

    @property
    def on_branch(self) -> bool:
        """Whether the maximal rate and the eta_eff -> 0 error come from the stationary branch
        (:func:`.stability.stationary_branch`): the students whose noise-free fixed point keeps a residual error,
        those trained through batch statistics (bn) and those with a gamma decay zeta > 0 (linear bn's branch is
        the teacher direction, R* = 1)."""
        return self.norm.batch_statistics or self.penalty > 0.0

    def deployed(self) -> Problem:
        """The theory :class:`Problem` whose eps_g is that of the trained student deployed with population
        statistics (its normalizer's ``deployed_as``: pn for every normalized student, bn included)."""
        return Problem(self.activation, self.norm.deployed_as, "dynamics", noise=self.noise)
