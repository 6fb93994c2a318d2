"""Replica-symmetric saddle point of Gibbs learning at finite temperature T.

Free entropy per input dimension (Engel & Van den Broeck 2001, ch. 2-4; Seung, Sompolinsky & Tishby 1992),
in the field parametrisation of :mod:`statmech_bn.kernels.saddle` (omega = m tau + sqrt(q - m^2) eta,
V = Q - q, beta_T = 1/T):

    Phi = 1/2 ln(Q - q) + (q - m^2) / (2 (Q - q)) + alpha E[ln Z(y, gamma omega + beta, gamma^2 V)]
          - alpha zeta gamma^2 / T - wd Q / (2T) + c,        f = -T Phi.

Scale-invariant normalizers (pn, wn, pn_gd): Q = 1, m = R, c = 0, and (gamma, beta) are O(1) parameters
at the extremum of Phi. ``none``: gamma = 1, Q = L^2 free, c = (1 + ln 2 pi)/2 (so Phi is the log
partition function of the Gaussian prior at alpha = 0). Stationarity, using Stein's lemma on eta and the
heat equation d/dV Z = (1/2) d^2/domega^2 Z, gives with q_hat = alpha E[f_w^2],
m_hat = alpha (E[tau f_w] - m E[f_ww]) and V_hat = -alpha E[f_ww]:

    sphere:  (q - R^2)/(1 - q)^2 = q_hat,  R/(1 - q) = m_hat
             -> 1 - q = 2 / (1 + sqrt(1 + 4 (q_hat + m_hat^2))),  R = m_hat (1 - q);
    none:    V = 1 / (wd/T + V_hat),  m = m_hat V,  q = (m_hat^2 + q_hat) V^2,  Q = q + V;

and dPhi/dgamma = alpha E[d_gamma ln Z] - 2 alpha zeta gamma / T = 0, dPhi/dbeta = alpha E[d_beta ln Z] = 0,
solved by Newton steps inside the fixed-point map. For ``sign`` the student output does not depend on
gamma, and beta = 0 by the symmetry of the teacher: both are held at (1, 0).
"""

from __future__ import annotations

import math

import numpy as np

from ..kernels.saddle import N_SUMS, gibbs_sums
from .base import SaddlePointMethod
from .problem import Problem, generalization_error

_LOG_2PI_E_HALF = 0.5 * (1.0 + math.log(2.0 * math.pi))


