"""The basic block: activations, normalizers, and which theory method applies to which.

The block (SCIENCE.md): h = w.x/sqrt(N), h_hat = gamma (h - mu)/sigma + beta, output g(h_hat); the teacher is
y = g(u) + noise * xi with u = w*.x/sqrt(N), |w*|^2 = N. For centered isotropic Gaussian inputs the
normalizers ``pn`` and ``wn`` both give h_hat = gamma * lambda + beta with lambda = w.x/|w| ~ N(0, 1),
correlated with u through R; ``pn_gd`` adds the per-sample penalty zeta * gamma^2; the theory of ``bn``
with batch size M is ``pn_gd`` with zeta = zeta(M) of analysis A taken at the solution; ``none`` gives
h_hat = L lambda + beta with L = |w|/sqrt(N) and weight decay (lambda_wd/2)|w|^2.
"""

from __future__ import annotations

import numpy as np

from .kernels import activations as _act

ACTIVATION_CODES = {"linear": _act.LINEAR, "relu": _act.RELU, "erf": _act.ERF, "sign": _act.SIGN}
SCALE_INVARIANT = ("pn", "wn", "pn_gd", "bn")
NORMALIZERS = (*SCALE_INVARIANT, "none")
THEORY_METHODS = ("high_temperature", "gibbs", "erm")
SIMULATION_METHODS = ("sim_gibbs", "sim_erm", "sim_sgd")
"""Finite-N simulations (statmech_bn.simulate): HMC of the Gibbs posterior, full-batch ERM, mini-batch SGD."""
METHODS = THEORY_METHODS + SIMULATION_METHODS
GRADIENT_FREE_ACTIVATIONS = ("sign",)
"""Activations without a useful gradient: only the sampling theories (Gibbs, high temperature) apply."""


def allowed_methods(activation: str) -> tuple[str, ...]:
    """Methods defined for ``activation``: ERM and SGD need a gradient (sign is sampled by Metropolis)."""
    if activation in GRADIENT_FREE_ACTIVATIONS:
        return ("high_temperature", "gibbs", "sim_gibbs")
    return METHODS


def allowed_normalizers(method: str) -> tuple[str, ...]:
    """Normalizers a method covers. The real ``bn`` student (batch statistics) exists only in SGD; its
    Gibbs and ERM theory is pn_gd with zeta(M) (analysis A), which the theory methods provide."""
    if method in ("sim_gibbs", "sim_erm"):
        return ("pn", "wn", "pn_gd", "none")
    return NORMALIZERS


def normalized_preactivation(normalizer: str, weights: np.ndarray, inputs: np.ndarray, gamma: float,
                             beta: float, input_mean: float = 0.0) -> np.ndarray:
    """h_hat of the block for a batch of inputs (rows), with population statistics for ``pn``/``pn_gd``.

    ``input_mean`` is the mean m of every input component (unit variance), so the population mean and
    standard deviation of h = w.x/sqrt(N) are m * sum(w)/sqrt(N) and |w|/sqrt(N).
    """
    n = weights.shape[0]
    h = inputs @ weights / np.sqrt(n)
    norm = np.linalg.norm(weights) / np.sqrt(n)
    if normalizer in ("pn", "pn_gd", "bn"):  # bn: population statistics here; batch statistics in simulations
        mu = input_mean * weights.sum() / np.sqrt(n)
        return gamma * (h - mu) / norm + beta
    if normalizer == "wn":
        return gamma * h / norm + beta
    if normalizer == "none":
        return h + beta
    raise ValueError(f"unknown normalizer {normalizer!r}")
