"""Gaussian averages of the online-SGD drift of the block (analysis B), per sample and per batch.

Fields: lambda = w.x/|w| and u = w*.x/sqrt(N) are unit Gaussians with correlation R (isotropic inputs); the
student's pre-activation is a = scale * lambda + beta (scale = gamma for pn/wn/pn_gd, L for none) or, for bn,
a_j = gamma z_j + beta with z_j the batch-normalized lambda_j. The error signal of a sample is
d = (g(a) - g(u) - noise * xi) g'(a), xi ~ N(0, 1) the label noise.
"""

import math

import numpy as np
from numba import prange

from ._jit import jit, jit_parallel
from .activations import activation, activation_derivatives
from .panels import legendre_panels

SAMPLE_SLOTS = 4
"""sample_averages fills E[d], E[d lambda], E[d u], E[d^2] (noise included)."""
KINK_LAYER = 8.0
"""Half-width, in units of sqrt(1 - R^2)/R, of the panel around lambda = 0 that resolves the teacher's smoothed
kink near R = 1 (without it the drift is off by up to 4e-4 as R -> 1; with it by < 1e-8, measured against 200
nodes)."""
BATCH_SLOTS = 4
"""batch_averages fills E[mean_j e_j (u_j - R lambda_j)], E[mean_j e_j^2], E[mean_j d_j z_j], E[mean_j d_j]."""


@jit
def _panels(cuts, count, legendre_x, legendre_w, cut, nodes, weights):
    """Nodes and weights ((count + 1) n) for E[f(X)], X ~ N(0, 1): :func:`.panels.legendre_panels` on [-cut, cut]
    split at the sorted points cuts[:count], times the standard normal density."""
    legendre_panels(-cut, cut, cuts, count, legendre_x, legendre_w, nodes, weights)
    norm = 1.0 / math.sqrt(2.0 * math.pi)
    for k in range(nodes.shape[0]):
        weights[k] = weights[k] * norm * math.exp(-0.5 * nodes[k] * nodes[k])


@jit
def sample_averages(code, overlap, scale, beta, noise, legendre_x, legendre_w, cut, z_nodes, z_weights, v_nodes,
                    v_weights, out):
    """Per-sample averages of the drift (out: SAMPLE_SLOTS), by 2-D quadrature split at the kinks.

    The student field lambda is integrated on a rule split at the student's kink lambda = -beta/scale, at
    lambda = 0 where the teacher's kink u = 0 sits as R -> 1, and at +-KINK_LAYER sqrt(1 - R^2)/R, the width of the
    smoothed kink that the v-average leaves there; the teacher's independent part v (u = R lambda +
    sqrt(1 - R^2) v) on a rule split at u = 0. For smooth g the splits are harmless. z_nodes and z_weights are
    (5n) scratch, v_ ones (2n).
    """
    for k in range(SAMPLE_SLOTS):
        out[k] = 0.0
    rest = math.sqrt(max(1.0 - overlap * overlap, 0.0))
    kink = -beta / scale if scale != 0.0 else 0.0
    layer = KINK_LAYER * rest / max(abs(overlap), 1e-12)
    cuts = np.sort(np.array([kink, 0.0, -layer, layer]))
    _panels(cuts, 4, legendre_x, legendre_w, cut, z_nodes, z_weights)
    v_cut = np.empty(1)
    slope_square = 0.0
    for i in range(z_nodes.shape[0]):
        lam = z_nodes[i]
        a = scale * lam + beta
        g_a = activation(code, a)
        g1, _ = activation_derivatives(code, a)
        if g1 == 0.0:
            continue
        slope_square += z_weights[i] * g1 * g1
        if rest < 1e-12:
            u = overlap * lam
            d = (g_a - activation(code, u)) * g1
            out[0] += z_weights[i] * d
            out[1] += z_weights[i] * d * lam
            out[2] += z_weights[i] * d * u
            out[3] += z_weights[i] * d * d
            continue
        v_cut[0] = -overlap * lam / rest
        _panels(v_cut, 1, legendre_x, legendre_w, cut, v_nodes, v_weights)
        for j in range(v_nodes.shape[0]):
            u = overlap * lam + rest * v_nodes[j]
            d = (g_a - activation(code, u)) * g1
            weight = z_weights[i] * v_weights[j]
            out[0] += weight * d
            out[1] += weight * d * lam
            out[2] += weight * d * u
            out[3] += weight * d * d
    out[3] += noise * noise * slope_square


BATCH_BLOCKS = 16
"""Fixed blocks of batches summed in order on threads, then combined in order: the result does not depend on the
number of threads."""


@jit_parallel
def batch_averages(code, overlap, gamma, beta, noise, lam, v, xi, out, out_sem):
    """Averages over batches with batch statistics (bn), on fixed standard normals lam, v, xi of shape (S, M).

    Per batch: u_j = R lam_j + sqrt(1 - R^2) v_j, batch mean and biased std s_B of lam, z_j = (lam_j - mean)/s_B,
    a_j = gamma z_j + beta, d_j = (g(a_j) - g(u_j) - noise xi_j) g'(a_j), and the backpropagated
    e_j = (d_j - mean d - z_j mean(d z))/s_B (dF_B/dh_j = gamma e_j/(M L)). Fills out (BATCH_SLOTS) with the
    means over the S batches and out_sem with their standard errors.
    """
    s_count, m = lam.shape
    rest = math.sqrt(max(1.0 - overlap * overlap, 0.0))
    partial = np.zeros((BATCH_BLOCKS, 8))
    for block in prange(BATCH_BLOCKS):
        d = np.empty(m)
        z = np.empty(m)
        u = np.empty(m)
        for b in range(block * s_count // BATCH_BLOCKS, (block + 1) * s_count // BATCH_BLOCKS):
            mean = 0.0
            for j in range(m):
                mean += lam[b, j]
            mean /= m
            var = 0.0
            for j in range(m):
                var += (lam[b, j] - mean) ** 2
            std = math.sqrt(var / m)
            d_mean = 0.0
            dz_mean = 0.0
            for j in range(m):
                z[j] = (lam[b, j] - mean) / std
                a = gamma * z[j] + beta
                g1, _ = activation_derivatives(code, a)
                u[j] = overlap * lam[b, j] + rest * v[b, j]
                d[j] = (activation(code, a) - activation(code, u[j]) - noise * xi[b, j]) * g1
                d_mean += d[j]
                dz_mean += d[j] * z[j]
            d_mean /= m
            dz_mean /= m
            q0 = 0.0
            q1 = 0.0
            for j in range(m):
                e = (d[j] - d_mean - z[j] * dz_mean) / std
                q0 += e * (u[j] - overlap * lam[b, j]) / m
                q1 += e * e / m
            partial[block, 0] += q0
            partial[block, 1] += q1
            partial[block, 2] += dz_mean
            partial[block, 3] += d_mean
            partial[block, 4] += q0 * q0
            partial[block, 5] += q1 * q1
            partial[block, 6] += dz_mean * dz_mean
            partial[block, 7] += d_mean * d_mean
    for k in range(4):
        total = 0.0
        square = 0.0
        for block in range(BATCH_BLOCKS):
            total += partial[block, k]
            square += partial[block, 4 + k]
        mean_k = total / s_count
        out[k] = mean_k
        var_k = max(square / s_count - mean_k * mean_k, 0.0)
        out_sem[k] = math.sqrt(var_k / max(s_count - 1, 1))
