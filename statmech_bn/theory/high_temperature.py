"""High-temperature limit: T -> infinity with alpha/T fixed (Seung, Sompolinsky & Tishby 1992).

Replicas decouple (q = m^2/Q) and the free energy per dimension, in units of T, is

    beta f = (alpha/T) [eps_t + P(R, gamma, beta)] + wd Q / (2T) - s,

with eps_t = E[e(y, gamma m tau + beta, gamma^2 v)] the expected training loss (label noise included,
:func:`statmech_bn.kernels.channels.expected_loss`) and the entropy s = 1/2 ln(1 - R^2) on the sphere
(Q = 1, m = R, v = 1 - R^2) or s = 1/2 ln(2 pi e v) for ``none`` (gamma = 1, v = Q - m^2). Stationarity:

    sphere:  R/(1 - R^2) = R_hat := -(alpha/T) d eps_t/dR  ->  R = 2 R_hat / (1 + sqrt(1 + 4 R_hat^2));
    none:    1/v = 2 (alpha/T) E[e_b] + wd/T,  m = -(alpha/T) (E[tau e_a] - 2 m E[e_b]) v,  Q = m^2 + v;

and (gamma, beta) minimise eps_t + P at the current R by Newton steps, P the per-sample penalty of
:mod:`statmech_bn.theory.replica` (its R-derivative adds to R_hat: R_hat = -(alpha/T) d(eps_t + P)/dR).
For sign (loss 2 per mistake in these units): R/sqrt(1 - R^2) = 2 alpha/(pi T), eps_g = 2 arccos(R)/pi.
"""

from __future__ import annotations

import math

import numpy as np

from ..kernels.saddle import loss_sums
from .base import SaddlePointMethod


class HighTemperatureSaddle(SaddlePointMethod):
    """The high-temperature limit; ``HighTemperatureSaddle(problem)`` is a :class:`SphereHighTemperature` or a
    :class:`FlatHighTemperature` by the normalizer's geometry."""

    free_energy_definition = "beta f = f/T per input dimension (dimensionless, T -> infinity at fixed alpha/T)"
    _train_slot = 0
    _temperature_error = "the high-temperature limit needs T > 0 (it fixes alpha/T)"

    def _sums(self, x):
        """Loss averages at state x (see :func:`statmech_bn.kernels.saddle.loss_sums`)."""
        r = self.rules
        p = self.problem
        m, v, gamma, beta = self._fields(x)
        loss_sums(p.code, p.code, m, v, gamma, beta, p.noise, r.tau_x, r.tau_w, r.xi_x, r.xi_w, r.feature_x,
                  r.feature_w, r.tail_x, r.tail_w, self._out)
        return self._out.copy()

    def initial_state(self, alpha: float, learned: bool) -> np.ndarray:
        r = 0.95 if learned else 0.2
        return np.array([r, 1.0, 0.0])

    def update(self, x: np.ndarray, alpha: float) -> np.ndarray:
        self._set_zeta(x)
        s = self._sums(x)
        new, slots = self._overlaps(x, alpha / self.problem.temperature, s)
        if new is None:
            return np.full(3, math.nan)
        if slots.stop > slots.start:
            new[slots] = self._newton_step(x, alpha, s, slots)
        return new

    def free_energy(self, x: np.ndarray, alpha: float, sums) -> float:
        return -self.free_entropy(x, alpha, sums)


class SphereHighTemperature(HighTemperatureSaddle):
    """Scale-invariant normalizers; state [R, gamma, beta]."""

    _state = ("R", "gamma", "beta")

    def _fields(self, x):
        m, gamma, beta = x
        return m, 1.0 - m * m, gamma, beta

    def free_entropy(self, x: np.ndarray, alpha: float, sums=None) -> float:
        """-beta f(x) = s - (alpha/T)(eps_t + P)."""
        load = alpha / self.problem.temperature
        s = self._sums(x) if sums is None else sums
        m = x[0]
        return 0.5 * math.log(1.0 - m * m) - load * (s[0] + self._penalty(x)[0])

    def stationarity(self, x: np.ndarray, alpha: float, sums=None) -> np.ndarray:
        """d(-beta f)/dx in closed form (e_b = e_aa/2 by the heat equation)."""
        load = alpha / self.problem.temperature
        s = self._sums(x) if sums is None else sums
        m, gamma, _ = x
        v = 1.0 - m * m
        _, p_overlap, p_gamma, p_beta = self._penalty(x)
        return np.array([
            -m / v - load * (gamma * s[2] - 2.0 * m * gamma * gamma * s[4] + p_overlap),
            -load * (m * s[2] + 2.0 * gamma * v * s[4] + p_gamma),
            -load * (s[5] + p_beta),
        ])

    def _overlaps(self, x, load, s):
        m, gamma, _ = x
        r_hat = -load * (gamma * s[2] - 2.0 * m * gamma * gamma * s[4] + self._penalty(x)[1])
        new = np.array([2.0 * r_hat / (1.0 + math.sqrt(1.0 + 4.0 * r_hat * r_hat)), x[1], x[2]])
        return new, (slice(0, 0) if self._fixed_scale else self._scale_slots)

    def _order(self, x):
        overlap, gamma, beta = x
        return overlap, overlap * overlap, gamma, beta, math.nan, gamma, math.nan


class FlatHighTemperature(HighTemperatureSaddle):
    """``none``; state [m, Q, beta]."""

    _state = ("m", "Q", "beta")


    def _fields(self, x):
        m, big_q, beta = x
        return m, big_q - m * m, 1.0, beta

    def free_entropy(self, x: np.ndarray, alpha: float, sums=None) -> float:
        """-beta f(x) = s - (alpha/T) eps_t - wd Q/(2T)."""
        p = self.problem
        load = alpha / p.temperature
        s = self._sums(x) if sums is None else sums
        m, big_q, _ = x
        return (0.5 * math.log(2.0 * math.pi * math.e * (big_q - m * m)) - load * s[0]
                - 0.5 * p.weight_decay * big_q / p.temperature)

    def stationarity(self, x: np.ndarray, alpha: float, sums=None) -> np.ndarray:
        """d(-beta f)/dx in closed form (e_b = e_aa/2 by the heat equation)."""
        p = self.problem
        load = alpha / p.temperature
        s = self._sums(x) if sums is None else sums
        m, big_q, _ = x
        v = big_q - m * m
        return np.array([
            -m / v - load * (s[2] - 2.0 * m * s[4]),
            0.5 / v - load * s[4] - 0.5 * p.weight_decay / p.temperature,
            -load * s[5],
        ])

    def _overlaps(self, x, load, s):
        p = self.problem
        m = x[0]
        precision = 2.0 * load * s[4] + p.weight_decay / p.temperature
        if not precision > 0.0:
            return None, None
        v = 1.0 / precision
        m_new = -load * (s[2] - 2.0 * m * s[4]) * v
        return np.array([m_new, m_new * m_new + v, x[2]]), self._scale_slots

    def _order(self, x):
        m, big_q, beta = x
        norm = math.sqrt(big_q)
        overlap = m / norm
        return overlap, overlap * overlap, math.nan, beta, norm, norm, math.nan

    def state_from_record(self, record: dict[str, float]) -> np.ndarray:
        return np.array([record["R"] * record["L"], record["L"] ** 2, record["beta"]])


HighTemperatureSaddle.geometries = (SphereHighTemperature, FlatHighTemperature)
