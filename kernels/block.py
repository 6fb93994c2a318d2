"""The block on a finite training set: regularized training loss and its gradient (for ERM simulations).

Energy (the one of the Gibbs measure at T -> 0, SCIENCE.md analysis C), with h = X w / sqrt(N):

    scale-invariant (pn, wn, pn_gd, bn-as-pn_gd):  E = sum_mu l(y_mu, gamma h_mu/L + beta) + P zeta gamma^2,
    none:                                            E = sum_mu l(y_mu, h_mu + beta) + (wd/2)|w|^2,

L = |w|/sqrt(N), l = (y - g)^2/2. The gradient in w of the scale-invariant energy is orthogonal to w.
The two matrix-vector products X w and X^T d go through BLAS (np.dot), the cost floor of a full-batch
gradient.
"""

import math

import numpy as np

from ._jit import jit
from .activations import activation, activation_derivatives


@jit
def loss_and_gradient(code, scale_invariant, x, y, w, gamma, beta, zeta, weight_decay, grad_w, work):
    """Fill grad_w (N,) with dE/dw and return (E, dE/dgamma, dE/dbeta); work is (P,) scratch."""
    p, n = x.shape
    sqrt_n = math.sqrt(n)
    h = np.dot(x, w)
    norm = math.sqrt(np.dot(w, w) / n)
    energy = 0.0
    d_gamma = 0.0
    d_beta = 0.0
    projection = 0.0
    for mu in range(p):
        lam = h[mu] / sqrt_n
        if scale_invariant:
            lam /= norm
            a = gamma * lam + beta
        else:
            a = lam + beta
        g = activation(code, a)
        d1, _ = activation_derivatives(code, a)
        r = g - y[mu]
        energy += 0.5 * r * r
        d = r * d1
        d_beta += d
        if scale_invariant:
            d_gamma += d * lam
            work[mu] = d * gamma / (sqrt_n * norm)
            projection += d * gamma * lam
        else:
            work[mu] = d / sqrt_n
    grad = np.dot(work, x)
    for i in range(n):
        grad_w[i] = grad[i]
    if scale_invariant:
        energy += p * zeta * gamma * gamma
        d_gamma += 2.0 * p * zeta * gamma
        scale = projection / (n * norm * norm)
        for i in range(n):
            grad_w[i] -= scale * w[i]
    else:
        energy += 0.5 * weight_decay * np.dot(w, w)
        for i in range(n):
            grad_w[i] += weight_decay * w[i]
    return energy, d_gamma, d_beta
