"""The disorder averages of :mod:`.saddle` in closed form for a linear teacher and a linear student.

With g(h) = h every quantity the saddle point averages is a polynomial of degree at most two in the residual

    r = y - a = (1 - gamma m) tau + noise xi - gamma sqrt(q - m^2) eta - beta,

a Gaussian with mean -beta and variance V_r = (1 - gamma m)^2 + noise^2 + gamma^2 (q - m^2), and in the fields
tau and omega = m tau + sqrt(q - m^2) eta, with E[tau r] = 1 - gamma m and E[omega r] = m (1 - gamma m)
- gamma (q - m^2). The averages are then moments of Gaussians (the ridge-regression state evolution of Engel &
Van den Broeck, *Statistical Mechanics of Learning*, ch. 4, with a gain gamma and a bias beta). The slots of
``out`` are those of :data:`.saddle.N_SUMS`; the quadrature kernels of :mod:`.saddle` stay as the reference
(tests/test_linear_channel.py).
"""

import math

from ._jit import jit


@jit
def _residual_moments(m, q, gamma, beta, noise):
    """(E[r^2], E[tau r], E[omega r]) of the residual r = y - gamma omega - beta."""
    cross_sq = max(q - m * m, 0.0)
    slope = 1.0 - gamma * m
    r2 = slope * slope + noise * noise + gamma * gamma * cross_sq + beta * beta
    return r2, slope, m * slope - gamma * cross_sq


@jit
def linear_gibbs_sums(m, q, v, gamma, beta, beta_t, noise, out):
    """:func:`.saddle.gibbs_sums` for g = g* = identity: the tilted measure of the squared loss is Gaussian,
    log Z = -log(k)/2 - beta_t r^2/(2k), g_a = beta_t r/k, g_aa = -beta_t/k with k = 1 + beta_t gamma^2 v."""
    r2, tau_r, omega_r = _residual_moments(m, q, gamma, beta, noise)
    b = gamma * gamma * v
    k = 1.0 + beta_t * b
    g_aa = -beta_t / k
    g_a2 = beta_t * beta_t * r2 / (k * k)
    out[0] = -0.5 * math.log(k) - 0.5 * beta_t * r2 / k
    out[1] = gamma * gamma * g_a2
    out[2] = gamma * beta_t * tau_r / k
    out[3] = gamma * gamma * g_aa
    out[4] = beta_t * omega_r / k + gamma * v * (g_aa + g_a2)
    out[5] = -beta_t * beta / k
    out[6] = 0.5 * (r2 / (k * k) + b / k)


@jit
def linear_erm_sums(m, q, chi, gamma, beta, noise, out):
    """:func:`.saddle.erm_sums` for g = g* = identity: the proximal map is h* = (a + c y)/(1 + c) with
    c = gamma^2 chi, so g_a = r/(1 + c), the Moreau envelope is r^2/(2(1 + c)) and l(y, h*) = r^2/(2(1 + c)^2)."""
    r2, tau_r, omega_r = _residual_moments(m, q, gamma, beta, noise)
    shrink = 1.0 / (1.0 + gamma * gamma * chi)
    out[0] = -0.5 * r2 * shrink
    out[1] = gamma * gamma * r2 * shrink * shrink
    out[2] = gamma * tau_r * shrink
    out[3] = -gamma * gamma * shrink
    out[4] = omega_r * shrink + gamma * chi * r2 * shrink * shrink
    out[5] = -beta * shrink
    out[6] = 0.5 * r2 * shrink * shrink


@jit
def linear_loss_sums(m, v, gamma, beta, noise, out):
    """:func:`.saddle.loss_sums` for g = g* = identity: e = ((y - a)^2 + b)/2 with a = gamma m tau + beta and
    b = gamma^2 v, e_a = a - y, e_b = 1/2."""
    slope = 1.0 - gamma * m
    out[0] = 0.5 * (slope * slope + noise * noise + beta * beta + gamma * gamma * v)
    out[1] = 0.0
    out[2] = -slope
    out[3] = 0.0
    out[4] = 0.5
    out[5] = beta
    out[6] = 0.0
