"""Replica-symmetric saddle point of Gibbs learning at finite temperature T.

Free entropy per input dimension (Engel & Van den Broeck 2001, ch. 2-4; Seung, Sompolinsky & Tishby 1992),
in the field parametrisation of :mod:`statmech_bn.kernels.saddle` (omega = m tau + sqrt(q - m^2) eta,
V = Q - q, beta_T = 1/T):

    Phi = 1/2 ln(Q - q) + (q - m^2) / (2 (Q - q)) + alpha E[ln Z(y, gamma omega + beta, gamma^2 V)]
          - alpha P(R, gamma, beta) / T - wd Q / (2T) + c,        f = -T Phi.

Scale-invariant normalizers (pn, wn, pn_gd): Q = 1, m = R, c = 0, and (gamma, beta) are O(1) parameters
at the extremum of Phi. ``none``: gamma = 1, Q = L^2 free, c = (1 + ln 2 pi)/2 (so Phi is the log
partition function of the Gaussian prior at alpha = 0). Stationarity, using Stein's lemma on eta and the
heat equation d/dV Z = (1/2) d^2/domega^2 Z, gives with q_hat = alpha E[f_w^2],
m_hat = alpha (E[tau f_w] - m E[f_ww]) and V_hat = -alpha E[f_ww]:

    sphere:  (q - R^2)/(1 - q)^2 = q_hat,  R/(1 - q) = m_hat
             -> 1 - q = 2 / (1 + sqrt(1 + 4 (q_hat + m_hat^2))),  R = m_hat (1 - q);
    none:    V = 1 / (wd/T + V_hat),  m = m_hat V,  q = (m_hat^2 + q_hat) V^2,  Q = q + V;

and dPhi/dgamma = alpha E[d_gamma ln Z] - alpha dP/dgamma / T = 0,
dPhi/dbeta = alpha E[d_beta ln Z] - alpha dP/dbeta / T = 0,
solved by Newton steps inside the fixed-point map. P is the per-sample penalty
(:meth:`~statmech_bn.theory.base.SaddlePointMethod._penalty`): zeta gamma^2 (pn_gd, and bn's gamma decay with zeta(M)
held at the solution), bn's whole O(1/M) gap G(R, gamma, beta) (``bn_regularizer = "expansion"``, whose R-dependence
adds -alpha dP/dR / T to m_hat), 0 otherwise. For ``sign`` the student output does not depend on
gamma, and beta = 0 by the symmetry of the teacher: both are held at (1, 0).
"""

from __future__ import annotations

import math

import numpy as np

from ..kernels.saddle import gibbs_sums
from .base import SaddlePointMethod
from .problem import Problem

_LOG_2PI_E_HALF = 0.5 * (1.0 + math.log(2.0 * math.pi))

RECENT_SUMS = 8
"""States whose Gibbs sums a method keeps: the solver evaluates the map again at the point it accepts (the baseline of
its own stability check, :func:`statmech_bn.theory.solver.accelerated_fixed_point`) and the observables then need the
sums there once more. Measured on the relu benchmark curves (pn_gd, T = 0.5, both branches): 112 of the 1,552
evaluations with noise 0.5 and 145 of 1,787 without (7-8%) repeat one of the 8 states before."""


class GibbsSaddle(SaddlePointMethod):
    """The Gibbs saddle point; ``GibbsSaddle(problem)`` is a :class:`SphereGibbs` or a :class:`FlatGibbs` by the
    normalizer's geometry, which own everything that depends on it."""

    free_energy_definition = "f = -T Phi per input dimension (energy minus T times entropy)"
    _train_slot = 6
    _temperature_error = "Gibbs learning needs a temperature T > 0"

    def __init__(self, problem: Problem):
        super().__init__(problem)
        self.beta_t = 1.0 / problem.temperature
        self._code = problem.code

    def _sums(self, x):
        """Disorder averages at state x (see :func:`statmech_bn.kernels.saddle.gibbs_sums`), a function of x alone:
        those of the last RECENT_SUMS states are kept and returned again for the same state (the same bits)."""
        key = np.asarray(x, dtype=float).tobytes()
        kept = self._recall(key)
        if kept is not None:
            return kept
        r = self.rules
        code = self._code
        m, q, v, gamma, beta = self._fields(x)
        gibbs_sums(code, code, m, q, v, gamma, beta, self.beta_t, self.problem.noise, r.tau_x, r.tau_w,
                   r.eta_x, r.eta_w, r.xi_x, r.xi_w, r.feature_x, r.feature_w, r.tail_x, r.tail_w, self._out)
        self._keep(key, self._out, RECENT_SUMS)
        return self._out.copy()

    def initial_state(self, alpha: float, learned: bool) -> np.ndarray:
        r = 0.95 if learned else 0.2
        return np.array([r, r * r, 1.0, 0.0])

    def update(self, x: np.ndarray, alpha: float) -> np.ndarray:
        self._set_zeta(x)
        s = self._sums(x)
        m_hat = alpha * (s[2] - x[0] * s[3]) - alpha * self.beta_t * self._penalty(x)[1]
        new = self._overlaps(x, alpha * s[1], m_hat, alpha, s)
        if new is not None and not self._fixed_scale:
            new[self._scale_slots] = self._newton_step(x, alpha, s, self._scale_slots)
        return new if new is not None else np.full(4, math.nan)

    def free_energy(self, x: np.ndarray, alpha: float, sums) -> float:
        return -self.problem.temperature * self.free_entropy(x, alpha, sums)


