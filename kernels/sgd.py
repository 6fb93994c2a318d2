"""Mini-batch SGD of the block on a fixed training set: one epoch, and the gradient of one batch.

Kinds of normalization (the driver maps normalizers to kinds):

- ``BATCH`` = 0 (``bn``): h_j = w.x_j/sqrt(N), batch mean mu_B = (1/M) sum_j h_j and biased batch standard
  deviation sigma_B = sqrt((1/M) sum_j (h_j - mu_B)^2) over the M samples of the batch, field
  a_j = gamma (h_j - mu_B)/sigma_B + beta; gradients flow through mu_B and sigma_B (standard BN backward).
  No epsilon is added to sigma_B: a batch of equal fields (always the case for M = 1) gives inf/NaN, which the
  driver detects as divergence.
- ``POPULATION`` = 1 (``pn``, ``wn``, ``pn_gd``): centered unit-variance inputs, so mu_P = 0 and
  sigma_P = |w|/sqrt(N); field a_j = gamma lambda_j + beta with lambda_j = w.x_j/|w|.
- ``PLAIN`` = 2 (``none``): field a_j = h_j + beta; gamma is not used (neither read into the field nor updated).

Per-sample objective, so that the mean over the training set is E/P of the Gibbs energy of SCIENCE.md
(analysis C):

    l_mu = (g(a_mu) - y_mu)^2/2 + zeta gamma^2          (BATCH, POPULATION; zeta = 0 unless pn_gd)
    l_mu = (g(a_mu) - y_mu)^2/2 + (wd/(2P)) |w|^2       (PLAIN; zeta ignored)

with P the size of the training set (rows of x). One SGD step on the batch B descends the batch mean
F_B = (1/M) sum_{mu in B} l_mu:

    w <- w - lr_w dF_B/dw,   gamma <- gamma - lr_scalar dF_B/dgamma,   beta <- beta - lr_scalar dF_B/dbeta.

Time convention: the driver passes lr_scalar = lr_w/N, so that w (whose O(1) order parameters R and L move by
O(lr_w/N) per step) and the O(1) scalars gamma, beta all move on the same time t = steps/N (SCIENCE.md,
analysis B).

The w-gradient is stored as sum_j c_j x_j + c_w w (coefficients from :func:`batch_coefficients`), which lets
the epoch update w in place without forming a gradient vector: the M dot products w.x_j run over contiguous
rows (BLAS), then w is rescaled by (1 - lr_w c_w) and updated row by row, the batch rows being re-read from
cache. For BATCH and POPULATION the gradient is orthogonal to w (scale invariance); for BATCH sum_j c_j = 0
(the fields only see w through h_j - mu_B), so the gradient lies in the span of the centered batch rows and
is unchanged by a common shift of the inputs; for M = 2 it vanishes (z_j = +-1 whatever w). Random numbers
(the permutation) are drawn by the driver.
"""

import math

import numpy as np

from ._jit import jit
from .activations import activation, activation_derivatives
from .codes import BATCH, PLAIN, POPULATION


@jit
def batch_coefficients(code, kind, x, y, rows, w, gamma, beta, zeta, weight_decay, fields, deltas):
    """Objective and gradient of one batch in coefficient form.

    Parameters
    ----------
    code : int
        Activation code (:mod:`statmech_bn.kernels.activations`: 0 linear, 1 relu, 2 erf).
    kind : int
        ``BATCH``, ``POPULATION`` or ``PLAIN``.
    x : (P, N) float64, C-contiguous
        The whole training set; P enters the weight-decay term of ``PLAIN``.
    y : (P,) float64
        Labels.
    rows : (M,) int64
        Indices of the batch's samples in x.
    w : (N,) float64
        Weights (read only).
    gamma, beta, zeta, weight_decay : float
        Parameters of the block and of the objective (see the module docstring).
    fields : (M,) float64
        Scratch; on return the normalized fields: z_j (BATCH), lambda_j (POPULATION) or h_j (PLAIN).
    deltas : (M,) float64
        Output: c_j such that dF_B/dw = sum_j c_j x[rows[j]] + c_w w.

    Returns
    -------
    (F_B, c_w, dF_B/dgamma, dF_B/dbeta) : tuple of float
        The batch mean of the per-sample objective, evaluated before any step.
    """
    n = x.shape[1]
    sqrt_n = math.sqrt(n)
    for j in range(rows.shape[0]):
        fields[j] = np.dot(x[rows[j]], w) / sqrt_n
    square = 1.0
    if kind == POPULATION or (kind == PLAIN and weight_decay != 0.0):
        square = np.dot(w, w) / n
    return field_coefficients(code, kind, fields, y, rows, square, n, x.shape[0], gamma, beta, zeta, weight_decay,
                              deltas)


