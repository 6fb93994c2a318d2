"""A whole ridge-regression curve in one call: ERM of a linear student on a linear teacher without normalizer.

The problem is convex (a quadratic loss plus weight decay lambda |w|^2/2), so its saddle point is unique and one
continuation finds it; the disorder averages are the closed forms of :mod:`.linear_channel`, and the fixed point
itself is closed form where it exists (:func:`ridge_exact_state`). What the generic curve solver
(:func:`statmech_bn.theory.solver.forward_branch` with :class:`statmech_bn.theory.erm.FlatERM`) spends per load in
Python (the map, its Newton step on beta, the observables: ~70 us) is done here for every load of a branch at once.

Conventions (those of :class:`~statmech_bn.theory.erm.FlatERM`): the state is x = [m, Q, chi, beta] (m = w.w*/N,
Q = |w|^2/N, chi the ERM susceptibility, beta the bias), the map F(x) is FlatERM's ``update`` with the linear
channel's sums (gain gamma = 1, no per-sample penalty: lambda enters through the precision lambda - alpha E[f_ww]),
and F's beta component is one Newton step on the beta stationarity alpha E[d/dbeta] = -alpha beta/(1 + chi), linear
in beta, so its exact derivative -alpha/(1 + chi) replaces the generic solver's forward difference (the step is capped
at ``newton_cap`` (1 + |beta|) like :func:`~statmech_bn.theory.solver.newton_ascent_step`).

Per load, in the order given: the closed-form state, accepted once one evaluation of F confirms it (the undamped
residual max|F(x) - x| within the tolerance; iterations 1, the value F(x)), as the generic solver's
``_confirm_exact`` does; otherwise the damped iteration x <- d x + (1 - d) F(x) from the last converged state
(its overlap nudged to at least ``nudge``) with the generic solver's stop rule
(:func:`~statmech_bn.theory.solver.damped_fixed_point`: undamped residual <= tolerance, non-finite F, a stall of
the best residual over ``stall_window`` iterations, or ``max_iterations``). The fallback runs only where there is
no closed form: lambda = 0 with alpha <= 1, where the iterates run away (no minimiser of finite norm) and the
point is reported not converged, as by the generic solver.

Excluded, and why: any other activation (no closed-form averages: the quadrature kernels of :mod:`.saddle`), any
normalizer (a gain gamma and a bias solved by Newton steps on a non-convex landscape with possibly two branches), and
the Gibbs and high-temperature methods (their own maps and observables, left to the generic solver; Gibbs' chi-
equation is the same quadratic with chi = beta_T v, not implemented here).
"""

import math

import numpy as np

from ._jit import jit
from .linear_channel import linear_erm_sums, linear_loss_sums
from .saddle import N_SUMS

RIDGE_STATE_SIZE = 4
"""[m, Q, chi, beta]."""
RIDGE_OBSERVABLES = ("eps_gen", "eps_train", "R", "q", "L", "gamma", "beta", "zeta_in_force", "penalty_in_force",
                     "chi", "free_energy")
"""Columns of :func:`ridge_curve`'s ``observables``: the keys of
:meth:`statmech_bn.theory.base.SaddlePointMethod.observables`, with their definitions (q = 1 in the T -> 0 limit,
gamma NaN (no gain), zeta and the penalty 0 (``none`` has no per-sample penalty))."""


@jit
def ridge_exact_state(alpha, ridge, noise, out):
    """The ridge saddle point at alpha into ``out`` = [m, Q, chi, beta]; False (``out`` untouched) where there is
    none. With the linear channel's sums V_hat = m_hat = alpha/(1 + chi), so

        chi = 1/(lambda + alpha/(1 + chi))  <=>  lambda chi^2 + (lambda + alpha - 1) chi - 1 = 0,
        m = alpha chi/(1 + chi),  Q = (m^2 + k (1 - 2m + Delta))/(1 - k),  k = alpha chi^2/(1 + chi)^2,  beta = 0

    (Delta = noise^2; the state evolution of Engel & Van den Broeck 2001, ch. 4, equivalent to the Marchenko-Pastur
    form of Hastie et al. 2019). None for lambda = 0 with alpha <= 1 (no unique minimiser), or k >= 1."""
    b = ridge + alpha - 1.0
    if ridge > 0.0:
        root = math.sqrt(b * b + 4.0 * ridge)
        chi = 2.0 / (b + root) if b > 0.0 else (root - b) / (2.0 * ridge)  # the form without cancellation
    elif b > 0.0:
        chi = 1.0 / b
    else:
        return False
    m = alpha * chi / (1.0 + chi)
    k = alpha * chi * chi / ((1.0 + chi) * (1.0 + chi))
    if not k < 1.0:
        return False
    out[0] = m
    out[1] = (m * m + k * (1.0 - 2.0 * m + noise * noise)) / (1.0 - k)
    out[2] = chi
    out[3] = 0.0
    return True


