"""Batch normalization against population normalization: the analytic gamma-decay terms and the exact
Monte-Carlo gap (analysis A of SCIENCE.md).

Model (one unit of the block): the population-normalized pre-activation z = (h - mu_P)/sigma_P has a
symmetric unit-variance law (code 0 Gaussian, 1 Laplace) with kurtosis kappa; the teacher field is
u = R z + sqrt(1 - R^2) eta with eta ~ N(0, 1); the label is y = g(u) + noise xi; the student output is
g(h_hat) with h_hat = gamma z + beta (PN) or gamma (z - m_B)/s_B + beta (BN, batch mean m_B and biased
batch standard deviation s_B of the M samples of the batch, the sample itself included).

The expansion of :mod:`statmech_bn.theory.decomposition` needs four averages over the data:
A0 = E[l''], A2 = E[l'' z^2], B1 = E[l' z], B3 = E[l' z^3], with l' and l'' the derivatives of the loss
l = (y - g(h_hat))^2 / 2 in h_hat at the PN state. Given z, the label enters l' and l'' linearly, so
only E[g(u) | z] is needed (closed form below); relu's g'' = delta(h_hat) contributes
-E[y | z0] w(z0) p(z0)/gamma at z0 = -beta/gamma.
"""

import math

import numpy as np
from numba import prange

from ._jit import jit, jit_parallel
from .activations import activation, activation_derivatives
from .codes import GAUSSIAN, LAPLACE, LINEAR, RELU
from .normal_rng import laplace_draw, normal_draw
from .panels import legendre_panels
from .special import norm_cdf, norm_pdf

_SQRT2 = math.sqrt(2.0)


@jit
def density(dist, z):
    """Unit-variance density: Gaussian (kurtosis 3) or Laplace with scale 1/sqrt 2 (kurtosis 6)."""
    if dist == GAUSSIAN:
        return norm_pdf(z)
    return math.exp(-_SQRT2 * abs(z)) / _SQRT2


@jit
def teacher_mean(code, overlap, z):
    """E[g(u) | z] for u = R z + sqrt(1 - R^2) eta, eta ~ N(0, 1)."""
    m = overlap * z
    v = max(1.0 - overlap * overlap, 0.0)
    if code == LINEAR:
        return m
    if code == RELU:
        if v == 0.0:
            return max(m, 0.0)
        s = math.sqrt(v)
        return m * norm_cdf(m / s) + s * norm_pdf(m / s)
    return math.erf(m / math.sqrt(2.0 * (1.0 + v)))


@jit
def expansion_averages(code, dist, overlap, gamma, beta, cut, piece_x, piece_w, out):
    """out[:] = (A0, A2, B1, B3) by Gauss-Legendre on [-cut, cut], split at 0 and at the relu kink."""
    for i in range(4):
        out[i] = 0.0
    kink = -beta / gamma
    clipped = max(min(kink, cut), -cut)
    cuts = np.empty(2)
    cuts[0] = min(0.0, clipped)
    cuts[1] = max(0.0, clipped)
    nodes = np.empty(3 * piece_x.shape[0])
    weights = np.empty(3 * piece_x.shape[0])
    legendre_panels(-cut, cut, cuts, 2, piece_x, piece_w, nodes, weights)
    for j in range(nodes.shape[0]):
        if weights[j] == 0.0:
            continue  # a piece of zero width
        z = nodes[j]
        w = weights[j] * density(dist, z)
        h = gamma * z + beta
        g = activation(code, h)
        d1, d2 = activation_derivatives(code, h)
        residual = teacher_mean(code, overlap, z) - g
        first = -residual * d1
        second = d1 * d1 - residual * d2
        out[0] += w * second
        out[1] += w * second * z * z
        out[2] += w * first * z
        out[3] += w * first * z * z * z
    if code == RELU and -cut < kink < cut:
        point = teacher_mean(code, overlap, kink) * density(dist, kink) / gamma
        out[0] -= point
        out[1] -= point * kink * kink


@jit
def batch_gap(code, overlap, gamma, beta, noise, z, eta, xi):
    """The mean over one batch of l(BN) - l(PN) on the same samples (one draw of the estimator; a control variate:
    the common label noise cancels).

    ``z`` (M) are the population-normalized pre-activations (any unit-variance law), ``eta`` and ``xi`` standard
    normals for the teacher field u = R z + sqrt(1 - R^2) eta and the label noise (``xi`` is read only when
    noise > 0). BN uses the batch mean and the biased batch standard deviation of z (the sample inside its own
    batch), PN uses z itself.
    """
    batch_size = z.shape[0]
    cross = math.sqrt(max(1.0 - overlap * overlap, 0.0))
    mean = 0.0
    for i in range(batch_size):
        mean += z[i]
    mean /= batch_size
    var = 0.0
    for i in range(batch_size):
        var += (z[i] - mean) ** 2
    inv_std = 1.0 / math.sqrt(var / batch_size)
    gap = 0.0
    for i in range(batch_size):
        y = activation(code, overlap * z[i] + cross * eta[i])
        if noise > 0.0:
            y += noise * xi[i]
        bn = y - activation(code, gamma * (z[i] - mean) * inv_std + beta)
        pn = y - activation(code, gamma * z[i] + beta)
        gap += 0.5 * (bn * bn - pn * pn)
    return gap / batch_size


@jit_parallel
def stream_batch_gaps(code, law, overlap, gamma, beta, noise, batch_size, n_batches, states, x_table, f_table,
                      partial):
    """Draw and evaluate n_batches batches of M samples: batch b comes from the xoshiro256++ stream b mod S of
    ``states`` (S, 4), which draws, per batch, the M inputs z (``law``: Gaussian by the ziggurat, or Laplace), then
    the M teacher normals eta, then (noise > 0 only) the M label-noise normals xi. Fills ``partial`` (S, 3) with
    each stream's [count, sum, sum of squares] of :func:`batch_gap`; the streams run on threads, so the result does
    not depend on the number of threads once the caller adds the rows in order. The states are advanced."""
    n_streams = states.shape[0]
    for s in prange(n_streams):
        z = np.empty(batch_size)
        eta = np.empty(batch_size)
        xi = np.empty(batch_size)
        s0, s1, s2, s3 = states[s, 0], states[s, 1], states[s, 2], states[s, 3]
        count = 0.0
        total = 0.0
        square = 0.0
        for _ in range(s, n_batches, n_streams):
            for i in range(batch_size):
                if law == GAUSSIAN:
                    z[i], s0, s1, s2, s3 = normal_draw(s0, s1, s2, s3, x_table, f_table)
                else:
                    z[i], s0, s1, s2, s3 = laplace_draw(s0, s1, s2, s3)
            for i in range(batch_size):
                eta[i], s0, s1, s2, s3 = normal_draw(s0, s1, s2, s3, x_table, f_table)
            if noise > 0.0:
                for i in range(batch_size):
                    xi[i], s0, s1, s2, s3 = normal_draw(s0, s1, s2, s3, x_table, f_table)
            gap = batch_gap(code, overlap, gamma, beta, noise, z, eta, xi)
            count += 1.0
            total += gap
            square += gap * gap
        partial[s, 0] = count
        partial[s, 1] = total
        partial[s, 2] = square
        states[s, 0], states[s, 1], states[s, 2], states[s, 3] = s0, s1, s2, s3


__all__ = ["GAUSSIAN", "LAPLACE", "batch_gap", "density", "expansion_averages", "stream_batch_gaps", "teacher_mean"]
