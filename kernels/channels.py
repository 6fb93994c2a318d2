"""Gaussian averages of the squared loss through one output channel.

Everything here concerns a single label y and a Gaussian pre-activation h ~ N(a, b) of the student
(b is a variance), with the per-sample loss l(y, h) = (y - g(h))^2 / 2 of SCIENCE.md. Three objects:

- :func:`expected_loss`: e(y, a, b) = E_h[l(y, h)] and its derivatives e_a, e_b (high-temperature limit
  and the generalization error).
- :func:`tilted`: the partition function Z(y, a, b) = E_h[exp(-beta_T l(y, h))] of finite-temperature
  Gibbs learning, through log Z, g_a = d log Z/da, g_aa = d^2 log Z/da^2 and the tilted mean loss.
  g_a = (<h> - a)/b and g_aa = (Var h - b)/b^2 for the tilted measure (Gaussian integration by parts).
- :func:`moreau`: the Moreau envelope M(y, a, c) = min_h [l(y, h) + (h - a)^2/(2c)] of the T -> 0 limit,
  its minimiser h* and dh*/da.

Linear, relu and sign are in closed form (truncated-normal moments); erf uses the Gauss-Hermite rule
(``inner_x``, ``inner_w``: probabilists' nodes, weights summing to one; :func:`tilted` takes the weights'
logarithms, ``inner_log_w``) passed in by the caller.
"""

import math

from ._jit import jit
from .activations import activation, activation_derivatives
from .codes import ERF, LINEAR, RELU, SIGN
from .special import norm_cdf, norm_pdf, truncated_above_zero, truncated_below_zero

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
SMALL_VARIANCE = 1e-8
_MAX_ERF_CURVATURE = math.sqrt(2.0 / math.pi) * math.exp(-0.5)


@jit
def loss(code, y, h):
    """l(y, h) = (y - g(h))^2 / 2."""
    r = y - activation(code, h)
    return 0.5 * r * r


@jit
def expected_loss(code, y, a, b, inner_x, inner_w):
    """(e, e_a, e_b) with e = E[l(y, h)], h ~ N(a, b); e_b = e_aa / 2 by the heat equation."""
    if b <= 0.0:
        g = activation(code, a)
        d1, d2 = activation_derivatives(code, a)
        return 0.5 * (y - g) ** 2, -(y - g) * d1, 0.5 * (d1 * d1 - (y - g) * d2)
    if code == LINEAR:
        return 0.5 * ((y - a) ** 2 + b), a - y, 0.5
    s = math.sqrt(b)
    z = a / s
    if code == RELU:
        cdf = norm_cdf(z)
        pdf = norm_pdf(z)
        m1 = a * cdf + s * pdf
        m2 = (a * a + b) * cdf + a * s * pdf
        return 0.5 * y * y - y * m1 + 0.5 * m2, m1 - y * cdf, 0.5 * cdf - 0.5 * y * pdf / s
    if code == SIGN:
        cdf = norm_cdf(z)
        pdf = norm_pdf(z)
        return 0.5 * (y * y + 1.0) - y * (2.0 * cdf - 1.0), -2.0 * y * pdf / s, y * z * pdf / b
    e = 0.0
    e_a = 0.0
    e_aa = 0.0
    for k in range(inner_x.shape[0]):
        h = a + s * inner_x[k]
        g = activation(code, h)
        d1, d2 = activation_derivatives(code, h)
        r = y - g
        e += inner_w[k] * 0.5 * r * r
        e_a -= inner_w[k] * r * d1
        e_aa += inner_w[k] * (d1 * d1 - r * d2)
    return e, e_a, 0.5 * e_aa