@jit
def field_coefficients(code, kind, fields, y, rows, square, n, p, gamma, beta, zeta, weight_decay, deltas):
    """:func:`batch_coefficients` from the batch's fields h_j = w.x_j/sqrt(N) (``fields``, overwritten) instead of
    its rows: ``square`` = |w|^2/N (read by POPULATION, and by PLAIN with weight decay), ``n`` = N, ``p`` = P.
    The coefficients refer to the raw rows: dF_B/dw = sum_j deltas[j] x_j + c_w w. Used by the reduced
    simulation, which knows the fields of a batch without its rows.
    """
    m = rows.shape[0]
    sqrt_n = math.sqrt(n)
    inv_m = 1.0 / m
    norm = 1.0
    std = 1.0
    penalty = 0.0
    c_w = 0.0
    if kind == BATCH:
        mean = 0.0
        for j in range(m):
            mean += fields[j]
        mean *= inv_m
        var = 0.0
        for j in range(m):
            fields[j] -= mean
            var += fields[j] * fields[j]
        std = math.sqrt(var * inv_m)
        for j in range(m):
            fields[j] /= std  # z_j, the normalized field
    elif kind == POPULATION:
        norm = math.sqrt(square)  # |w|/sqrt(N), exact for every batch
        for j in range(m):
            fields[j] /= norm  # lambda_j
    elif weight_decay != 0.0:
        penalty = 0.5 * weight_decay * square * n / p
        c_w = weight_decay / p
    # fields[j] now holds z_j (BATCH), lambda_j (POPULATION) or h_j (PLAIN); deltas[j] <- dl_j/da_j.
    loss = 0.0
    d_beta = 0.0
    d_gamma = 0.0
    for j in range(m):
        if kind == PLAIN:
            a = fields[j] + beta
        else:
            a = gamma * fields[j] + beta
        r = activation(code, a) - y[rows[j]]
        d1, _ = activation_derivatives(code, a)
        loss += 0.5 * r * r
        d = r * d1
        deltas[j] = d
        d_beta += d
        d_gamma += d * fields[j]
    loss *= inv_m
    d_beta *= inv_m
    d_gamma *= inv_m  # mean of d_j z_j (BATCH) or d_j lambda_j (POPULATION)
    if kind == PLAIN:
        scale = inv_m / sqrt_n
        for j in range(m):
            deltas[j] *= scale
        return loss + penalty, c_w, 0.0, d_beta
    if kind == BATCH:
        # dF/dh_j = gamma/(M sigma_B) (d_j - mean d - z_j mean(d z)), and dh_j/dw = x_j/sqrt(N).
        scale = gamma * inv_m / (std * sqrt_n)
        for j in range(m):
            deltas[j] = scale * (deltas[j] - d_beta - fields[j] * d_gamma)
    else:
        # dlambda_j/dw = (x_j - lambda_j w/|w|)/|w|, |w| = sqrt(N) norm.
        scale = gamma * inv_m / (sqrt_n * norm)
        for j in range(m):
            deltas[j] *= scale
        c_w = -gamma * d_gamma / (n * norm * norm)
    penalty = zeta * gamma * gamma
    return loss + penalty, c_w, d_gamma + 2.0 * zeta * gamma, d_beta


@jit
def batch_gradient(code, kind, x, y, rows, w, gamma, beta, zeta, weight_decay, fields, deltas, grad_w):
    """Fill grad_w (N,) with dF_B/dw of the batch x[rows] and return (F_B, dF_B/dgamma, dF_B/dbeta).

    Same arguments as :func:`batch_coefficients` plus the output grad_w; the gradient is formed explicitly
    (for tests and diagnostics; :func:`sgd_epoch` applies the coefficients directly).
    """
    objective, c_w, d_gamma, d_beta = batch_coefficients(code, kind, x, y, rows, w, gamma, beta, zeta,
                                                         weight_decay, fields, deltas)
    n = w.shape[0]
    for i in range(n):
        grad_w[i] = c_w * w[i]
    for j in range(rows.shape[0]):
        row = x[rows[j]]
        c = deltas[j]
        for i in range(n):
            grad_w[i] += c * row[i]
    return objective, d_gamma, d_beta


@jit
def apply_step(x, rows, deltas, c_w, lr, w):
    """w <- w - lr (sum_j deltas[j] x[rows[j]] + c_w w), in place (rows re-read from cache after the fields)."""
    n = w.shape[0]
    if c_w != 0.0:
        shrink = 1.0 - lr * c_w
        for i in range(n):
            w[i] *= shrink
    for j in range(rows.shape[0]):
        row = x[rows[j]]
        c = lr * deltas[j]
        for i in range(n):
            w[i] -= c * row[i]


