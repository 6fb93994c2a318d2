"""Quadrature rules for the Gaussian averages of the theory.

Every rule is a pair (nodes, weights) whose weights include the standard normal density, so that
sum_k w_k f(x_k) approximates E[f(X)], X ~ N(0, 1):

- :func:`gauss_hermite`: the probabilists' Gauss-Hermite rule, exact for polynomials of degree < 2n.
- :func:`split_gauss_legendre`: graded Gauss-Legendre on [-cut, 0] and [0, cut] times the density, for
  the teacher field whose label g*(tau) has a kink at tau = 0 (relu, sign); exponentially convergent on
  each smooth half, truncation error Phi(-cut) (< 1e-19 at the default cut of 9).
- :func:`normal_tail_rules`: Gauss rules of the density restricted to half-lines [g, inf) on a grid of g, the
  smooth part of the feature rules that :func:`statmech_bn.kernels.panels.feature_rule` builds per evaluation for
  integrands with narrow features (the kinked students relu and sign), with :data:`FEATURE_NODES` Legendre nodes on
  every graded piece.

Accuracy of the full averages at the default node counts is measured against adaptive SciPy
quadrature in tests/test_quadrature.py and stated in the README.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

TAIL_CUT = 9.0
"""Where every Gaussian field is truncated: tail mass 2 Phi(-9) ~ 2e-19 (the teacher and replica fields of the theory,
the fields of the online drift)."""
DRIFT_NODES = 40
"""Gauss-Legendre nodes per panel of the online drift's averages (:class:`statmech_bn.dynamics.ode.Drift`)."""
EXPANSION_NODES = 80
"""Gauss-Legendre nodes per piece of the BN-expansion averages (:mod:`statmech_bn.theory.decomposition`)."""
MAX_HERMITE_NODES = 360
"""Most nodes of a Gauss-Hermite rule: NumPy's ``hermegauss`` overflows above 370 (its smallest weights, ~1e-300,
reach the end of the double range). A config key of a Gauss-Hermite rule is refused above this."""
MIN_PIECE_NODES = 8
"""Fewest Gauss-Legendre nodes per piece of ERM's piecewise replica integrals (the rule has replica_nodes/4)."""
FEATURE_NODES = 10
"""Gauss-Legendre nodes per graded piece of a feature rule (:func:`statmech_bn.kernels.panels.feature_rule`)."""
NORMAL_TAIL_NODES = 16
"""Nodes of each Gauss rule of the normal density on a half-line (:func:`normal_tail_rules`)."""
NORMAL_TAIL_ORDERS = (NORMAL_TAIL_NODES, 10, 8, 6)
"""Orders of the tail rules in :attr:`Rules.tail_x` (the kernels' :data:`statmech_bn.kernels.panels.TAIL_ORDERS`):
the feature rules of the kinked students' label averages take a lower one where every feature is broad."""
NORMAL_TAIL_STEP = 0.5
"""Spacing of the tabulated half-line starts g = -TAIL_CUT, ..., TAIL_CUT; a rule for any other start is the nearest
one shifted by at most a quarter (and reweighted)."""