@jit
def _combine_two(log_w1, mean1, var1, loss1, log_w2, mean2, var2, loss2):
    """log of the total weight, mean, variance and mean loss of a two-component mixture."""
    top = max(log_w1, log_w2)
    p1 = math.exp(log_w1 - top)
    p2 = math.exp(log_w2 - top)
    total = p1 + p2
    p1 /= total
    p2 /= total
    mean = p1 * mean1 + p2 * mean2
    var = p1 * var1 + p2 * var2 + p1 * p2 * (mean1 - mean2) ** 2
    return top + math.log(total), mean, var, p1 * loss1 + p2 * loss2


@jit
def tilted(code, y, a, b, beta_t, inner_x, inner_log_w):
    """(log Z, g_a, g_aa, <l>) of Z = E_{h ~ N(a, b)} exp(-beta_t * l(y, h)), b >= 0, beta_t > 0.

    erf averages over the Gauss-Hermite rule (``inner_x``, ``inner_log_w``: the logarithms of its weights).

    Below b = SMALL_VARIANCE (1 + a^2) the moment formulas g_a = (<h> - a)/b lose all digits to
    cancellation; there the b -> 0 limit log Z = -beta_t l(y, a) is used, whose error is O(b).
    """
    if b < SMALL_VARIANCE * (1.0 + a * a):
        g = activation(code, a)
        d1, d2 = activation_derivatives(code, a)
        la = 0.5 * (y - g) ** 2
        return -beta_t * la, beta_t * (y - g) * d1, -beta_t * (d1 * d1 - (y - g) * d2), la
    s = math.sqrt(b)
    if code == LINEAR:
        k = 1.0 + beta_t * b
        log_z = -0.5 * math.log(k) - 0.5 * beta_t * (y - a) ** 2 / k
        mean = (a + beta_t * b * y) / k
        var = b / k
        return log_z, beta_t * (y - a) / k, -beta_t / k, 0.5 * ((y - mean) ** 2 + var)
    if code == RELU:
        log_mass_neg, mean_neg, var_neg = truncated_below_zero(a, s)
        log_neg = -0.5 * beta_t * y * y + log_mass_neg
        k = 1.0 + beta_t * b
        mean_pos_untrunc = (a + beta_t * b * y) / k
        std_pos = s / math.sqrt(k)
        log_mass_pos, mean_pos, var_pos = truncated_above_zero(mean_pos_untrunc, std_pos)
        log_pos = -0.5 * math.log(k) - 0.5 * beta_t * (y - a) ** 2 / k + log_mass_pos
        loss_pos = 0.5 * ((y - mean_pos) ** 2 + var_pos)
        log_z, mean, var, mean_loss = _combine_two(
            log_neg, mean_neg, var_neg, 0.5 * y * y, log_pos, mean_pos, var_pos, loss_pos
        )
    elif code == SIGN:
        log_mass_neg, mean_neg, var_neg = truncated_below_zero(a, s)
        log_mass_pos, mean_pos, var_pos = truncated_above_zero(a, s)
        loss_neg = 0.5 * (y + 1.0) ** 2
        loss_pos = 0.5 * (y - 1.0) ** 2
        log_z, mean, var, mean_loss = _combine_two(
            -beta_t * loss_neg + log_mass_neg, mean_neg, var_neg, loss_neg,
            -beta_t * loss_pos + log_mass_pos, mean_pos, var_pos, loss_pos,
        )
    else:
        # One pass, each loss evaluated once: a running log-sum-exp whose reference ``top`` is the largest
        # log w_k - beta_t l_k so far; the sums are rescaled when it grows, so every exp is of a number <= 0.
        top = -math.inf
        total = 0.0
        m1 = 0.0
        m2 = 0.0
        mean_loss = 0.0
        for k in range(inner_x.shape[0]):
            x = inner_x[k]
            lk = loss(code, y, a + s * x)
            t = inner_log_w[k] - beta_t * lk
            if t > top:
                scale = math.exp(top - t)
                total *= scale
                m1 *= scale
                m2 *= scale
                mean_loss *= scale
                top = t
            p = math.exp(t - top)
            total += p
            m1 += p * x
            m2 += p * x * x
            mean_loss += p * lk
        m1 /= total
        log_z = top + math.log(total)
        mean = a + s * m1
        var = b * max(m2 / total - m1 * m1, 0.0)
        mean_loss /= total
    return log_z, (mean - a) / b, (var - b) / (b * b), mean_loss


