"""T -> 0 limit of Gibbs learning: regularized empirical risk minimization (ERM).

As T -> 0 the replicas collapse (q -> Q) with chi = (Q - q)/T finite, and T ln Z(y, a, gamma^2 V) tends to
-M(y, a, gamma^2 chi), the Moreau envelope of the loss (:func:`statmech_bn.kernels.channels.moreau`).
The ground-state energy per input dimension (Engel & Van den Broeck 2001, ch. 4; Gerace et al. 2020) is

    f = -extr [ (Q - m^2) / (2 chi) - alpha E[M(y, gamma omega + beta, gamma^2 chi)] - alpha zeta gamma^2
                - wd Q / 2 ],   omega = m tau + sqrt(Q - m^2) eta,

with Q = 1, m = R for the scale-invariant normalizers and gamma = 1 for ``none``. With q_hat, m_hat,
V_hat as in :mod:`statmech_bn.theory.replica` (f_w = gamma (h* - a)/c, f_ww = gamma^2 (dh*/da - 1)/c):

    sphere:  chi = 1 / sqrt(q_hat + m_hat^2),  R = m_hat chi;
    none:    chi = 1 / (wd + V_hat),  m = m_hat chi,  Q = (m_hat^2 + q_hat) chi^2.

At the solution f equals alpha (eps_t + zeta gamma^2) + wd Q/2, the minimal regularized training loss per
dimension (a check used by the tests). q = 1 by construction (the minimiser is unique in this limit).
"""

from __future__ import annotations

import math

import numpy as np

from ..kernels.saddle import N_SUMS, erm_sums
from .base import SaddlePointMethod
from .problem import Problem, generalization_error


class ERMSaddle(SaddlePointMethod):
    """State: sphere [R, chi, gamma, beta]; none [m, Q, chi, beta]."""

    _gamma_slot = 2
    free_energy_definition = "f = min over w of the regularized training loss per input dimension"

    def __init__(self, problem: Problem):
        if not problem.act.differentiable:
            raise ValueError(f"ERM is not defined for the {problem.activation} activation (no useful gradient)")
        super().__init__(problem)
        self.rules = problem.rules(problem.quadrature.erm_replica_nodes)
        self._out = np.empty(N_SUMS)

    def _sums(self, x):
        """Disorder averages at state x (see :func:`statmech_bn.kernels.saddle.erm_sums`)."""
        r = self.rules
        p = self.problem
        if p.spherical:
            m, chi, gamma, beta = x
            big_q = 1.0
        else:
            m, big_q, chi, beta = x
            gamma = 1.0
        erm_sums(p.code, p.code, m, big_q, chi, gamma, beta, p.noise, r.tau_x, r.tau_w, r.eta_x, r.eta_w,
                 r.xi_x, r.xi_w, r.piece_x, r.piece_w, self._out)
        return self._out.copy()

    def initial_state(self, alpha: float, learned: bool) -> np.ndarray:
        r = 0.95 if learned else 0.2
        return np.array([r, 1.0, 1.0, 0.0])

    def free_entropy(self, x: np.ndarray, alpha: float, sums=None) -> float:
        """Phi(x) = -(regularized training loss per dimension) once extremised."""
        p = self.problem
        s = self._sums(x) if sums is None else sums
        if p.spherical:
            m, chi, gamma, _ = x
            return (1.0 - m * m) / (2.0 * chi) + alpha * s[0] - alpha * self.zeta * gamma**2
        m, big_q, chi, _ = x
        return (big_q - m * m) / (2.0 * chi) + alpha * s[0] - 0.5 * p.weight_decay * big_q

    def stationarity(self, x: np.ndarray, alpha: float, sums=None) -> np.ndarray:
        """dPhi/dx in closed form (Stein's lemma on eta; d(-M)/dc = g_a^2/2)."""
        p = self.problem
        s = self._sums(x) if sums is None else sums
        if p.spherical:
            m, chi, gamma, _ = x
            return np.array([
                -m / chi + alpha * (s[2] - m * s[3]),
                -(1.0 - m * m) / (2.0 * chi * chi) + 0.5 * alpha * s[1],
                alpha * s[4] - 2.0 * alpha * self.zeta * gamma,
                alpha * s[5],
            ])
        m, big_q, chi, _ = x
        return np.array([
            -m / chi + alpha * (s[2] - m * s[3]),
            0.5 / chi + 0.5 * alpha * s[3] - 0.5 * p.weight_decay,
            -(big_q - m * m) / (2.0 * chi * chi) + 0.5 * alpha * s[1],
            alpha * s[5],
        ])

    def update(self, x: np.ndarray, alpha: float) -> np.ndarray:
        p = self.problem
        self._set_zeta(x)
        s = self._sums(x)
        q_hat = alpha * s[1]
        m_hat = alpha * (s[2] - x[0] * s[3])
        if p.spherical:
            precision = math.sqrt(q_hat + m_hat * m_hat)
            scale_slots = slice(2, 4)
        else:
            precision = p.weight_decay - alpha * s[3]
            scale_slots = slice(3, 4)
        if not precision > 0.0:
            return np.full(4, math.nan)
        chi = 1.0 / precision
        if p.spherical:
            new = np.array([m_hat * chi, chi, x[2], x[3]])
        else:
            new = np.array([m_hat * chi, (m_hat * m_hat + q_hat) * chi * chi, chi, x[3]])
        new[scale_slots] = self._newton_step(x, alpha, s, scale_slots)
        return new

    def observables(self, x: np.ndarray, alpha: float) -> dict[str, float]:
        p = self.problem
        self._set_zeta(x)
        s = self._sums(x)
        if p.spherical:
            overlap, chi, gamma, beta = x
            norm, scale = math.nan, gamma
        else:
            m, big_q, chi, beta = x
            norm = math.sqrt(big_q)
            overlap, gamma, scale = m / norm, math.nan, norm
        return {
            "eps_gen": generalization_error(p, self.rules, overlap, scale, beta),
            "eps_train": float(s[6]),
            "R": float(overlap),
            "q": 1.0,
            "L": float(norm),
            "gamma": float(gamma),
            "beta": float(beta),
            "zeta": float(self.zeta),
            "chi": float(chi),
            "free_energy": float(-self.free_entropy(x, alpha, s)),
        }

    def state_from_record(self, record: dict[str, float]) -> np.ndarray:
        if self.problem.spherical:
            return np.array([record["R"], record["chi"], record["gamma"], record["beta"]])
        return np.array([record["R"] * record["L"], record["L"] ** 2, record["chi"], record["beta"]])
