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
from .sgd import PLAIN, apply_step, batch_coefficients, field_coefficients


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
        apply_step(x, rows, deltas, c_w, lr, w)
        if kind != PLAIN:
            scalars[0] -= lr_scalar * d_gamma
        scalars[1] -= lr_scalar * d_beta
        if weight_decay != 0.0:
            for i in range(n):
                w[i] *= shrink_decay
    if n_steps == 0:
        return math.nan
    return total / n_steps


@jit
def reduced_steps(code, kind, state, n, teacher_fields, other_fields, noise, chi, below, lr, zeta, weight_decay,
                  fields, labels, rows, deltas, lower):
    """The steps of :func:`online_steps` simulated exactly in distribution on (m, Q, gamma, beta) alone.

    For isotropic Gaussian inputs write each x_j in an orthonormal basis (e1 = w*/|w*|, e2 = the unit part of w
    orthogonal to w*, and N - 2 further directions): its first two coordinates u_j = x_j.e1 (= the teacher field)
    and v_j = x_j.e2 are independent standard normals, and the Gram matrix of its remaining parts is
    Wishart(N - 2, I_M) = A A^T with A lower triangular (Bartlett: A_jj = sqrt(chi^2 with N - 2 - j degrees of
    freedom), A_jk ~ N(0, 1) below the diagonal). The student field is h_j = m u_j + sqrt(Q - m^2) v_j, and with
    dF_B/dw = sum_j c_j x_j + c_w w (:func:`statmech_bn.kernels.sgd.field_coefficients`) the update
    w' = (w - lr dF_B/dw)(1 - lr wd/N) changes m = w.w*/N and Q = |w|^2/N through x_j.w* = sqrt(N) u_j,
    x_j.w = sqrt(N) h_j and x_j.x_k = u_j u_k + v_j v_k + (A A^T)_jk only: the cost per step is O(M^2),
    independent of N.

    Parameters
    ----------
    state : (4,) float64
        [m, Q, gamma, beta], updated in place.
    n : int
        N.
    teacher_fields, other_fields, noise : (S, M) float64
        u_j, v_j and the label noise (already times the noise std) of each step's batch, drawn by the driver.
    chi : (S, M) float64
        sqrt of chi-square draws with N - 2 - j degrees of freedom (column j).
    below : (S, M, M) float64
        Standard normals; the strictly lower triangle is used.
    fields, labels, deltas : (M,) float64; rows : (M,) int64 = arange(M); lower : (M, M) float64
        Scratch.

    Returns
    -------
    float
        Mean batch objective over the steps (NaN when a step diverged; the state is then that of the step before).
    """
    steps, m = teacher_fields.shape
    sqrt_n = math.sqrt(n)
    total = 0.0
    for s in range(steps):
        overlap_m, square, gamma, beta = state[0], state[1], state[2], state[3]
        rest = math.sqrt(max(square - overlap_m * overlap_m, 0.0))
        for j in range(m):
            u = teacher_fields[s, j]
            fields[j] = overlap_m * u + rest * other_fields[s, j]
            labels[j] = activation(code, u) + noise[s, j]
        objective, c_w, d_gamma, d_beta = field_coefficients(code, kind, fields, labels, rows, square, n, 1, gamma,
                                                             beta, zeta, 0.0, deltas)
        if not math.isfinite(objective):
            return math.nan
        total += objective
        for j in range(m):
            lower[j, j] = chi[s, j]
            for k in range(j):
                lower[j, k] = below[s, j, k]
        along_teacher = 0.0
        along_student = 0.0
        for j in range(m):
            along_teacher += deltas[j] * teacher_fields[s, j]
            along_student += deltas[j] * (overlap_m * teacher_fields[s, j] + rest * other_fields[s, j])
        gram = 0.0  # sum_jk c_j c_k x_j.x_k
        for j in range(m):
            for k in range(m):
                dot = teacher_fields[s, j] * teacher_fields[s, k] + other_fields[s, j] * other_fields[s, k]
                for i in range(min(j, k) + 1):
                    dot += lower[j, i] * lower[k, i]
                gram += deltas[j] * deltas[k] * dot
        step_teacher = -lr * (along_teacher * sqrt_n + c_w * n * overlap_m)  # dw.w*
        step_student = -lr * (along_student * sqrt_n + c_w * n * square)  # dw.w
        step_square = lr * lr * (gram + 2.0 * c_w * along_student * sqrt_n + c_w * c_w * n * square)  # |dw|^2
        shrink = 1.0 - lr * weight_decay / n
        state[0] = (overlap_m + step_teacher / n) * shrink
        state[1] = (square + (2.0 * step_student + step_square) / n) * shrink * shrink
        if kind != PLAIN:
            state[2] = gamma - lr / n * d_gamma
        state[3] = beta - lr / n * d_beta
    return total / steps
