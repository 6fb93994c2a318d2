"""High-temperature limit: T -> infinity with alpha/T fixed (Seung, Sompolinsky & Tishby 1992).

Replicas decouple (q = m^2/Q) and the free energy per dimension, in units of T, is

    beta f = (alpha/T) [eps_t + zeta gamma^2] + wd Q / (2T) - s,

with eps_t = E[e(y, gamma m tau + beta, gamma^2 v)] the expected training loss (label noise included,
:func:`statmech_bn.kernels.channels.expected_loss`) and the entropy s = 1/2 ln(1 - R^2) on the sphere
(Q = 1, m = R, v = 1 - R^2) or s = 1/2 ln(2 pi e v) for ``none`` (gamma = 1, v = Q - m^2). Stationarity:

    sphere:  R/(1 - R^2) = R_hat := -(alpha/T) d eps_t/dR  ->  R = 2 R_hat / (1 + sqrt(1 + 4 R_hat^2));
    none:    1/v = 2 (alpha/T) E[e_b] + wd/T,  m = -(alpha/T) (E[tau e_a] - 2 m E[e_b]) v,  Q = m^2 + v;

and (gamma, beta) minimise eps_t + zeta gamma^2 at the current R by Newton steps.
For sign (loss 2 per mistake in these units): R/sqrt(1 - R^2) = 2 alpha/(pi T), eps_g = 2 arccos(R)/pi.
"""

from __future__ import annotations

import math

import numpy as np

from ..kernels.saddle import N_SUMS, loss_sums
from .base import SaddlePointMethod
from .problem import Problem, generalization_error


class HighTemperatureSaddle(SaddlePointMethod):
    """State: sphere [R, gamma, beta]; none [m, Q, beta]."""

    _gamma_slot = 1
    free_energy_definition = "beta f = f/T per input dimension (dimensionless, T -> infinity at fixed alpha/T)"

    def __init__(self, problem: Problem):
        if problem.temperature <= 0.0:
            raise ValueError("the high-temperature limit needs T > 0 (it fixes alpha/T)")
        super().__init__(problem)
        self.rules = problem.rules()
        self._out = np.empty(N_SUMS)
        self._fixed_scale = problem.act.gain_free

    def _sums(self, x):
        """Loss averages at state x (see :func:`statmech_bn.kernels.saddle.loss_sums`)."""
        r = self.rules
        p = self.problem
        if p.spherical:
            m, gamma, beta = x
            v = 1.0 - m * m
        else:
            m, big_q, beta = x
            gamma, v = 1.0, big_q - m * m
        loss_sums(p.code, p.code, m, v, gamma, beta, p.noise, r.tau_x, r.tau_w, r.xi_x, r.xi_w,
                  r.inner_x, r.inner_w, self._out)
        return self._out.copy()

    def initial_state(self, alpha: float, learned: bool) -> np.ndarray:
        r = 0.95 if learned else 0.2
        return np.array([r, 1.0, 0.0])

    def free_entropy(self, x: np.ndarray, alpha: float, sums=None) -> float:
        """-beta f(x) = s - (alpha/T)(eps_t + zeta gamma^2) - wd Q/(2T)."""
        p = self.problem
        load = alpha / p.temperature
        s = self._sums(x) if sums is None else sums
        if p.spherical:
            m, gamma, _ = x
            return 0.5 * math.log(1.0 - m * m) - load * (s[0] + self.zeta * gamma**2)
        m, big_q, _ = x
        return (0.5 * math.log(2.0 * math.pi * math.e * (big_q - m * m)) - load * s[0]
                - 0.5 * p.weight_decay * big_q / p.temperature)

    def stationarity(self, x: np.ndarray, alpha: float, sums=None) -> np.ndarray:
        """d(-beta f)/dx in closed form (e_b = e_aa/2 by the heat equation)."""
        p = self.problem
        load = alpha / p.temperature
        s = self._sums(x) if sums is None else sums
        if p.spherical:
            m, gamma, _ = x
            v = 1.0 - m * m
            return np.array([
                -m / v - load * (gamma * s[2] - 2.0 * m * gamma * gamma * s[4]),
                -load * (m * s[2] + 2.0 * gamma * v * s[4] + 2.0 * self.zeta * gamma),
                -load * s[5],
            ])
        m, big_q, _ = x
        v = big_q - m * m
        return np.array([
            -m / v - load * (s[2] - 2.0 * m * s[4]),
            0.5 / v - load * s[4] - 0.5 * p.weight_decay / p.temperature,
            -load * s[5],
        ])

    def update(self, x: np.ndarray, alpha: float) -> np.ndarray:
        p = self.problem
        self._set_zeta(x)
        load = alpha / p.temperature
        s = self._sums(x)
        if p.spherical:
            m, gamma, _ = x
            r_hat = -load * (gamma * s[2] - 2.0 * m * gamma * gamma * s[4])
            new = np.array([2.0 * r_hat / (1.0 + math.sqrt(1.0 + 4.0 * r_hat * r_hat)), x[1], x[2]])
            scale_slots = slice(0, 0) if self._fixed_scale else slice(1, 3)
        else:
            m = x[0]
            precision = 2.0 * load * s[4] + p.weight_decay / p.temperature
            if not precision > 0.0:
                return np.full(3, math.nan)
            v = 1.0 / precision
            m_new = -load * (s[2] - 2.0 * m * s[4]) * v
            new = np.array([m_new, m_new * m_new + v, x[2]])
            scale_slots = slice(2, 3)
        if scale_slots.stop > scale_slots.start:
            new[scale_slots] = self._newton_step(x, alpha, s, scale_slots)
        return new

    def observables(self, x: np.ndarray, alpha: float) -> dict[str, float]:
        p = self.problem
        self._set_zeta(x)
        s = self._sums(x)
        if p.spherical:
            overlap, gamma, beta = x
            norm, scale = math.nan, gamma
        else:
            m, big_q, beta = x
            norm = math.sqrt(big_q)
            overlap, gamma, scale = m / norm, math.nan, norm
        return {
            "eps_gen": generalization_error(p, self.rules, overlap, scale, beta),
            "eps_train": float(s[0]),
            "R": float(overlap),
            "q": float(overlap * overlap),
            "L": float(norm),
            "gamma": float(gamma),
            "beta": float(beta),
            "zeta": float(self.zeta),
            "chi": math.nan,
            "free_energy": float(-self.free_entropy(x, alpha, s)),
        }

    def state_from_record(self, record: dict[str, float]) -> np.ndarray:
        if self.problem.spherical:
            return np.array([record["R"], record["gamma"], record["beta"]])
        return np.array([record["R"] * record["L"], record["L"] ** 2, record["beta"]])
