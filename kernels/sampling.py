"""Hamiltonian Monte Carlo of the Gibbs posterior of the block on a finite training set (analysis C).

State theta (N + 2,) = (w, gamma, beta). Potential (minus the log posterior density, up to a constant):

    normalized students (pn, wn, pn_gd):  U = E/T + |w|^2/2,   E = sum_mu l_mu + P zeta gamma^2,
    none:                                  U = E/T,           E = sum_mu l_mu + (wd/2)|w|^2,

with l_mu = (y_mu - g(h_hat_mu))^2/2. For the normalized students E depends on w only through its direction,
so the Gaussian term |w|^2/2 makes the direction uniform on the sphere a priori (SCIENCE.md: the prior of
the scale-invariant normalizers); gamma and beta have flat priors. The random numbers (momenta, step counts,
acceptance draws) are the driver's.
"""

import math

from ._jit import jit
from .block import loss_and_gradient


@jit
def potential_and_gradient(code, scale_invariant, x, y, theta, temperature, zeta, weight_decay, grad, work):
    """U(theta); fills grad (N + 2,) with dU/dtheta (the gamma slot is 0 for ``none``). work: (P,) scratch."""
    n = x.shape[1]
    gamma = theta[n] if scale_invariant else 1.0
    energy, d_gamma, d_beta = loss_and_gradient(code, scale_invariant, x, y, theta[:n], gamma, theta[n + 1], zeta,
                                                weight_decay, grad[:n], work)
    potential = energy / temperature
    for i in range(n):
        grad[i] /= temperature
    if scale_invariant:
        square = 0.0
        for i in range(n):
            square += theta[i] * theta[i]
            grad[i] += theta[i]
        potential += 0.5 * square
        grad[n] = d_gamma / temperature
    else:
        grad[n] = 0.0
    grad[n + 1] = d_beta / temperature
    return potential


@jit
def leapfrog(code, scale_invariant, x, y, theta, momentum, inverse_mass, step, n_steps, temperature, zeta,
             weight_decay, grad, work):
    """Integrate Hamilton's equations for ``n_steps`` leapfrog steps of size ``step``, in place.

    On entry ``grad`` holds dU/dtheta at ``theta``; on exit theta, momentum and grad are those of the end point.
    Kinetic energy sum_i inverse_mass_i p_i^2/2 (a zero inverse mass freezes a coordinate).
    Returns (U, kinetic energy) at the end point.
    """
    size = theta.shape[0]
    potential = math.nan
    for _ in range(n_steps):
        for i in range(size):
            momentum[i] -= 0.5 * step * grad[i]
            theta[i] += step * inverse_mass[i] * momentum[i]
        potential = potential_and_gradient(code, scale_invariant, x, y, theta, temperature, zeta, weight_decay, grad,
                                           work)
        for i in range(size):
            momentum[i] -= 0.5 * step * grad[i]
    kinetic = 0.0
    for i in range(size):
        kinetic += 0.5 * inverse_mass[i] * momentum[i] * momentum[i]
    return potential, kinetic


@jit
def sign_metropolis_sweep(columns, y, w, fields, temperature, proposals, uniforms):
    """One sweep of single-site Metropolis updates of w for the sign student (gamma = 1, beta = 0: the sign
    theory's fixed point), in place.

    Target exp(-E/T - |w|^2/2) with E = sum_mu (y_mu - sign(h_mu))^2/2, h = X w/sqrt(N): E sees only the direction
    of w, which the Gaussian term makes uniform a priori. ``columns`` is X transposed (N, P), C-contiguous, so
    that moving w_i by proposals[i] changes every field by proposals[i] X[:, i]/sqrt(N) in O(P); ``fields``
    (P,) holds h and is kept in step with w. Accept when uniforms[i] < exp(-dE/T - d(w_i^2)/2).
    Returns the number of accepted moves.
    """
    n, p = columns.shape
    scale = 1.0 / math.sqrt(n)
    accepted = 0
    for i in range(n):
        step = proposals[i]
        change = 0.0
        for mu in range(p):
            old = 1.0 if fields[mu] > 0.0 else (-1.0 if fields[mu] < 0.0 else 0.0)
            h = fields[mu] + step * columns[i, mu] * scale
            new = 1.0 if h > 0.0 else (-1.0 if h < 0.0 else 0.0)
            if new != old:
                change += 0.5 * ((y[mu] - new) ** 2 - (y[mu] - old) ** 2)
        log_ratio = -change / temperature - 0.5 * ((w[i] + step) ** 2 - w[i] ** 2)
        if log_ratio >= 0.0 or uniforms[i] < math.exp(log_ratio):
            w[i] += step
            for mu in range(p):
                fields[mu] += step * columns[i, mu] * scale
            accepted += 1
    return accepted
