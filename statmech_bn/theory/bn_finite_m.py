"""Mean-field theory of real batch normalization at finite batch size M (issue #16).

Conventions: student and teacher of one activation g (relu, linear or erf; relu where not said), square loss
l(y, z) = (y - g(z))^2/2, labels y = g(u) + noise xi;
training uses the batch mean and the biased batch std (divisor M, no epsilon) of the field h = w.x/sqrt(N) on the
sphere |w|^2 = N; deployment uses the population statistics of fresh Gaussian inputs (mean 0, std 1), so the
deployed student is g(gamma lambda + beta) and eps_g = E[(g(u) - g(gamma lambda + beta))^2]/2 (label noise
excluded, :func:`statmech_bn.theory.problem.generalization_error`).

Equations (docs/bn_meanfield/FINDINGS.md; the M = infinity limit and the argument are in
:mod:`statmech_bn.theory.bn_meanfield`): the minimum over (w, gamma, beta) of the expected batch loss F[rho] at
P -> infinity (a batch is M independent draws from the training-field law rho) makes w a stationary point of
sum_mu l_eff(h_mu, y_mu) with the per-sample effective loss frozen,

    l_eff(h, y) = y^2/2 - y a1(h) + a2(h)/2 + B(h)      (:mod:`statmech_bn.kernels.bn_finite_m`),

so Gardner's zero-temperature ERM on the sphere with l_eff as the loss applies (Engel & Van den Broeck 2001, ch. 4):
omega = R u + sqrt(1 - R^2) eta, h* = prox_{chi l_eff(., y)}(omega), f = (h* - omega)/chi,

    q_hat = alpha E[f^2],  m_hat = alpha (E[f u] - R E[f eta]/sqrt(1 - R^2)),  chi = 1/sqrt(q_hat + m_hat^2),
    R = m_hat chi,

and (gamma, beta) minimise F[rho] at the fixed training-field law rho = law of (h*, y). At finite M l_eff is smooth
(the batch average smooths relu's kink over a width ~ 1/sqrt(M)), so rho has no point mass at the kink and the
frozen-sample minimisation over (gamma, beta) is the right condition. The map is iterated with damping to a fixed
point.

How things are averaged: E over (u, xi) by :func:`.bn_meanfield.label_rule` (Gauss-Legendre split at u = 0 and
y = 0), eta by Gauss-Legendre on [-ETA_CUT, ETA_CUT] (the proximal map may jump in eta where l_eff is not convex, so
this part converges only like 1/n_eta^2 .. 1/n_eta); rho is the weighted quadrature sample (h*, y). The batch-mate
expectations a1, a2, B (tables on a uniform h-grid, cubic splines) and F[rho] are Monte Carlo averages over
``n_batches`` batches of M quadrature indices drawn from the weights by inverse CDF of uniforms from
``numpy.random.default_rng(seed)``, drawn once (the weights do not change, so the batches are common random numbers
over the iteration); their error is the spread over seeds (FINDINGS.md: ~0.003 in eps_g at M = 4, alpha = 2).
The proximal map refines every grid local minimum by Newton steps and keeps the lowest
(:func:`statmech_bn.kernels.bn_finite_m.spline_proximal_map`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import optimize
from scipy.interpolate import CubicSpline

from ..model import ACTIVATIONS
from ..quadrature import legendre
from .bn_meanfield import label_rule

ETA_CUT = 8.0
"""Half-width of the Gauss-Legendre rule of the replica noise eta."""


def _relu_slope(x: np.ndarray) -> np.ndarray:
    return (x > 0.0).astype(float)


def _linear_slope(x: np.ndarray) -> np.ndarray:
    return np.ones_like(x)


def _erf_slope(x: np.ndarray) -> np.ndarray:
    return math.sqrt(2.0 / math.pi) * np.exp(-0.5 * x * x)


_SLOPE = {"relu": _relu_slope, "linear": _linear_slope, "erf": _erf_slope}
"""g'(x) on arrays for the activations the finite-M mean field is derived for (differentiable ones: the (gamma, beta)
fit is by gradients; relu's slope at the kink taken as 0); g itself is the activation's ``numpy``
(:data:`statmech_bn.model.ACTIVATIONS`)."""


@dataclass(frozen=True)
class FiniteBatchRule:
    """The fixed parts of the finite-M map: quadrature sample (u, eta, y, weight summing to 1), the batches
    (indices into the sample, shape (n_batches, M); column 0 is the sample of interest, the rest its batch-mates),
    the uniform h-grid of the l_eff tables, M, the batch seed and the activation's name."""

    u: np.ndarray
    eta: np.ndarray
    y: np.ndarray
    weight: np.ndarray
    batches: np.ndarray
    grid: np.ndarray
    batch_size: int
    seed: int
    activation: str = "relu"