class GibbsSaddle(SaddlePointMethod):
    """State: sphere [R, q, gamma, beta]; none [m, q, Q, beta] (m = w.w*/N, q and Q raw overlaps)."""

    _gamma_slot = 2
    free_energy_definition = "f = -T Phi per input dimension (energy minus T times entropy)"

    def __init__(self, problem: Problem):
        if problem.temperature <= 0.0:
            raise ValueError("Gibbs learning needs a temperature T > 0")
        super().__init__(problem)
        self.rules = problem.rules()
        self.beta_t = 1.0 / problem.temperature
        self._out = np.empty(N_SUMS)
        self._fixed_scale = problem.act.gain_free

    def _sums(self, x):
        """Disorder averages at state x (see :func:`statmech_bn.kernels.saddle.gibbs_sums`)."""
        r = self.rules
        p = self.problem
        if p.spherical:
            m, q, gamma, beta = x
            v = 1.0 - q
        else:
            m, q, big_q, beta = x
            gamma, v = 1.0, big_q - q
        gibbs_sums(p.code, p.code, m, q, v, gamma, beta, self.beta_t, p.noise, r.tau_x, r.tau_w,
                   r.eta_x, r.eta_w, r.xi_x, r.xi_w, r.inner_x, r.inner_w, self._out)
        return self._out.copy()

    def initial_state(self, alpha: float, learned: bool) -> np.ndarray:
        r = 0.95 if learned else 0.2
        return np.array([r, r * r, 1.0, 0.0])

    def free_entropy(self, x: np.ndarray, alpha: float, sums=None) -> float:
        """Phi(x) (not extremised), per input dimension."""
        p = self.problem
        s = self._sums(x) if sums is None else sums
        if p.spherical:
            m, q, gamma, _ = x
            return (0.5 * math.log(1.0 - q) + (q - m * m) / (2.0 * (1.0 - q)) + alpha * s[0]
                    - alpha * self.zeta * gamma**2 * self.beta_t)
        m, q, big_q, _ = x
        v = big_q - q
        return (0.5 * math.log(v) + (q - m * m) / (2.0 * v) + alpha * s[0]
                - 0.5 * p.weight_decay * big_q * self.beta_t + _LOG_2PI_E_HALF)

    def stationarity(self, x: np.ndarray, alpha: float, sums=None) -> np.ndarray:
        """The saddle-point equations: the gradient dPhi/dx in closed form (zero at the solution)."""
        p = self.problem
        s = self._sums(x) if sums is None else sums
        if p.spherical:
            m, q, gamma, _ = x
            return np.array([
                -m / (1.0 - q) + alpha * (s[2] - m * s[3]),
                (q - m * m) / (2.0 * (1.0 - q) ** 2) - 0.5 * alpha * s[1],
                alpha * s[4] - 2.0 * alpha * self.zeta * gamma * self.beta_t,
                alpha * s[5],
            ])
        m, q, big_q, _ = x
        v = big_q - q
        return np.array([
            -m / v + alpha * (s[2] - m * s[3]),
            (q - m * m) / (2.0 * v * v) - 0.5 * alpha * s[1],
            0.5 / v - (q - m * m) / (2.0 * v * v) - 0.5 * p.weight_decay * self.beta_t + 0.5 * alpha * (s[3] + s[1]),
            alpha * s[5],
        ])

    def update(self, x: np.ndarray, alpha: float) -> np.ndarray:
        p = self.problem
        self._set_zeta(x)
        s = self._sums(x)
        q_hat = alpha * s[1]
        m_hat = alpha * (s[2] - x[0] * s[3])
        if p.spherical:
            one_minus_q = 2.0 / (1.0 + math.sqrt(1.0 + 4.0 * (q_hat + m_hat * m_hat)))
            new = np.array([m_hat * one_minus_q, 1.0 - one_minus_q, x[2], x[3]])
            scale_slots = slice(2, 4)
        else:
            precision = p.weight_decay * self.beta_t - alpha * s[3]
            if not precision > 0.0:
                return np.full(4, math.nan)
            v = 1.0 / precision
            q_new = (m_hat * m_hat + q_hat) * v * v
            new = np.array([m_hat * v, q_new, q_new + v, x[3]])
            scale_slots = slice(3, 4)
        if not self._fixed_scale:
            new[scale_slots] = self._newton_step(x, alpha, s, scale_slots)
        return new

    def observables(self, x: np.ndarray, alpha: float) -> dict[str, float]:
        p = self.problem
        self._set_zeta(x)
        s = self._sums(x)
        if p.spherical:
            overlap, q, gamma, beta = x
            norm, scale, chi = math.nan, gamma, (1.0 - q) * self.beta_t
        else:
            m, q_raw, big_q, beta = x
            norm = math.sqrt(big_q)
            overlap, q, gamma, scale = m / norm, q_raw / big_q, math.nan, norm
            chi = (big_q - q_raw) * self.beta_t
        return {
            "eps_gen": generalization_error(p, self.rules, overlap, scale, beta),
            "eps_train": float(s[6]),
            "R": float(overlap),
            "q": float(q),
            "L": float(norm),
            "gamma": float(gamma),
            "beta": float(beta),
            "zeta": float(self.zeta),
            "chi": float(chi),
            "free_energy": float(-p.temperature * self.free_entropy(x, alpha, s)),
        }

    def state_from_record(self, record: dict[str, float]) -> np.ndarray:
        if self.problem.spherical:
            return np.array([record["R"], record["q"], record["gamma"], record["beta"]])
        big_q = record["L"] ** 2
        return np.array([record["R"] * record["L"], record["q"] * big_q, big_q, record["beta"]])
