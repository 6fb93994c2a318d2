"""T -> 0 limit of Gibbs learning: regularized empirical risk minimization (ERM).

As T -> 0 the replicas collapse (q -> Q) with chi = (Q - q)/T finite, and T ln Z(y, a, gamma^2 V) tends to
-M(y, a, gamma^2 chi), the Moreau envelope of the loss (:func:`statmech_bn.kernels.channels.moreau`).
The ground-state energy per input dimension (Engel & Van den Broeck 2001, ch. 4; Gerace et al. 2020) is

    f = -extr [ (Q - m^2) / (2 chi) - alpha E[M(y, gamma omega + beta, gamma^2 chi)] - alpha P(R, gamma, beta)
                - wd Q / 2 ],   omega = m tau + sqrt(Q - m^2) eta,

with Q = 1, m = R for the scale-invariant normalizers and gamma = 1 for ``none``. With q_hat, m_hat,
V_hat as in :mod:`statmech_bn.theory.replica` (f_w = gamma (h* - a)/c, f_ww = gamma^2 (dh*/da - 1)/c):

    sphere:  chi = 1 / sqrt(q_hat + m_hat^2),  R = m_hat chi;
    none:    chi = 1 / (wd + V_hat),  m = m_hat chi,  Q = (m_hat^2 + q_hat) chi^2.

P is the per-sample penalty of :mod:`statmech_bn.theory.replica` (its R-derivative adds -alpha dP/dR to m_hat).
At the solution f equals alpha (eps_t + P) + wd Q/2, the minimal regularized training loss per
dimension (a check used by the tests). q = 1 by construction (the minimiser is unique in this limit).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from ..kernels.codes import ERF, LINEAR
from ..kernels.erf_erm import MEMO_NODES
from ..kernels.ridge import RIDGE_OBSERVABLES, RIDGE_STATE_SIZE, ridge_curve, ridge_exact_state
from ..kernels.saddle import ERM_NOISE_MEMO_LINES, ERM_NOISE_SPLIT_C, erm_sums_memo, label_path
from ..quadrature import TAIL_CUT, gauss_hermite
from .base import SaddlePointMethod
from .problem import SYMMETRY_BREAKING, Problem
from .solver import NEWTON_MAX_MOVE, STALL_WINDOW

ERF_NOISE_NODES = ((0.9, 8), (math.inf, 12))
"""Gauss-Hermite nodes of the label noise for an erf student, by c = gamma^2 chi: the first row (c_max, nodes) with
c <= c_max (never fewer than the settings' ``noise_nodes``); above ERM_NOISE_SPLIT_C (1.8) the kernel's rule split at
the cusps (:func:`statmech_bn.kernels.saddle.erf_erm_sums`), these nodes only on teacher nodes with no cusp within
reach. At large c (small alpha) the line averages of erf's proximal map vary in the label y on scales the 8-node rule
misses, and they are not analytic at the labels where a jump of the proximal map is born
(:func:`statmech_bn.kernels.erf_erm.erf_erm_cusps`): across those a Gauss-Hermite rule converges only like ~1/n^2.
Measured worst error of the sums on the noise 0.5 benchmark curve's states (pn_gd zeta 0.1) against 20-node Legendre
pieces of 0.25 split at the cusps: 8 nodes 3.4e-11 at c = 0.95, 6.6e-6 at c = 6.3; 12 nodes 2.3e-10 at c = 1.75;
16 nodes 4.1e-9 at c = 2.7; 32 nodes 5.8e-9 at c = 5.1 (64: 9.8e-10, 200: 2.6e-10 at c = 6.3); the split rule
<= 6.1e-11 from c = 1.75 to 6.3 (29 to 34 noise nodes a teacher node)."""
ERF_NOISE_HYSTERESIS = 1.05
"""The rule changes only where c is this factor clear of a row's edge (or of ERM_NOISE_SPLIT_C): the averages jump by
up to ~2e-10 where the rule changes, and a solution sitting on an edge would otherwise see its map switch between
rules at every iteration."""

LABEL_MEMO_ROWS = 256
"""Rows of ERM's memo where erf's sums take the label path (:func:`statmech_bn.kernels.saddle.erf_erm_label_sums`,
one row per label): more than the labels of its rule (45 to 76 on the noise 0.5 benchmark curve, up to 114 on the
noise 0.1 one). The memo is not
reallocated while the path holds, whatever noise rule the per-line kernel would take there."""

RECENT_ERM_SUMS = 8
"""States (with their label-noise rule) whose ERM sums a method keeps, as Gibbs keeps RECENT_SUMS
(:data:`statmech_bn.theory.replica.RECENT_SUMS`): the solver evaluates the map again at the point it accepts and the
observables need the sums there once more. Measured on the erf noise 0.5 benchmark curve (pn_gd, T = 0.5, both
branches): 157 of the 1,742 evaluations (9%) repeat a state 1, 4 or 5 evaluations before."""


def erf_noise_nodes(c: float, minimum: int) -> int:
    """Label-noise Gauss-Hermite nodes of erf's ERM averages at c = gamma^2 chi (:data:`ERF_NOISE_NODES`)."""
    for c_max, nodes in ERF_NOISE_NODES:
        if c <= c_max:
            return max(nodes, minimum)
    return max(ERF_NOISE_NODES[-1][1], minimum)


def erf_noise_rule(c: float, minimum: int) -> tuple[int, bool]:
    """(Gauss-Hermite nodes, split at the cusps) of erf's ERM label noise at c = gamma^2 chi."""
    return erf_noise_nodes(c, minimum), c > ERM_NOISE_SPLIT_C


@lru_cache(maxsize=8)
def _noise_rule(nodes: int) -> tuple[np.ndarray, np.ndarray]:
    return gauss_hermite(nodes)


class ERMSaddle(SaddlePointMethod):
    """The T -> 0 limit; ``ERMSaddle(problem)`` is a :class:`SphereERM` or a :class:`FlatERM` by the normalizer's
    geometry."""

    free_energy_definition = "f = min over w of the regularized training loss per input dimension"
    _train_slot = 6

    def __init__(self, problem: Problem):
        if not problem.act.differentiable:
            raise ValueError(f"ERM is not defined for the {problem.activation} activation (no useful gradient)")
        super().__init__(problem)
        self._noise_rule = (0, False)
        self._memo = np.zeros((0, 3, MEMO_NODES))
        self._memo_line = np.zeros((0, 4))

    def _replica_nodes(self) -> int:
        return self.problem.quadrature.erm_replica_nodes

    def _erf_noise_rule(self, c: float) -> tuple[int, bool]:
        """:func:`erf_noise_rule` at c, kept from the previous call unless c is clear of the edge of its row
        (:data:`ERF_NOISE_HYSTERESIS`)."""
        minimum = self.rules.xi_x.size
        want = erf_noise_rule(c, minimum)
        if self._noise_rule[0] == 0 or (want != self._noise_rule
                                        and erf_noise_rule(c * ERF_NOISE_HYSTERESIS, minimum) == want
                                        and erf_noise_rule(c / ERF_NOISE_HYSTERESIS, minimum) == want):
            self._noise_rule = want
        return self._noise_rule

    def _sums(self, x):
        """Disorder averages at state x (see :func:`statmech_bn.kernels.saddle.erm_sums`). For erf with label noise
        >= ERM_LABEL_NOISE (0.1) the kernel takes the label as the outer variable
        (:func:`statmech_bn.kernels.saddle.erf_erm_label_sums`, one memo row per label) and the noise rule chosen here
        is not used; below, or near m^2 = q, the per-line kernel with this rule. The sums of the last RECENT_ERM_SUMS
        (state, noise rule) pairs are kept and returned again for the same pair (the same bits)."""
        r = self.rules
        p = self.problem
        m, big_q, chi, gamma, beta = self._fields(x)
        xi_x, xi_w = r.xi_x, r.xi_w
        nodes, split = 0, False
        on_labels = p.code == ERF and label_path(p.code, m, big_q, gamma, p.noise)
        if p.code == ERF and p.noise > 0.0 and not on_labels:
            nodes, split = self._erf_noise_rule(gamma * gamma * chi)
            xi_x, xi_w = _noise_rule(nodes)
        key = np.append(np.asarray(x, dtype=float), (nodes, split)).tobytes()
        kept = self._recall(key)
        if kept is not None:
            return kept
        lines = r.tau_x.size * max(xi_x.size, ERM_NOISE_MEMO_LINES if split else 0)
        if on_labels:  # one memo row per label: any memo with enough rows serves (the kernel checks)
            lines = max(lines, self._memo.shape[0], LABEL_MEMO_ROWS)
        if p.code == ERF and self._memo.shape[0] != lines:  # erf's memo of the proximal map per line, call to call
            self._memo = np.zeros((lines, 3, MEMO_NODES))
            self._memo_line = np.full((lines, 4), math.nan)
        erm_sums_memo(p.code, p.code, m, big_q, chi, gamma, beta, p.noise, r.tau_x, r.tau_w, r.eta_x, r.eta_w,
                      xi_x, xi_w, r.piece_x, r.piece_w, TAIL_CUT, r.feature_x, r.feature_w, r.tail_x, r.tail_w,
                      self._out, self._memo, self._memo_line, split)
        self._keep(key, self._out, RECENT_ERM_SUMS)
        return self._out.copy()

    def initial_state(self, alpha: float, learned: bool) -> np.ndarray:
        r = 0.95 if learned else 0.2
        return np.array([r, 1.0, 1.0, 0.0])

    def update(self, x: np.ndarray, alpha: float) -> np.ndarray:
        self._set_zeta(x)
        s = self._sums(x)
        q_hat = alpha * s[1]
        m_hat = alpha * (s[2] - x[0] * s[3]) - alpha * self._penalty(x)[1]
        precision = self._precision(q_hat, m_hat, alpha, s)
        if not precision > 0.0:
            return np.full(4, math.nan)
        new = self._overlaps(x, q_hat, m_hat, 1.0 / precision)
        new[self._scale_slots] = self._newton_step(x, alpha, s, self._scale_slots)
        return new

    def free_energy(self, x: np.ndarray, alpha: float, sums) -> float:
        return -self.free_entropy(x, alpha, sums)


class SphereERM(ERMSaddle):
    """Scale-invariant normalizers; state [R, chi, gamma, beta]."""

    _state = ("R", "chi", "gamma", "beta")

    def _fields(self, x):
        m, chi, gamma, beta = x
        return m, 1.0, chi, gamma, beta

    def free_entropy(self, x: np.ndarray, alpha: float, sums=None) -> float:
        """Phi(x) = -(regularized training loss per dimension) once extremised."""
        s = self._sums(x) if sums is None else sums
        m, chi, _, _ = x
        return (1.0 - m * m) / (2.0 * chi) + alpha * s[0] - alpha * self._penalty(x)[0]

    def stationarity(self, x: np.ndarray, alpha: float, sums=None) -> np.ndarray:
        """dPhi/dx in closed form (Stein's lemma on eta; d(-M)/dc = g_a^2/2)."""
        s = self._sums(x) if sums is None else sums
        m, chi, _, _ = x
        _, p_overlap, p_gamma, p_beta = self._penalty(x)
        return np.array([
            -m / chi + alpha * (s[2] - m * s[3]) - alpha * p_overlap,
            -(1.0 - m * m) / (2.0 * chi * chi) + 0.5 * alpha * s[1],
            alpha * s[4] - alpha * p_gamma,
            alpha * s[5] - alpha * p_beta,
        ])

    def _precision(self, q_hat, m_hat, alpha, s):
        """1/chi = sqrt(q_hat + m_hat^2); q_hat = alpha E[f_w^2] >= 0 can come out as -1e-24 by round-off where the
        student's gain is ~0 (relu pn ERM, noise 0.3, alpha = 1 on the backward branch): 0 there, which the update
        turns into a non-finite state that the solver steps back from, instead of a math domain error."""
        return math.sqrt(max(q_hat + m_hat * m_hat, 0.0))

    def _overlaps(self, x, q_hat, m_hat, chi):
        return np.array([m_hat * chi, chi, x[2], x[3]])

    def _order(self, x):
        overlap, chi, gamma, beta = x
        return overlap, 1.0, gamma, beta, math.nan, gamma, chi


class FlatERM(ERMSaddle):
    """``none``; state [m, Q, chi, beta]."""

    _state = ("m", "Q", "chi", "beta")


    def _fields(self, x):
        m, big_q, chi, beta = x
        return m, big_q, chi, 1.0, beta

    def free_entropy(self, x: np.ndarray, alpha: float, sums=None) -> float:
        """Phi(x) = -(regularized training loss per dimension) once extremised."""
        s = self._sums(x) if sums is None else sums
        m, big_q, chi, _ = x
        return (big_q - m * m) / (2.0 * chi) + alpha * s[0] - 0.5 * self.problem.weight_decay * big_q

    def stationarity(self, x: np.ndarray, alpha: float, sums=None) -> np.ndarray:
        """dPhi/dx in closed form (Stein's lemma on eta; d(-M)/dc = g_a^2/2)."""
        s = self._sums(x) if sums is None else sums
        m, big_q, chi, _ = x
        return np.array([
            -m / chi + alpha * (s[2] - m * s[3]),
            0.5 / chi + 0.5 * alpha * s[3] - 0.5 * self.problem.weight_decay,
            -(big_q - m * m) / (2.0 * chi * chi) + 0.5 * alpha * s[1],
            alpha * s[5],
        ])

    def _precision(self, q_hat, m_hat, alpha, s):
        return self.problem.weight_decay - alpha * s[3]

    def _overlaps(self, x, q_hat, m_hat, chi):
        return np.array([m_hat * chi, (m_hat * m_hat + q_hat) * chi * chi, chi, x[3]])

    def _order(self, x):
        m, big_q, chi, beta = x
        norm = math.sqrt(big_q)
        return m / norm, 1.0, math.nan, beta, norm, norm, chi

    def state_from_record(self, record: dict[str, float]) -> np.ndarray:
        return np.array([record["R"] * record["L"], record["L"] ** 2, record["chi"], record["beta"]])

    def exact_state(self, alpha: float) -> np.ndarray | None:
        """Ridge regression (linear teacher and student, weight decay lambda, label-noise variance Delta): the fixed
        point of :meth:`update` in closed form (:func:`statmech_bn.kernels.ridge.ridge_exact_state`, which states
        it); None where it does not exist (lambda = 0 with alpha <= 1: no unique minimiser)."""
        if self.problem.code != LINEAR:
            return None
        out = np.empty(RIDGE_STATE_SIZE)
        return out if ridge_exact_state(alpha, self.problem.weight_decay, self.problem.noise, out) else None

    def solve_branch(self, alphas: np.ndarray, start: np.ndarray, settings) -> tuple | None:
        """Ridge regression (linear/none): the whole branch by :func:`statmech_bn.kernels.ridge.ridge_curve`, per
        load the closed-form state confirmed by one evaluation of :meth:`update`, else the damped iteration with the
        solver's stop rule (from the last converged state, nudged off m = 0 as :meth:`warm_start` does). Other
        activations have no closed-form averages and keep the generic solver."""
        if self.problem.code != LINEAR:
            return None
        n = alphas.size
        states, residuals = np.empty((n, RIDGE_STATE_SIZE)), np.empty(n)
        iterations, converged = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.bool_)
        observables = np.empty((n, len(RIDGE_OBSERVABLES)))
        ridge_curve(np.ascontiguousarray(alphas, dtype=float), self.problem.weight_decay, self.problem.noise,
                    np.array(start, dtype=float), True, NEWTON_MAX_MOVE, settings.damping, settings.tolerance,
                    settings.max_iterations, STALL_WINDOW, SYMMETRY_BREAKING, states, residuals, iterations,
                    converged, observables)
        return (list(states), residuals.tolist(), iterations.tolist(), converged.tolist(),
                [dict(zip(RIDGE_OBSERVABLES, row, strict=True)) for row in observables.tolist()])


ERMSaddle.geometries = (SphereERM, FlatERM)
