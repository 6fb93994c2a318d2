r"""BN = PN + gamma decay: the analytic regularization strength zeta and the exact Monte-Carlo gap.

Derivation (analysis A of SCIENCE.md; written here in full)
------------------------------------------------------------
Let z = (h - mu_P)/sigma_P for one sample x_i of a batch of M (unit variance, symmetric law of kurtosis
kappa), h_hat_PN = gamma z + beta and h_hat_BN = gamma (z - m_B)/s_B + beta with the batch mean m_B and the
*biased* batch variance s_B^2 = (1/M) sum_j (z_j - m_B)^2 of the batch that contains the sample. Split off
the sample's own share: m_B = z/M + a with a = (1/M) sum_{j != i} z_j (E a = 0, E a^2 = 1/M + O(1/M^2)),
and s_B^2 = 1 + eps with

    eps = e + (z^2 - 1)/M - m_B^2 + O(M^-3/2),  E[eps | z] = (z^2 - 2)/M,  E[eps^2 | z] = (kappa - 1)/M,

where e = (1/M) sum_{j != i} (z_j^2 - 1) + (M-1)/M - 1 + 1/M is the fluctuation of the other samples. With
1/s_B = 1 - eps/2 + 3 eps^2/8 + ..., the shift Delta = h_hat_BN - h_hat_PN is

    Delta/gamma = -a - z/M - z eps/2 + 3 z eps^2/8 + a eps/2 + O(M^-3/2),

so that, for a symmetric law (E[a e] = 0),

    E[Delta | z]   = (gamma z / M) (3 (kappa - 1)/8 - z^2/2),
    E[Delta^2 | z] = (gamma^2 / M) (1 + (kappa - 1) z^2 / 4).

A second-order expansion of the loss in Delta, E_B[l(h_hat_BN)] = l + l' E[Delta|z] + l'' E[Delta^2|z]/2,
averaged over the data gives the gap to O(1/M):

    gap = zeta gamma^2 + first_order,
    zeta        = E[l'' (1 + (kappa - 1) z^2/4)] / (2M)          (the gamma decay: BN = PN + zeta gamma^2)
    first_order = (gamma/M) E[l' z (3 (kappa - 1)/8 - z^2/2)].

zeta is the paper's regularizer (SCIENCE.md: sigma_B = sigma_P (1 + b sqrt((kappa-1)/(4M))) gives exactly
its second-order term). What the zeta gamma^2 form neglects, and where it therefore fails:
- the first-order term. Its kappa part is proportional to E[l' z] = dE[l]/dgamma, which vanishes where the
  PN loss is stationary in gamma; its -z^2/2 part comes from the *sample inside its own batch* (the
  correlation of z with m_B and s_B) and the bias of the biased variance, and does not vanish there;
- O(M^-3/2) and O(1/M^2) terms: large at small M (M = 2, 4), where s_B is far from sigma_P;
- for heavy tails (Laplace, kappa = 6) the fluctuations of s_B are larger and the expansion in eps
  converges more slowly, so the O(1/M^2) terms need larger M to become negligible.
The exact gap is estimated by :func:`monte_carlo_gap`
(kernel :func:`statmech_bn.kernels.batchnorm.stream_batch_gaps`, which draws its own random numbers).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..kernels.batchnorm import expansion_averages, stream_batch_gaps
from ..model import ACTIVATIONS, BN_REGULARIZERS, GAP_STREAMS, INPUT_LAWS
from ..quadrature import EXPANSION_NODES, legendre
from ..rng import stream_states, ziggurat_tables

"""name -> (kernel code, kurtosis kappa of z, integration cut-off where the law's tail is below 1e-24)."""

_PIECE_X, _PIECE_W = legendre(EXPANSION_NODES)


@dataclass(frozen=True)
class Expansion:
    """The O(1/M) expansion of the BN-PN gap at one state."""

    zeta: float
    first_order: float

    def gap(self, gamma: float) -> float:
        return self.zeta * gamma**2 + self.first_order


def expansion(activation: str, input_law: str, overlap: float, gamma: float, beta: float,
              batch_size: int) -> Expansion:
    """zeta(M) and the first-order term at PN state (R, gamma, beta); see the module docstring."""
    code, kappa, cut = INPUT_LAWS[input_law]
    out = np.empty(4)
    expansion_averages(ACTIVATIONS[activation].code, code, overlap, gamma, beta, cut, _PIECE_X, _PIECE_W, out)
    a0, a2, b1, b3 = out
    zeta = (a0 + 0.25 * (kappa - 1.0) * a2) / (2.0 * batch_size)
    first = gamma / batch_size * (0.375 * (kappa - 1.0) * b1 - 0.5 * b3)
    return Expansion(float(zeta), float(first))


DIFFERENCE_STEP = 1e-5
"""Step of the central differences of :func:`expansion_penalty` (truncation ~1e-10 against round-off ~1e-11 for the
O(1) averages of :func:`expansion`, which are smooth in (R, gamma, beta): their panels move with the relu kink)."""


def expansion_penalty(activation: str, overlap: float, gamma: float, beta: float, batch_size: int,
                      input_law: str = "gaussian") -> tuple[float, np.ndarray]:
    """The O(1/M) BN-PN gap G(R, gamma, beta) = zeta gamma^2 + first_order per sample, and its gradient
    (dG/dR, dG/dgamma, dG/dbeta) by central differences (one-sided, second order, within a step of |R| = 1).

    The penalty of the ``expansion`` bn theory (:data:`BN_REGULARIZERS`): the saddle point extremises the free
    energy with alpha G added to the training energy per dimension (see the module docstring for G).
    """
    def gap(r, g, b):
        return expansion(activation, input_law, r, g, b, batch_size).gap(g)

    h = DIFFERENCE_STEP
    value = gap(overlap, gamma, beta)
    if abs(overlap) + h <= 1.0:
        d_overlap = (gap(overlap + h, gamma, beta) - gap(overlap - h, gamma, beta)) / (2.0 * h)
    else:
        s = -1.0 if overlap > 0.0 else 1.0  # step inward
        d_overlap = s * (-3.0 * value + 4.0 * gap(overlap + s * h, gamma, beta)
                         - gap(overlap + 2.0 * s * h, gamma, beta)) / (2.0 * h)
    d_gamma = (gap(overlap, gamma + h, beta) - gap(overlap, gamma - h, beta)) / (2.0 * h)
    d_beta = (gap(overlap, gamma, beta + h) - gap(overlap, gamma, beta - h)) / (2.0 * h)
    return value, np.array([d_overlap, d_gamma, d_beta])


def zeta(activation: str, overlap: float, gamma: float, beta: float, batch_size: int,
         input_law: str = "gaussian") -> float:
    """The gamma-decay strength zeta(M) of BN at state (R, gamma, beta) (squared loss)."""
    return expansion(activation, input_law, overlap, gamma, beta, batch_size).zeta


def monte_carlo_gap(activation: str, input_law: str, overlap: float, gamma: float, beta: float, noise: float,
                    batch_size: int, n_batches: int, seed: int) -> tuple[float, float]:
    """(mean, standard error) of the exact gap E_B[l(BN)] - E[l(PN)] per sample, from n_batches batches.

    The random numbers are drawn inside the kernel (:func:`statmech_bn.kernels.batchnorm.stream_batch_gaps`) from
    GAP_STREAMS xoshiro256++ streams seeded by ``numpy.random.SeedSequence(seed)``
    (:func:`statmech_bn.rng.stream_states`), normals by the ziggurat: a (seed, n_batches, M) triple reproduces a
    result bit for bit on any number of threads, and no array of draws is ever stored.
    """
    if batch_size < 2:
        raise ValueError("batch normalization needs a batch size M >= 2")
    law, _, _ = INPUT_LAWS[input_law]
    states = stream_states(seed, GAP_STREAMS)
    x_table, f_table = ziggurat_tables()
    partial = np.zeros((GAP_STREAMS, 3))
    stream_batch_gaps(ACTIVATIONS[activation].code, law, overlap, gamma, beta, noise, int(batch_size), int(n_batches),
                      states, x_table, f_table, partial)
    count, total, total_sq = (float(sum(partial[:, k])) for k in range(3))  # in stream order
    mean = total / count
    var = max(total_sq / count - mean * mean, 0.0) * count / max(count - 1.0, 1.0)
    return float(mean), float(math.sqrt(var / count))


__all__ = ["BN_REGULARIZERS", "INPUT_LAWS", "Expansion", "expansion", "expansion_penalty", "monte_carlo_gap", "zeta"]