@jit
def sgd_epoch(code, kind, x, y, permutation, batch_size, lr_w, lr_scalar, zeta, weight_decay, w, scalars, fields,
              deltas):
    """One epoch of mini-batch SGD over the training set, in place.

    Parameters
    ----------
    code, kind : int
        Activation code and kind of normalization (module docstring).
    x : (P, N) float64, C-contiguous
        Training inputs.
    y : (P,) float64
        Labels.
    permutation : (P,) int64
        Order of the samples, drawn by the driver. Batch b is permutation[b M:(b + 1) M]; the last
        P mod M samples of the permutation (an incomplete batch) are skipped this epoch.
    batch_size : int
        M (>= 2 for ``BATCH``: a single sample has zero batch variance).
    lr_w, lr_scalar : float
        Learning rates of w and of (gamma, beta); the driver passes lr_scalar = lr_w/N (time t = steps/N).
    zeta, weight_decay : float
        Gamma decay (``BATCH``/``POPULATION``; 0 unless pn_gd) and weight decay (``PLAIN`` only).
    w : (N,) float64
        Weights, updated in place.
    scalars : (2,) float64
        [gamma, beta], updated in place (gamma untouched for ``PLAIN``).
    fields, deltas : (M,) float64
        Scratch.

    Returns
    -------
    float
        Mean over the epoch's P // M batches of the batch-mean objective F_B, each taken before its step
        (a cheap progress value; NaN when P < M, i.e. no complete batch).
    """
    p = x.shape[0]
    n_batches = p // batch_size
    total = 0.0
    for b in range(n_batches):
        rows = permutation[b * batch_size:(b + 1) * batch_size]
        objective, c_w, d_gamma, d_beta = batch_coefficients(code, kind, x, y, rows, w, scalars[0], scalars[1],
                                                             zeta, weight_decay, fields, deltas)
        total += objective
        apply_step(x, rows, deltas, c_w, lr_w, w)
        if kind != PLAIN:
            scalars[0] -= lr_scalar * d_gamma
        scalars[1] -= lr_scalar * d_beta
    return total / n_batches


@jit
def partitions_objective(code, kind, fields, y, partitions, batch_size, square, n, gamma, beta, zeta, weight_decay,
                         coefficients, scratch, deltas):
    """Objective and gradient of the mean over K fixed partitions of the epoch objective, from the fields.

    Parameters
    ----------
    code, kind : int
        Activation code and kind of normalization (module docstring).
    fields : (P,) float64
        h_mu = w.x_mu/sqrt(N) of every training sample (one pass over x, shared by all partitions).
    y : (P,) float64
        Labels.
    partitions : (K, P) int64
        K permutations of the samples; batch b of partition k is partitions[k, b M:(b + 1) M], and the last
        P mod M samples of each are left out (as in :func:`sgd_epoch`).
    batch_size : int
        M.
    square, n : float, int
        |w|^2/N and N, as in :func:`field_coefficients`.
    gamma, beta, zeta, weight_decay : float
        Parameters of the block and of the objective.
    coefficients : (P,) float64
        Output: c_mu such that the w-gradient of the objective is sum_mu c_mu x_mu + c_w w.
    scratch, deltas : (M,) float64
        Scratch.

    Returns
    -------
    (F, c_w, dF/dgamma, dF/dbeta) : tuple of float
        F = (1/K) sum_k (1/B) sum_b F_{k,b}, B = P // M batches per partition, F_{k,b} the batch-mean objective
        of :func:`batch_coefficients`; its gradient assembled from :func:`field_coefficients` batch by batch.
    """
    k_count, p = partitions.shape
    n_batches = p // batch_size
    weight = 1.0 / (k_count * n_batches)
    for i in range(p):
        coefficients[i] = 0.0
    total, c_total, g_total, b_total = 0.0, 0.0, 0.0, 0.0
    for k in range(k_count):
        for b in range(n_batches):
            rows = partitions[k, b * batch_size:(b + 1) * batch_size]
            for j in range(batch_size):
                scratch[j] = fields[rows[j]]
            objective, c_w, d_gamma, d_beta = field_coefficients(code, kind, scratch, y, rows, square, n, p, gamma,
                                                                 beta, zeta, weight_decay, deltas)
            total += objective
            c_total += c_w
            g_total += d_gamma
            b_total += d_beta
            for j in range(batch_size):
                coefficients[rows[j]] += weight * deltas[j]
    return total * weight, c_total * weight, g_total * weight, b_total * weight