@lru_cache(maxsize=64)
def legendre(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights on [-1, 1] (read-only, shared)."""
    x, w = np.polynomial.legendre.leggauss(n)
    x.flags.writeable = False
    w.flags.writeable = False
    return x, w


BATCH_SPHERE_NODES = 12
"""Gauss-Jacobi nodes of each sphere coordinate (t_1, t_2) of bn's exact drift averages
(:mod:`statmech_bn.kernels.bn_exact`, :func:`batch_rules`)."""
BATCH_SCALE_NODES = 6
"""Gauss nodes of the batch standard deviation s in bn's exact drift averages (:func:`batch_rules`)."""


def _scale_rule(batch_size: int, power: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss rule (nodes, weights) of E[s^-power f(s)] for M s^2 ~ chi^2 with M - 1 degrees of freedom: the weights
    sum to E[s^-power] and the rule is exact for polynomials in s of degree < 2n (the discretized Stieltjes procedure,
    Gautschi 2004 section 2.2.3, on 100 panels of 40 Gauss-Legendre nodes between the chi law's 1e-18 quantiles)."""
    from scipy import special

    dof = batch_size - 1
    # the chi^2 quantiles 1e-18 and 1 - 1e-18 by the incomplete gamma function (scipy.stats takes a second to import)
    low = 0.9 * np.sqrt(2.0 * special.gammaincinv(dof / 2.0, 1e-18) / batch_size)
    high = 1.1 * np.sqrt(2.0 * special.gammainccinv(dof / 2.0, 1e-18) / batch_size)
    x40, w40 = legendre(40)  # 100 panels of 40 Gauss-Legendre nodes
    edges = np.linspace(low, high, 101)
    half = (edges[1:] - edges[:-1])[:, None] / 2.0
    s = ((edges[:-1, None] + edges[1:, None]) / 2.0 + half * x40).ravel()
    w = (half * w40).ravel() * 2.0 / (high - low)
    log_density = ((dof / 2.0 - 1.0) * np.log(batch_size * s * s) - batch_size * s * s / 2.0
                   - (dof / 2.0) * np.log(2.0) - special.gammaln(dof / 2.0) + np.log(2.0 * batch_size * s))
    weight = w * (high - low) / 2.0 * np.exp(log_density) * s ** (-float(power))
    mass = float(np.sum(weight))
    diagonal, offdiagonal = np.zeros(n), np.zeros(max(n - 1, 0))
    previous, current = np.zeros_like(s), np.full_like(s, 1.0 / np.sqrt(mass))
    for j in range(n):
        diagonal[j] = np.sum(weight * s * current * current)
        following = (s - diagonal[j]) * current - (offdiagonal[j - 1] if j > 0 else 0.0) * previous
        if j + 1 < n:
            offdiagonal[j] = np.sqrt(np.sum(weight * following * following))
            previous, current = current, following / offdiagonal[j]
    nodes, vectors = np.linalg.eigh(np.diag(diagonal) + np.diag(offdiagonal, 1) + np.diag(offdiagonal, -1))
    return nodes, mass * vectors[0] ** 2


@lru_cache(maxsize=16)
def batch_rules(batch_size: int, sphere_nodes: int = BATCH_SPHERE_NODES,
                scale_nodes: int = BATCH_SCALE_NODES) -> tuple:
    """The rules of :func:`statmech_bn.kernels.bn_exact.bn_exact_averages` after its ``batch_size``: (alpha1, mass1,
    alpha2, mass2, Gauss-Legendre nodes and weights on [0, 1], s nodes (3, n), s weights (3, n)), with
    alpha1 = (M - 4)/2, alpha2 = (M - 5)/2 and mass = int_-1^1 (1 - t^2)^alpha dt = sqrt(pi) Gamma(alpha + 1)/
    Gamma(alpha + 3/2); arrays read-only and shared. M >= 4."""
    from scipy import special

    if batch_size < 4:
        raise ValueError(f"bn's exact drift needs a batch size >= 4, not {batch_size}")
    alpha1, alpha2 = (batch_size - 4) / 2.0, (batch_size - 5) / 2.0
    mass1, mass2 = (float(np.sqrt(np.pi) * np.exp(special.gammaln(a + 1.0) - special.gammaln(a + 1.5)))
                    for a in (alpha1, alpha2))
    x, w = legendre(sphere_nodes)
    scale = [_scale_rule(batch_size, p, scale_nodes) for p in (0, 1, 2)]
    arrays = ((x + 1.0) / 2.0, w / 2.0, np.array([s for s, _ in scale]), np.array([v for _, v in scale]))
    for array in arrays:
        array.flags.writeable = False
    return (alpha1, mass1, alpha2, mass2, *arrays)


@lru_cache(maxsize=64)
def gauss_hermite(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Probabilists' Gauss-Hermite nodes and weights normalised to sum to one."""
    if not 1 <= n <= MAX_HERMITE_NODES:
        raise ValueError(f"a Gauss-Hermite rule has 1 to {MAX_HERMITE_NODES} nodes (got {n})")
    x, w = np.polynomial.hermite_e.hermegauss(n)
    return x, w / w.sum()


@lru_cache(maxsize=64)
def split_gauss_legendre(n_half: int, cut: float = TAIL_CUT) -> tuple[np.ndarray, np.ndarray]:
    """2*n_half nodes for E[f(X)], X ~ N(0, 1), exact up to Phi(-cut) for f smooth on each half-line.

    On each half-line the nodes are Gauss-Legendre in s in [0, 1] with |x| = cut * s^2, which puts
    nodes densely near the kink at 0 where, at large load alpha, the integrands vary on a scale ~ 1/alpha.
    """
    s, w = np.polynomial.legendre.leggauss(n_half)
    s = 0.5 * (s + 1.0)
    half_x = cut * s**2
    half_w = 0.5 * w * 2.0 * cut * s * np.exp(-0.5 * half_x**2) / np.sqrt(2.0 * np.pi)
    return np.concatenate([-half_x[::-1], half_x]), np.concatenate([half_w[::-1], half_w])


@lru_cache(maxsize=8)
def normal_tail_rules(n: int = NORMAL_TAIL_NODES, step: float = NORMAL_TAIL_STEP,
                      cut: float = TAIL_CUT) -> tuple[np.ndarray, np.ndarray]:
    """Row i: the n-point Gauss rule of the standard normal density on [g_i, inf), g_i = -cut + i step (weights
    include the density and sum to Phi(-g_i)); the row of g = -cut is the full Gauss-Hermite rule up to Phi(-cut).

    Built by the discretized Stieltjes procedure (Gautschi 2004, sec. 2.2): the density on [g, max(g, 0) + 14] is
    discretized by 20-point Gauss-Legendre on pieces of 1/4, the three-term recurrence of its orthonormal polynomials
    run on that discrete measure, and the Jacobi matrix diagonalized (Golub-Welsch). Moments up to degree 2n - 1
    agree with adaptive quadrature to ~1e-15 relative.
    """
    starts = -cut + step * np.arange(int(round(2 * cut / step)) + 1)
    lx, lw = np.polynomial.legendre.leggauss(20)
    nodes = np.empty((starts.size, n))
    weights = np.empty((starts.size, n))
    for row, g in enumerate(starts):
        edges = np.linspace(g, max(g, 0.0) + 14.0, int(round(4 * (max(g, 0.0) + 14.0 - g))) + 1)
        lo, hi = edges[:-1, None], edges[1:, None]
        x = (0.5 * (lo + hi) + 0.5 * (hi - lo) * lx).ravel()
        w = (0.5 * (hi - lo) * lw).ravel() * np.exp(-0.5 * x * x) / np.sqrt(2.0 * np.pi)
        alpha = np.empty(n)
        off = np.empty(n)
        mass = w.sum()
        p_prev, p = np.zeros_like(x), np.full_like(x, 1.0 / np.sqrt(mass))
        for k in range(n):
            alpha[k] = np.sum(w * x * p * p)
            r = (x - alpha[k]) * p - (off[k - 1] * p_prev if k else 0.0)
            off[k] = np.sqrt(np.sum(w * r * r))
            p_prev, p = p, r / off[k]
        nodes[row], vectors = np.linalg.eigh(np.diag(alpha) + np.diag(off[:-1], 1) + np.diag(off[:-1], -1))
        weights[row] = mass * vectors[0] ** 2
    nodes.flags.writeable = False
    weights.flags.writeable = False
    return nodes, weights


@lru_cache(maxsize=1)
def packed_normal_tail_rules() -> tuple[np.ndarray, np.ndarray]:
    """:func:`normal_tail_rules` of every order of NORMAL_TAIL_ORDERS side by side (columns 0-15 the 16-node rules,
    then 10, 8 and 6 nodes), as :data:`statmech_bn.kernels.panels.TAIL_ORDERS` reads them."""
    pairs = [normal_tail_rules(n) for n in NORMAL_TAIL_ORDERS]
    nodes = np.concatenate([x for x, _ in pairs], axis=1)
    weights = np.concatenate([w for _, w in pairs], axis=1)
    nodes.flags.writeable = False
    weights.flags.writeable = False
    return nodes, weights


@dataclass(frozen=True)
class Rules:
    """All rules of one saddle-point problem (arrays are shared, never written)."""

    tau_x: np.ndarray
    tau_w: np.ndarray
    eta_x: np.ndarray
    eta_w: np.ndarray
    xi_x: np.ndarray
    xi_w: np.ndarray
    piece_x: np.ndarray
    piece_w: np.ndarray
    feature_x: np.ndarray
    """Gauss-Legendre nodes and weights on [-1, 1] for every graded piece of a feature rule."""
    feature_w: np.ndarray
    tail_x: np.ndarray
    """:func:`packed_normal_tail_rules`, the smooth part of a feature rule."""
    tail_w: np.ndarray


def build_rules(teacher_nodes: int, replica_nodes: int, noise_nodes: int, noise: float) -> Rules:
    """Rules for the teacher field tau, replica field eta and label noise xi (erf's inner average has its own rules,
    fixed in :mod:`statmech_bn.kernels.channels`).

    ``piece_x``/``piece_w``: Gauss-Legendre on [-1, 1] with replica_nodes/4 nodes, used on each of the (at
    most four) pieces between the kinks of a piecewise-smooth replica integrand (ERM with relu).
    """
    tau_x, tau_w = split_gauss_legendre(teacher_nodes)
    eta_x, eta_w = gauss_hermite(replica_nodes)
    if noise > 0.0:
        xi_x, xi_w = gauss_hermite(noise_nodes)
    else:
        xi_x, xi_w = np.zeros(1), np.ones(1)
    piece_x, piece_w = legendre(max(replica_nodes // 4, MIN_PIECE_NODES))
    feature_x, feature_w = legendre(FEATURE_NODES)
    tail_x, tail_w = packed_normal_tail_rules()
    return Rules(tau_x, tau_w, eta_x, eta_w, xi_x, xi_w, piece_x, piece_w, feature_x, feature_w, tail_x, tail_w)
