"""The basic block's physical pieces as records: one :class:`Activation` table, one :class:`Normalizer` table, and
the :class:`Block` record every analysis builds its problem on.

The block (docs/science.md): h = w.x/sqrt(N), h_hat = gamma (h - mu)/sigma + beta, output g(h_hat); the teacher is
y = g(u) + noise * xi with u = w*.x/sqrt(N), |w*|^2 = N. For centered isotropic Gaussian inputs the normalizers
``pn`` and ``wn`` both give h_hat = gamma * lambda + beta with lambda = w.x/|w| ~ N(0, 1), correlated with u through
R; ``pn_gd`` adds the per-sample penalty zeta * gamma^2; the theory of ``bn`` with batch size M is ``pn_gd`` with
zeta = zeta(M) of analysis A taken at the solution; ``none`` gives h_hat = L lambda + beta with L = |w|/sqrt(N) and
weight decay (lambda_wd/2)|w|^2.

Every rule that depends on which activation or normalizer a problem has reads these records; a new activation or
normalizer is one record here plus its kernels and their tests.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass
from enum import Enum

import numpy as np

from .kernels import codes as _codes

THEORY_METHODS = ("high_temperature", "gibbs", "erm")
SAMPLING_METHODS = ("high_temperature", "gibbs", "sim_gibbs")
"""Methods that need no gradient of the activation (Gibbs sampling and its theory)."""
SIMULATION_METHODS = ("sim_gibbs", "sim_erm", "sim_sgd")
"""Finite-N simulations (statmech_bn.simulate): HMC of the Gibbs posterior, full-batch ERM, mini-batch SGD."""
METHODS = THEORY_METHODS + SIMULATION_METHODS


@dataclass(frozen=True)
class Activation:
    """An activation g of the block.

    ``code``: its kernel code (:mod:`statmech_bn.kernels.codes`). ``differentiable``: it has a useful
    gradient, so ERM, SGD, the learning dynamics and the BN decomposition (which needs the loss curvature) apply;
    otherwise only the sampling methods do. ``gain_free``: its output does not depend on the gain (sign), so the
    theory holds (gamma, beta) at (1, 0). ``kinked``: piecewise linear with a kink at 0 (relu), where an extensive
    set of ERM minimizers sits, solved exactly by an active-set step. ``numpy``: the same g on arrays, for
    post-processing. ``affine``: g is affine (linear), so the squared loss is quadratic in the weights.
    """

    name: str
    code: int
    differentiable: bool
    gain_free: bool
    kinked: bool
    numpy: Callable[[np.ndarray], np.ndarray]
    affine: bool = False

    @property
    def methods(self) -> tuple[str, ...]:
        return METHODS if self.differentiable else SAMPLING_METHODS


_SQRT2 = math.sqrt(2.0)


def _erf_numpy(z):
    from scipy.special import erf  # SciPy loads only when a twin is evaluated, not with the tables

    return erf(np.asarray(z) / _SQRT2)


ACTIVATIONS: dict[str, Activation] = {a.name: a for a in (
    Activation("linear", _codes.LINEAR, True, False, False, lambda z: np.array(z, dtype=float), affine=True),
    Activation("relu", _codes.RELU, True, False, True, lambda z: np.maximum(z, 0.0)),
    Activation("erf", _codes.ERF, True, False, False, _erf_numpy),
    Activation("sign", _codes.SIGN, False, True, False, np.sign),
)}


class Penalty(Enum):
    """What a normalizer adds to the per-sample loss."""

    NONE = "none"
    GAMMA_DECAY = "gamma decay zeta gamma^2, zeta given"
    BATCH_ZETA = "gamma decay zeta(M) gamma^2 of analysis A, evaluated at the solution (the theory of bn)"
    WEIGHT_DECAY = "weight decay (lambda/2)|w|^2"


@dataclass(frozen=True)
class Normalizer:
    """A normalizer of the block.

    ``training``: how SGD computes its field (a code of :mod:`statmech_bn.kernels.codes` that
    :mod:`statmech_bn.kernels.sgd` reads: batch statistics, population statistics, or no normalization).
    ``scale_invariant``: only the direction of w and (gamma, beta) matter (the spherical theory; its gain is gamma,
    and ``none``'s is L). ``penalty``: what it adds to the loss.
    ``batch_statistics``: trained through the statistics of its batch (bn): its online drift is a Monte-Carlo
    average over batches, and finite-N Gibbs sampling and ERM do not cover it. ``min_batch`` / ``min_sgd_batch``:
    the smallest batch size its theory / its SGD accepts. ``deployed_as``: the normalizer whose population theory
    gives the generalization error of the trained student (bn is deployed with population statistics).
    """

    name: str
    training: int
    scale_invariant: bool
    penalty: Penalty
    batch_statistics: bool
    min_batch: int
    min_sgd_batch: int
    deployed_as: str

    @property
    def stationary_branch(self) -> bool:
        """Whether its noise-free online dynamics can keep a residual error (a gamma decay, or batch statistics),
        so that its maximal learning rate is that of a stationary branch rather than of the teacher state."""
        return self.batch_statistics or self.penalty is Penalty.GAMMA_DECAY

    @property
    def methods(self) -> tuple[str, ...]:
        """The methods that cover it: the real bn student exists only in SGD; its Gibbs and ERM theory is pn_gd
        with zeta(M) (analysis A)."""
        if self.batch_statistics:
            return THEORY_METHODS + ("sim_sgd",)
        return METHODS


NORMALIZERS: dict[str, Normalizer] = {n.name: n for n in (
    Normalizer("pn", _codes.POPULATION, True, Penalty.NONE, False, 1, 1, "pn"),
    Normalizer("wn", _codes.POPULATION, True, Penalty.NONE, False, 1, 1, "pn"),
    Normalizer("pn_gd", _codes.POPULATION, True, Penalty.GAMMA_DECAY, False, 1, 1, "pn"),
    Normalizer("bn", _codes.BATCH, True, Penalty.BATCH_ZETA, True, 2, 3, "pn"),
    Normalizer("none", _codes.PLAIN, False, Penalty.WEIGHT_DECAY, False, 1, 1, "none"),
)}
INPUT_LAWS = {"gaussian": (_codes.GAUSSIAN, 3.0, 12.0), "laplace": (_codes.LAPLACE, 6.0, 40.0)}
"""Pre-activation laws of the BN decomposition (analysis A): kernel code, kurtosis, and the cut of its averages."""
GAP_STREAMS = 64
"""Independent xoshiro256++ streams of the decomposition's Monte-Carlo gap (batch b from stream b mod GAP_STREAMS;
:func:`statmech_bn.theory.decomposition.monte_carlo_gap`): threads take whole streams, so a result does not depend
on the number of threads. Each stream holds three scratch arrays of M floats."""
BN_REGULARIZERS = {
    "gamma_decay": "the paper's gamma decay: zeta(M) gamma^2 with zeta(M) taken at the solution and held fixed in the "
                   "saddle-point equations (a fixed point in zeta)",
    "expansion": "the whole O(1/M) gap G = zeta gamma^2 + first_order as a function of (R, gamma, beta), its "
                 "gradient in every saddle-point equation (population statistics of the fields)",
    "mean_field": "not a penalty: the finite-M mean field of real bn (statmech_bn.theory.bn_finite_m, issue #16) "
                  "in place of the saddle point; method erm with relu and label noise > 0 only; its batch-mates are "
                  "Monte Carlo batches drawn with a seed derived from simulation.seed, the curve's physics and alpha "
                  "(statmech_bn.seeds, stored per point); about 10 CPU s per point at M = 4 with the default "
                  "quadrature.mean_field_* settings (7-11 s measured at alpha 3, 8, noise 0.5)",
}
"""The regularizers that the bn theory can put into the saddle point (``model.bn_regularizer``)."""
DIFFERENTIABLE = tuple(name for name, a in ACTIVATIONS.items() if a.differentiable)
"""Activations with a gradient: the learning dynamics and the BN decomposition cover these."""


def allowed_methods(activation: str) -> tuple[str, ...]:
    return ACTIVATIONS[activation].methods


def allowed_normalizers(method: str) -> tuple[str, ...]:
    return tuple(name for name, n in NORMALIZERS.items() if method in n.methods)


@dataclass(frozen=True)
class Block:
    """The block and its teacher, shared by every analysis (theory, simulations, dynamics).

    ``zeta`` acts only through a normalizer with a given gamma decay (pn_gd), ``weight_decay`` as stated by the
    analysis using it, ``batch_size`` M where a batch exists, ``noise`` is the teacher's label-noise standard
    deviation.
    """

    activation: str
    normalizer: str
    _: KW_ONLY
    zeta: float = 0.0
    weight_decay: float = 0.0
    noise: float = 0.0
    batch_size: int = 0

    @property
    def act(self) -> Activation:
        return ACTIVATIONS[self.activation]

    @property
    def norm(self) -> Normalizer:
        return NORMALIZERS[self.normalizer]

    @property
    def code(self) -> int:
        return self.act.code

    @property
    def spherical(self) -> bool:
        """True for the scale-invariant normalizers, whose weight direction lives on the sphere."""
        return self.norm.scale_invariant

    @property
    def unique_saddle(self) -> bool:
        """An affine activation without a normalizer: the loss (plus weight decay) is quadratic in (w, beta), so the
        Gibbs posterior is Gaussian, ERM is convex, and the saddle point is unique: one continuation finds it."""
        return self.act.affine and not self.norm.scale_invariant and not self.norm.batch_statistics

    @property
    def penalty(self) -> float:
        """zeta of the per-sample gamma decay when it is given (pn_gd), 0 otherwise."""
        return self.zeta if self.norm.penalty is Penalty.GAMMA_DECAY else 0.0


__all__ = ["ACTIVATIONS", "BN_REGULARIZERS", "DIFFERENTIABLE", "GAP_STREAMS", "INPUT_LAWS", "METHODS", "NORMALIZERS",
           "SAMPLING_METHODS", "SIMULATION_METHODS", "THEORY_METHODS", "Activation", "Block", "Normalizer", "Penalty",
           "allowed_methods", "allowed_normalizers"]
