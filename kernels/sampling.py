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
