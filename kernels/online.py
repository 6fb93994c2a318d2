"""Online SGD of the block on a teacher (analysis B of SCIENCE.md): consecutive steps on fresh, driver-drawn inputs.

Step s uses the batch of rows s M .. (s + 1) M - 1 of x, each row seen once. Labels are those of the teacher,
y_j = g(u_j) + noise_j with u_j = teacher.x_j/sqrt(N) and g the student's activation; ``noise`` holds the label
noise itself (the driver draws standard normals and multiplies them by the noise standard deviation). Then, with
the conventions of :class:`statmech_bn.dynamics.problem.DynamicsProblem`,

    w     <- w - lr (sum_j c_j x_j + c_w w)                 (= w - lr dF_B/dw, coefficients of batch_coefficients)
    gamma <- gamma - (lr/N) dF_B/dgamma                     (not for PLAIN, whose gamma is unused)
    beta  <- beta - (lr/N) dF_B/dbeta
    w     <- w (1 - lr weight_decay/N)

where F_B = (1/M) sum_j [(g(a_j) - y_j)^2/2 + zeta gamma^2] is the batch objective of
:func:`statmech_bn.kernels.sgd.batch_coefficients` (kinds BATCH, POPULATION, PLAIN as there), evaluated with its
own weight decay set to 0: that one is per training set (wd/(2P)|w|^2 per sample), whereas online SGD shrinks w
by the constant factor above after every step, for every kind. All gradients of a step are taken at the state
before the step. Random numbers are drawn by the driver; the kernel only reads them.
"""

import math

import numpy as np

from ._jit import jit
from .activations import activation
from .sgd import PLAIN, batch_coefficients


@jit
def online_steps(code, kind, x, noise, teacher, n_steps, batch_size, lr, zeta, weight_decay, w, scalars, labels,
                 fields, deltas):
    """Run ``n_steps`` steps of online mini-batch SGD in place.

    Parameters
    ----------
    code : int
        Activation code of student and teacher (:mod:`statmech_bn.kernels.activations`).
    kind : int
        ``BATCH`` (bn, needs M >= 2), ``POPULATION`` (pn, wn, pn_gd) or ``PLAIN`` (none) of
        :mod:`statmech_bn.kernels.sgd`.
    x : (K, N) float64, C-contiguous, K >= n_steps M
        Fresh inputs; step s uses rows s M .. (s + 1) M - 1. Rows beyond n_steps M are ignored.
    noise : (K,) float64
        Label noise of the rows, already multiplied by the noise standard deviation.
    teacher : (N,) float64
        w*, with |w*|^2 = N.
    n_steps, batch_size : int
        Number of steps and M.
    lr : float
        eta, the learning rate of w; gamma and beta step with eta/N (time t = steps/N).
    zeta : float
        Gamma decay per sample (pn_gd; the driver passes 0 for every other normalizer). Ignored by PLAIN.
    weight_decay : float
        lambda: w is multiplied by (1 - lr lambda/N) after every step (any kind).
    w : (N,) float64
        Student weights, updated in place.
    scalars : (2,) float64
        [gamma, beta], updated in place (gamma untouched for PLAIN).
    labels : (K,) float64
        Output: the labels y of rows 0 .. n_steps M - 1.
    fields, deltas : (M,) float64
        Scratch of :func:`batch_coefficients`.

    Returns
    -------
    float
        Mean over the steps of the batch objective F_B, each before its step (NaN if n_steps = 0). The run stops
        at the first step whose F_B is not finite (a diverged run) and returns NaN; w and scalars then hold the
        state before that step (labels are filled up to its batch).
    """
    n = x.shape[1]
    inv_sqrt_n = 1.0 / math.sqrt(n)
    shrink_decay = 1.0 - lr * weight_decay / n
    lr_scalar = lr / n
    rows = np.empty(batch_size, dtype=np.int64)
    total = 0.0
    for s in range(n_steps):
        start = s * batch_size
        for j in range(batch_size):
            r = start + j
            rows[j] = r
            labels[r] = activation(code, np.dot(x[r], teacher) * inv_sqrt_n) + noise[r]
        objective, c_w, d_gamma, d_beta = batch_coefficients(code, kind, x, labels, rows, w, scalars[0], scalars[1],
                                                             zeta, 0.0, fields, deltas)
        if not math.isfinite(objective):
            return math.nan
        total += objective
        if c_w != 0.0:
            shrink = 1.0 - lr * c_w
            for i in range(n):
                w[i] *= shrink
        for j in range(batch_size):
            row = x[start + j]
            c = lr * deltas[j]
            for i in range(n):
                w[i] -= c * row[i]
        if kind != PLAIN:
            scalars[0] -= lr_scalar * d_gamma
        scalars[1] -= lr_scalar * d_beta
        if weight_decay != 0.0:
            for i in range(n):
                w[i] *= shrink_decay
    if n_steps == 0:
        return math.nan
    return total / n_steps