def finite_batch_rule(batch_size: int, noise: float, seed: int, n_outer: int = 24, n_eta: int = 64,
                      n_batches: int = 20_000, n_grid: int = 161, h_max: float = 8.0,
                      activation: str = "relu") -> FiniteBatchRule:
    """The quadrature sample (``n_outer`` nodes per piece of (u, xi), ``n_eta`` in eta; labels of the teacher
    ``activation``), ``n_batches`` batches of ``batch_size`` indices drawn with ``numpy.random.default_rng(seed)``
    and the table grid (``n_grid`` points on [-h_max, h_max])."""
    u, _, y, w = label_rule(noise, n_outer, activation)
    x, we = legendre(n_eta)
    eta = ETA_CUT * x
    we = ETA_CUT * we * np.exp(-0.5 * eta * eta) / math.sqrt(2.0 * math.pi)
    weight = np.repeat(w, n_eta) * np.tile(we, u.size)
    weight /= weight.sum()
    rng = np.random.default_rng(seed)
    batches = np.minimum(np.searchsorted(np.cumsum(weight), rng.random((n_batches, int(batch_size)))),
                         weight.size - 1)
    return FiniteBatchRule(np.repeat(u, n_eta), np.tile(eta, u.size), np.repeat(y, n_eta), weight, batches,
                           np.linspace(-h_max, h_max, n_grid), int(batch_size), int(seed), activation)