class SphereGibbs(GibbsSaddle):
    """Scale-invariant normalizers; state [R, q, gamma, beta]."""

    _state = ("R", "q", "gamma", "beta")

    def _fields(self, x):
        m, q, gamma, beta = x
        return m, q, 1.0 - q, gamma, beta

    def free_entropy(self, x: np.ndarray, alpha: float, sums=None) -> float:
        """Phi(x) (not extremised), per input dimension."""
        s = self._sums(x) if sums is None else sums
        m, q, gamma, _ = x
        return (0.5 * math.log(1.0 - q) + (q - m * m) / (2.0 * (1.0 - q)) + alpha * s[0]
                - alpha * self._penalty(x)[0] * self.beta_t)

    def stationarity(self, x: np.ndarray, alpha: float, sums=None) -> np.ndarray:
        """The saddle-point equations: the gradient dPhi/dx in closed form (zero at the solution)."""
        s = self._sums(x) if sums is None else sums
        m, q, _, _ = x
        _, p_overlap, p_gamma, p_beta = self._penalty(x)
        force = alpha * self.beta_t
        return np.array([
            -m / (1.0 - q) + alpha * (s[2] - m * s[3]) - force * p_overlap,
            (q - m * m) / (2.0 * (1.0 - q) ** 2) - 0.5 * alpha * s[1],
            alpha * s[4] - force * p_gamma,
            alpha * s[5] - force * p_beta,
        ])

    def admissible(self, x: np.ndarray) -> np.ndarray:
        """x with q raised to R^2 where it is below (two replicas cannot overlap less than each does with the teacher
        squared). An escape from the uninformed point (R = q = 0) along its repelling direction, which has no q
        component, starts at q = 0 < R^2: measured on relu Gibbs (pn_gd zeta 0.1, T = 0.5, noise 0.2) at alpha =
        0.913, the first map step from R = 0.033, q = 0 lands at q = 0.70 and both escapes from there failed their
        30 evaluations, the point then taking 1,000 damped iterations."""
        y = np.array(x, dtype=float)
        y[1] = max(y[1], y[0] * y[0])
        return y

    def _overlaps(self, x, q_hat, m_hat, alpha, s):
        one_minus_q = 2.0 / (1.0 + math.sqrt(1.0 + 4.0 * (q_hat + m_hat * m_hat)))
        return np.array([m_hat * one_minus_q, 1.0 - one_minus_q, x[2], x[3]])

    def _order(self, x):
        overlap, q, gamma, beta = x
        return overlap, q, gamma, beta, math.nan, gamma, (1.0 - q) * self.beta_t


class FlatGibbs(GibbsSaddle):
    """``none``; state [m, q, Q, beta] (m = w.w*/N, q and Q raw overlaps)."""

    _state = ("m", "q", "Q", "beta")


    def _fields(self, x):
        m, q, big_q, beta = x
        return m, q, big_q - q, 1.0, beta

    def free_entropy(self, x: np.ndarray, alpha: float, sums=None) -> float:
        """Phi(x) (not extremised), per input dimension."""
        s = self._sums(x) if sums is None else sums
        m, q, big_q, _ = x
        v = big_q - q
        return (0.5 * math.log(v) + (q - m * m) / (2.0 * v) + alpha * s[0]
                - 0.5 * self.problem.weight_decay * big_q * self.beta_t + _LOG_2PI_E_HALF)

    def stationarity(self, x: np.ndarray, alpha: float, sums=None) -> np.ndarray:
        """The saddle-point equations: the gradient dPhi/dx in closed form (zero at the solution)."""
        s = self._sums(x) if sums is None else sums
        m, q, big_q, _ = x
        v = big_q - q
        return np.array([
            -m / v + alpha * (s[2] - m * s[3]),
            (q - m * m) / (2.0 * v * v) - 0.5 * alpha * s[1],
            0.5 / v - (q - m * m) / (2.0 * v * v) - 0.5 * self.problem.weight_decay * self.beta_t
            + 0.5 * alpha * (s[3] + s[1]),
            alpha * s[5],
        ])

    def _overlaps(self, x, q_hat, m_hat, alpha, s):
        precision = self.problem.weight_decay * self.beta_t - alpha * s[3]
        if not precision > 0.0:
            return None
        v = 1.0 / precision
        q_new = (m_hat * m_hat + q_hat) * v * v
        return np.array([m_hat * v, q_new, q_new + v, x[3]])

    def _order(self, x):
        m, q_raw, big_q, beta = x
        norm = math.sqrt(big_q)
        return m / norm, q_raw / big_q, math.nan, beta, norm, norm, (big_q - q_raw) * self.beta_t

    def state_from_record(self, record: dict[str, float]) -> np.ndarray:
        big_q = record["L"] ** 2
        return np.array([record["R"] * record["L"], record["q"] * big_q, big_q, record["beta"]])


GibbsSaddle.geometries = (SphereGibbs, FlatGibbs)
