"""Quadrature helpers of finite_m.py (research code for issue #16).

The deterministic M = infinity limit that was prototyped here is now the package module
statmech_bn/theory/bn_meanfield.py (run_exact_inf.py and diagnose_prototype.py use it); what remains is the
Gauss-Legendre rule and the (u, xi) rule split at u = 0 and y = 0 that finite_m.py's averages use (the same nodes
as bn_meanfield.label_rule).
"""

from __future__ import annotations

import math

import numpy as np

CUT = 9.0


def gauss_legendre(lo, hi, n):
    """Nodes and weights of n-point Gauss-Legendre on [lo, hi] (arrays broadcast; last axis the nodes)."""
    x, w = np.polynomial.legendre.leggauss(n)
    lo = np.asarray(lo, dtype=float)[..., None]
    hi = np.asarray(hi, dtype=float)[..., None]
    half = 0.5 * (hi - lo)
    return lo + half * (x + 1.0), half * w


def phi(x):
    return np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def outer_rule(noise: float, n: int = 48):
    """Nodes (u, xi, y) and weights of the Gaussian average over (u, xi), split at u = 0 and at y = 0."""
    us, ws = [], []
    for lo, hi in ((-CUT, 0.0), (0.0, CUT)):
        x, w = gauss_legendre(lo, hi, n)
        us.append(x)
        ws.append(w * phi(x))
    u = np.concatenate(us)
    wu = np.concatenate(ws)
    xi0 = -np.maximum(u, 0.0) / noise  # y = 0 here
    lo_piece = gauss_legendre(np.full_like(u, -CUT), np.maximum(xi0, -CUT), n)
    hi_piece = gauss_legendre(np.maximum(xi0, -CUT), np.full_like(u, CUT), n)
    xi = np.concatenate([lo_piece[0], hi_piece[0]], axis=1)
    wx = np.concatenate([lo_piece[1], hi_piece[1]], axis=1) * phi(xi)
    u2 = np.broadcast_to(u[:, None], xi.shape)
    w = wu[:, None] * wx
    y = np.maximum(u2, 0.0) + noise * xi
    keep = w.ravel() > 0
    return u2.ravel()[keep], xi.ravel()[keep], y.ravel()[keep], w.ravel()[keep]