def effective_loss_tables(rule: FiniteBatchRule, h: np.ndarray, gamma: float,
                          beta: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(a1, a2, B) of l_eff on ``rule.grid`` when the training fields of the sample are ``h`` (batch-mates from
    ``rule.batches[:, 1:]``)."""
    from ..kernels.bn_finite_m import batch_mate_tables

    mates = rule.batches[:, 1:]
    out = [np.empty(rule.grid.size) for _ in range(3)]
    batch_mate_tables(ACTIVATIONS[rule.activation].code, rule.grid, np.ascontiguousarray(h[mates]),
                      np.ascontiguousarray(rule.y[mates]), gamma, beta, float(rule.batch_size), *out)
    return out[0], out[1], out[2]


def effective_loss(tables, grid: np.ndarray, h, y):
    """l_eff(h, y) = y^2/2 - y a1(h) + a2(h)/2 + B(h) from the tables by cubic splines on ``grid``."""
    a1, a2, mates = (CubicSpline(grid, t)(h) for t in tables)
    return 0.5 * y * y - y * a1 + 0.5 * a2 + mates


def proximal_fields(rule: FiniteBatchRule, omega: np.ndarray, chi: float, tables) -> np.ndarray:
    """h* = argmin_h (h - omega)^2/(2 chi) + l_eff(h, y) at the sample's labels (the y^2/2 term dropped)."""
    from ..kernels.bn_finite_m import spline_proximal_map

    a1, a2, mates = tables
    ca = np.ascontiguousarray(CubicSpline(rule.grid, a1).c)
    cc = np.ascontiguousarray(CubicSpline(rule.grid, 0.5 * a2 + mates).c)
    out = np.empty_like(omega)
    spline_proximal_map(omega, rule.y, chi, rule.grid, ca, cc, out)
    return out


def fit_scalars(rule: FiniteBatchRule, h: np.ndarray, gamma: float, beta: float) -> tuple[float, float, float]:
    """(gamma, beta, F) minimising the batch loss F = E[(y - g(gamma z + beta))^2/2] over the batches at fixed
    fields ``h`` (z the batch-normalized field, every member of a batch a sample), by BFGS from (gamma, beta)."""
    hb = h[rule.batches]
    z = ((hb - hb.mean(1, keepdims=True)) / hb.std(1, keepdims=True)).ravel()
    yy = rule.y[rule.batches].ravel()
    g, slope = ACTIVATIONS[rule.activation].numpy, _SLOPE[rule.activation]

    def fun(p):
        hh = p[0] * z + p[1]
        r = yy - g(hh)
        d = -r * slope(hh)
        return 0.5 * np.mean(r * r), np.array([np.mean(d * z), np.mean(d)])

    res = optimize.minimize(fun, [gamma, beta], jac=True, method="BFGS", options={"gtol": 1e-10})
    return float(res.x[0]), float(res.x[1]), float(res.fun)


def overlap_update(rule: FiniteBatchRule, alpha: float, overlap: float, chi: float, omega: np.ndarray,
                   h: np.ndarray) -> tuple[float, float]:
    """(R, chi) from the ERM saddle point (module docstring) at the proximal fields h = h*(omega); R clipped to
    [-0.999, 0.999]."""
    w = rule.weight
    f = (h - omega) / chi
    q_hat = alpha * np.dot(w, f * f)
    m_hat = alpha * (np.dot(w, f * rule.u) - overlap * np.dot(w, f * rule.eta) / math.sqrt(1.0 - overlap**2))
    chi_new = 1.0 / math.sqrt(q_hat + m_hat * m_hat)
    return min(max(m_hat * chi_new, -0.999), 0.999), chi_new


@dataclass(frozen=True)
class FiniteBatchSolution:
    """Fixed point of the finite-M map: overlap R, chi, bn's (gamma, beta), eps_g with population statistics, the
    training (batch) loss F, mean and std of the training fields h*, the last relative change of (R, chi, gamma,
    beta) (``residual``), the iterations, whether ``residual < tol``, M, alpha and the batch seed."""

    R: float
    chi: float
    gamma: float
    beta: float
    eps_g: float
    training_loss: float
    h_mean: float
    h_std: float
    residual: float
    iterations: int
    converged: bool
    batch_size: int
    alpha: float
    seed: int


def solve_finite_batch(batch_size: int, alpha: float, noise: float = 0.5, seed: int = 1, *,
                       activation: str = "relu", n_outer: int = 24,
                       n_eta: int = 64, n_batches: int = 20_000, n_grid: int = 161, h_max: float = 8.0,
                       start=(0.6, 1.0, 0.8, 0.0), damping: float = 0.5, iterations: int = 300, tol: float = 1e-6,
                       callback: Callable | None = None) -> FiniteBatchSolution:
    """Damped fixed-point iteration of the finite-M map (module docstring; square loss, noise > 0).

    Each step: h* from the current tables, (R, chi) by :func:`overlap_update`, (gamma, beta) by :func:`fit_scalars`;
    (R, chi, gamma, beta) and the tables (recomputed at the new h*) are mixed as damping * old + (1 - damping) * new.
    The first tables use h = omega.

    Parameters
    ----------
    batch_size, alpha, noise : M, P/N and the label noise.
    seed : integer seed of the batch draws (``numpy.random.default_rng(seed)``); stored in the result.
    activation : "relu", "linear" or "erf", teacher and student.
    n_outer, n_eta, n_batches, n_grid, h_max : see :func:`finite_batch_rule` (defaults: FINDINGS.md's table, where
        the batch seeds spread by ~1e-3 in eps_g and the quadrature by less).
    start : (R, chi, gamma, beta) to start from.
    damping, iterations, tol : mixing weight of the old state, the most steps, and the stopping threshold on the
        largest change |new - old| of (R, chi / chi, gamma, beta).
    callback : called as ``callback(iteration, R, chi, gamma, beta, F, change)`` after every step.

    Returns
    -------
    FiniteBatchSolution
        ``converged`` is False when ``iterations`` steps ended above ``tol`` (FINDINGS.md: alpha = 1 at M >= 16,
        alpha = 2 at M = 64).
    """
    from .problem import Problem, generalization_error

    if activation not in _SLOPE:
        raise ValueError(f"the finite-M mean field is derived for {', '.join(_SLOPE)} (not {activation!r})")
    rule = finite_batch_rule(batch_size, noise, seed, n_outer, n_eta, n_batches, n_grid, h_max, activation)
    overlap, chi, gamma, beta = (float(v) for v in start)
    h = overlap * rule.u + math.sqrt(1.0 - overlap**2) * rule.eta
    tables = effective_loss_tables(rule, h, gamma, beta)
    change, loss, it = math.inf, math.nan, 0
    for it in range(1, iterations + 1):
        omega = overlap * rule.u + math.sqrt(1.0 - overlap**2) * rule.eta
        h = proximal_fields(rule, omega, chi, tables)
        r_new, chi_new = overlap_update(rule, alpha, overlap, chi, omega, h)
        g_new, b_new, loss = fit_scalars(rule, h, gamma, beta)
        old = np.array([overlap, chi, gamma, beta])
        new = np.array([r_new, chi_new, g_new, b_new])
        overlap, chi, gamma, beta = damping * old + (1.0 - damping) * new
        fresh = effective_loss_tables(rule, h, gamma, beta)
        tables = tuple(damping * a + (1.0 - damping) * b for a, b in zip(tables, fresh, strict=True))
        change = float(np.max(np.abs(new - old) / np.array([1.0, chi, 1.0, 1.0])))
        if callback is not None:
            callback(it, overlap, chi, gamma, beta, loss, change)
        if change < tol:
            break
    m = float(np.dot(rule.weight, h))
    s = math.sqrt(float(np.dot(rule.weight, (h - m) ** 2)))
    problem = Problem(activation, "pn", "erm", noise=noise)
    eps_g = generalization_error(problem, problem.rules(), overlap, gamma, beta)
    return FiniteBatchSolution(float(overlap), float(chi), float(gamma), float(beta), eps_g, loss, m, s, change, it,
                               change < tol, int(batch_size), float(alpha), int(seed))