@jit
def ridge_map(x, alpha, ridge, noise, newton_cap, sums, out):
    """F(x) of FlatERM's ``update`` (module docstring) into ``out``; all NaN where the precision is not positive.
    ``sums``: scratch of length :data:`.saddle.N_SUMS`."""
    m, big_q, chi, beta = x[0], x[1], x[2], x[3]
    linear_erm_sums(m, big_q, chi, 1.0, beta, noise, sums)
    q_hat = alpha * sums[1]
    m_hat = alpha * (sums[2] - m * sums[3])
    precision = ridge - alpha * sums[3]
    if not precision > 0.0:
        out[:] = math.nan
        return
    new_chi = 1.0 / precision
    out[0] = m_hat * new_chi
    out[1] = (m_hat * m_hat + q_hat) * new_chi * new_chi
    out[2] = new_chi
    gradient = alpha * sums[5]
    slope = alpha * sums[3]  # d(alpha E[d/dbeta])/dbeta = -alpha/(1 + chi) = alpha E[f_ww]
    move = -gradient / slope if slope != 0.0 and math.isfinite(slope) else 0.1 * gradient
    if not math.isfinite(move):
        move = 0.1 * gradient
    cap = newton_cap * (1.0 + abs(beta))
    out[3] = beta + min(max(move, -cap), cap)


@jit
def _residual(x, fx):
    """max|F(x) - x|, NaN when F(x) is not finite."""
    residual = 0.0
    for i in range(x.size):
        if not math.isfinite(fx[i]):
            return math.nan
        residual = max(residual, abs(fx[i] - x[i]))
    return residual


@jit
def ridge_damped(x, alpha, ridge, noise, newton_cap, damping, tolerance, max_iterations, stall_window, sums, fx,
                 out):
    """The damped iteration from ``x`` (overwritten) with the stop rule of the module docstring: the accepted value
    (F(x) when converged, else the last iterate) into ``out``; returns (residual, iterations, converged)."""
    residual = math.inf
    best = math.inf
    best_at_checkpoint = math.inf
    for iteration in range(1, max_iterations + 1):
        ridge_map(x, alpha, ridge, noise, newton_cap, sums, fx)
        residual = _residual(x, fx)
        if math.isnan(residual):
            out[:] = x
            return math.nan, iteration, False
        if residual <= tolerance:
            out[:] = fx
            return residual, iteration, True
        best = min(best, residual)
        if iteration % stall_window == 0:
            if best > 0.5 * best_at_checkpoint:
                out[:] = x
                return residual, iteration, False
            best_at_checkpoint = best
        for i in range(x.size):
            x[i] = damping * x[i] + (1.0 - damping) * fx[i]
    out[:] = x
    return residual, max_iterations, False


@jit
def ridge_observables(x, alpha, ridge, noise, sums, loss, out):
    """The observables (:data:`RIDGE_OBSERVABLES`) at state x: eps_g = E[(u - L lambda - beta)^2]/2 (label noise
    excluded) by :func:`.linear_channel.linear_loss_sums` at the overlap R = m/sqrt(Q) (clipped to [-1, 1]),
    eps_train the mean training loss (label noise included) and the free energy f = -[(Q - m^2)/(2 chi)
    + alpha E[-M] - lambda Q/2], the minimal regularized training loss per dimension, from the sums at x."""
    m, big_q, chi, beta = x[0], x[1], x[2], x[3]
    linear_erm_sums(m, big_q, chi, 1.0, beta, noise, sums)
    norm = math.sqrt(big_q)
    overlap = m / norm
    clipped = min(max(overlap, -1.0), 1.0)
    linear_loss_sums(clipped, 1.0 - clipped * clipped, norm, beta, 0.0, loss)
    out[0] = loss[0]
    out[1] = sums[6]
    out[2] = overlap
    out[3] = 1.0
    out[4] = norm
    out[5] = math.nan
    out[6] = beta
    out[7] = 0.0
    out[8] = 0.0
    out[9] = chi
    out[10] = -((big_q - m * m) / (2.0 * chi) + alpha * sums[0] - 0.5 * ridge * big_q)


@jit
def ridge_curve(alphas, ridge, noise, start, closed_form, newton_cap, damping, tolerance, max_iterations,
                stall_window, nudge, states, residuals, iterations, converged, observables):
    """Every load of one continuation branch, in the order of ``alphas`` (module docstring): per load k the
    accepted state ``states[k]`` (length :data:`RIDGE_STATE_SIZE`), its undamped residual, the evaluations of F
    used, the converged flag and the observables (``observables[k]``, :data:`RIDGE_OBSERVABLES`). ``start``: the
    state the first iteration would start from (the warm start); ``closed_form`` False skips the closed form (the
    iteration alone, for tests)."""
    last_good = start.copy()
    x = np.empty(RIDGE_STATE_SIZE)
    fx = np.empty(RIDGE_STATE_SIZE)
    scratch = np.empty(RIDGE_STATE_SIZE)
    sums = np.empty(N_SUMS)
    loss = np.empty(N_SUMS)
    for k in range(alphas.size):
        alpha = alphas[k]
        done = False
        if closed_form and ridge_exact_state(alpha, ridge, noise, x):
            ridge_map(x, alpha, ridge, noise, newton_cap, sums, fx)
            residual = _residual(x, fx)
            if residual <= tolerance:
                states[k, :] = fx
                residuals[k] = residual
                iterations[k] = 1
                converged[k] = True
                done = True
        if not done:
            x[:] = last_good
            x[0] = max(x[0], nudge)
            residuals[k], iterations[k], converged[k] = ridge_damped(
                x, alpha, ridge, noise, newton_cap, damping, tolerance, max_iterations, stall_window, sums, fx,
                scratch)
            states[k, :] = scratch
        ridge_observables(states[k], alpha, ridge, noise, sums, loss, observables[k])
        if converged[k]:
            last_good[:] = states[k]