@jit
def _erf_prox(y, a, c):
    """Global minimiser of l(y, h) + (h - a)^2/(2c) for g = erf(h/sqrt 2).

    The minimiser lies within c (|y| + 1) sqrt(2/pi) of a. When 1/c > max|g''| (|y| + 1) the objective is
    strictly convex (max|g''| = sqrt(2/pi) e^(-1/2)) and safeguarded Newton from a finds it directly;
    otherwise a 33-point grid brackets the global minimum before Newton.
    """
    bound = c * (abs(y) + 1.0) * _SQRT_2_OVER_PI
    if 1.0 / c > _MAX_ERF_CURVATURE * (abs(y) + 1.0):
        lo = a - bound
        hi = a + bound
        h = a
    else:
        n_grid = 33
        best_h = a
        best_v = math.inf
        for i in range(n_grid):
            h = a - bound + 2.0 * bound * i / (n_grid - 1)
            v = loss(ERF, y, h) + (h - a) ** 2 / (2.0 * c)
            if v < best_v:
                best_v = v
                best_h = h
        step = 2.0 * bound / (n_grid - 1)
        lo = best_h - step
        hi = best_h + step
        h = best_h
    for _ in range(60):
        g = activation(ERF, h)
        d1, d2 = activation_derivatives(ERF, h)
        grad = -(y - g) * d1 + (h - a) / c
        curv = d1 * d1 - (y - g) * d2 + 1.0 / c
        if grad > 0.0:
            hi = h
        else:
            lo = h
        new = h - grad / curv if curv > 0.0 else 0.5 * (lo + hi)
        if not lo < new < hi:
            new = 0.5 * (lo + hi)
        if abs(new - h) <= 1e-14 * (1.0 + abs(h)):
            return new
        h = new
    return h


@jit
def moreau(code, y, a, c):
    """(M, h*, dh*/da, l(y, h*)) of the Moreau envelope M(y, a, c) = min_h l(y, h) + (h - a)^2/(2c)."""
    if code == LINEAR:
        h = (a + c * y) / (1.0 + c)
        dh = 1.0 / (1.0 + c)
    elif code == RELU:
        h = a if a < 0.0 else 0.0
        dh = 1.0 if a < 0.0 else 0.0
        value = 0.5 * y * y + (h - a) ** 2 / (2.0 * c)
        h_pos = (a + c * y) / (1.0 + c)
        if h_pos > 0.0 and 0.5 * (y - h_pos) ** 2 + (h_pos - a) ** 2 / (2.0 * c) < value:
            h = h_pos
            dh = 1.0 / (1.0 + c)
    elif code == ERF:
        h = _erf_prox(y, a, c)
        g = activation(ERF, h)
        d1, d2 = activation_derivatives(ERF, h)
        dh = (1.0 / c) / (d1 * d1 - (y - g) * d2 + 1.0 / c)
    else:
        return math.nan, math.nan, math.nan, math.nan
    lh = loss(code, y, h)
    return lh + (h - a) ** 2 / (2.0 * c), h, dh, lh


@jit
def moreau_kinks(code, y, c, kinks):
    """Points a where the proximal map h*(a) of :func:`moreau` is not smooth; returns how many (<= 3).

    relu: a = 0 (h* = a meets the clamp h* = 0), a = -c y (the positive branch (a + c y)/(1 + c) meets
    zero), and for y > 0 the jump a = y (1 - sqrt(1 + c)) where the negative and positive branches have
    equal value. linear: none. erf: unknown in closed form (none reported).
    """
    if code != RELU:
        return 0
    kinks[0] = 0.0
    kinks[1] = -c * y
    if y > 0.0:
        kinks[2] = y * (1.0 - math.sqrt(1.0 + c))
        return 3
    return 2
