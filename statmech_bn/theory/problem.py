"""The frozen description of one theory curve, and the Gaussian averages shared by all methods."""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass

import numpy as np

from ..model import Block, Penalty
from ..quadrature import Rules, build_rules


@dataclass(frozen=True)
class QuadratureSettings:
    """Node counts of the Gaussian averages (documented defaults; accuracy stated in the README)."""

    teacher_nodes: int = 32
    replica_nodes: int = 32
    noise_nodes: int = 8
    erm_replica_nodes: int = 96


@dataclass(frozen=True)
class Problem(Block):
    """One theory curve's model: the block (:class:`statmech_bn.model.Block`), the method and the temperature.

    ``temperature`` is T of the posterior exp(-(1/T) [sum_mu (l_mu + zeta gamma^2) + (wd/2)|w|^2]) and is
    ignored by ``erm`` (T -> 0). ``zeta`` acts only for ``pn_gd``, ``weight_decay`` only for ``none``,
    ``batch_size`` (M >= 2) only for ``bn``, whose penalty is chosen by ``bn_regularizer``
    (:data:`statmech_bn.model.BN_REGULARIZERS`): ``gamma_decay`` (the paper's zeta(M) gamma^2 with
    zeta(M) of :mod:`.decomposition` at the solution) or ``expansion`` (the whole O(1/M) gap, self-consistently).
    """

    method: str
    _: KW_ONLY
    temperature: float = 1.0
    quadrature: QuadratureSettings = QuadratureSettings()
    bn_regularizer: str = "gamma_decay"

    @property
    def full_expansion(self) -> bool:
        """Whether the penalty is the whole O(1/M) gap G(R, gamma, beta) (bn with ``bn_regularizer`` expansion)."""
        return self.norm.penalty is Penalty.BATCH_ZETA and self.bn_regularizer == "expansion"

    def gamma_decay(self, overlap: float, gamma: float, beta: float) -> float:
        """zeta of the per-sample penalty zeta gamma^2 at state (R, gamma, beta): fixed for a given gamma decay
        (pn_gd), the analytic BN value zeta(M; R, gamma, beta) for bn (Gaussian inputs), 0 otherwise."""
        if self.norm.penalty is Penalty.BATCH_ZETA:
            from .decomposition import zeta

            return zeta(self.activation, overlap, gamma, beta, self.batch_size)
        return self.penalty

    def rules(self, replica_nodes: int | None = None) -> Rules:
        q = self.quadrature
        return build_rules(q.teacher_nodes, replica_nodes or q.replica_nodes, q.noise_nodes, self.noise)


_NO_NOISE_X, _NO_NOISE_W = np.zeros(1), np.ones(1)


def generalization_error(problem: Problem, rules: Rules, overlap: float, scale: float, beta: float) -> float:
    """eps_g = E[(g(u) - g(scale * lambda + beta))^2]/2, (u, lambda) unit Gaussians with correlation R.

    Label noise excluded (SCIENCE.md). ``scale`` is gamma for the normalized students and L for ``none``.
    """
    from ..kernels.saddle import N_SUMS, loss_sums  # the kernels load with the first computation, not the config

    out = np.empty(N_SUMS)
    overlap = min(max(overlap, -1.0), 1.0)
    loss_sums(problem.code, problem.code, overlap, 1.0 - overlap * overlap, scale, beta, 0.0,
              rules.tau_x, rules.tau_w, _NO_NOISE_X, _NO_NOISE_W, rules.feature_x, rules.feature_w, rules.tail_x,
              rules.tail_w, out)
    return float(out[0])


SYMMETRY_BREAKING = 1e-4
"""Smallest |overlap| (and gain) a continuation starts from; see :func:`nudge_off_symmetric`."""


def nudge_off_symmetric(x: np.ndarray, overlap_slot: int, scale_slot: int | None) -> np.ndarray:
    """Copy of state x with the overlap and the gain at least SYMMETRY_BREAKING in size.

    R = 0 together with gamma = 0 (or m = 0 for ``none``) is an exact fixed point of every method: the
    student that ignores the teacher. Starting exactly on it, an iteration stays there even where it is
    unstable; a tiny nudge lets the iteration leave it where it is unstable and return where it is stable.
    """
    y = np.array(x, dtype=float)
    y[overlap_slot] = max(y[overlap_slot], SYMMETRY_BREAKING)
    if scale_slot is not None:
        y[scale_slot] = max(y[scale_slot], SYMMETRY_BREAKING)
    return y
