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

from dataclasses import dataclass

from ..model import ACTIVATION_CODES, SCALE_INVARIANT


@dataclass(frozen=True)
class DynamicsProblem:
    activation: str
    normalizer: str
    learning_rate: float
    batch_size: int = 1
    zeta: float = 0.0
    weight_decay: float = 0.0
    noise: float = 0.0
    initial_overlap: float = 0.0
    initial_norm: float = 1.0
    initial_gamma: float = 1.0
    initial_beta: float = 0.0

    @property
    def code(self) -> int:
        return ACTIVATION_CODES[self.activation]

    @property
    def spherical(self) -> bool:
        return self.normalizer in SCALE_INVARIANT

    @property
    def penalty(self) -> float:
        """zeta of the per-sample gamma decay (pn_gd only)."""
        return self.zeta if self.normalizer == "pn_gd" else 0.0

    @property
    def on_branch(self) -> bool:
        """Whether the maximal rate and the eta_eff -> 0 error come from the stationary branch
        (:func:`.stability.stationary_branch`): bn, and pn_gd with zeta > 0, whose noise-free fixed point keeps a
        residual error (linear bn's branch is the teacher direction, R* = 1)."""
        return self.normalizer == "bn" or self.penalty > 0.0
