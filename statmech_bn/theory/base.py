"""What every saddle-point method shares: the problem, the gamma-decay strength in force, the continuation
warm start, the Newton step for the O(1) parameters (gamma, beta) or beta alone, and the observables.

A method class (GibbsSaddle, ERMSaddle, HighTemperatureSaddle) builds, when called with a problem, the subclass of
its ``geometries`` that fits the normalizer: (sphere, flat), i.e. scale-invariant or ``none``. The geometry owns
the state layout and the equations that depend on it; the method owns the rest.
"""

from __future__ import annotations

import numpy as np

from ..kernels.saddle import N_SUMS
from ..model import Penalty
from .problem import Problem, generalization_error, nudge_off_symmetric
from .solver import ChordJacobian, newton_ascent_step


class SaddlePointMethod:
    """Base of the methods in METHOD_TABLE.

    Geometry subclasses name their state's components (``_state``, from which the slot of gamma and the O(1)
    parameters solved by Newton steps follow), and provide ``_fields``, ``free_entropy``,
    ``stationarity(x, alpha, sums=None)``, ``_overlaps``, ``_order`` (overlap, q, gamma, beta, L, gain, chi) and
    ``state_from_record``; the method provides ``_sums``, ``update``, ``free_energy`` and ``_train_slot`` (the
    slot of the sums holding the training error).
    """

    geometries: tuple[type, type] = ()
    _train_slot: int
    _state: tuple[str, ...] = ()
    """The names of the state's components, in order; in the spherical layouts they are the stored fields."""
    _gamma_slot: int | None = None
    _scale_slots: slice = slice(0, 0)
    _temperature_error: str | None = None
    """The refusal of a problem without a temperature T > 0, for the methods that need one."""

    def __init_subclass__(cls, **kwargs):
        """A geometry's gamma slot and the O(1) parameters solved by Newton steps (gamma and beta, or beta alone)
        follow from its state's names."""
        super().__init_subclass__(**kwargs)
        if cls._state:
            cls._gamma_slot = cls._state.index("gamma") if "gamma" in cls._state else None
            first = cls._gamma_slot if cls._gamma_slot is not None else cls._state.index("beta")
            cls._scale_slots = slice(first, len(cls._state))

    def __new__(cls, problem: Problem):
        if "geometries" in cls.__dict__:  # the method class itself: build the geometry that fits the problem
            cls = cls.geometries[0] if problem.spherical else cls.geometries[1]
        return super().__new__(cls)

    def __init__(self, problem: Problem):
        if self._temperature_error and problem.temperature <= 0.0:
            raise ValueError(self._temperature_error)
        self.problem = problem
        self._batch_zeta = problem.norm.penalty is Penalty.BATCH_ZETA  # looked up once: asked at every evaluation
        self._full_expansion = problem.full_expansion
        self.zeta = problem.gamma_decay(0.0, 1.0, 0.0)
        self._chord = ChordJacobian()
        self._fixed_scale = problem.act.gain_free
        self.rules = problem.rules(self._replica_nodes())
        self._out = np.empty(N_SUMS)
        self._recent: dict[bytes, np.ndarray] = {}

    def _recall(self, key: bytes) -> np.ndarray | None:
        """A copy of the sums kept for ``key`` (:meth:`_keep`), else None."""
        kept = self._recent.get(key)
        return None if kept is None else kept.copy()

    def _keep(self, key: bytes, sums: np.ndarray, size: int) -> None:
        """Keep a copy of ``sums`` under ``key`` among the last ``size`` keys (the oldest dropped; none at 0)."""
        if size > 0:
            if len(self._recent) >= size:
                del self._recent[next(iter(self._recent))]
            self._recent[key] = sums.copy()

    def begin_point(self) -> None:
        """Forget what the previous point left behind (the chord Jacobian): a point then depends only on its alpha,
        its starting state and what the continuation hands it (on a straight stretch the secant prediction and the last
        point's Jacobian, :func:`~statmech_bn.theory.solver.accelerated_fixed_point`), so a branch run as its own
        task gives the same bits, and a resumed curve the same points to the solver's tolerance."""
        self._chord = ChordJacobian()

    def hold_jacobian(self):
        """A context within which the Newton steps' chord Jacobian is held (:meth:`ChordJacobian.hold`)."""
        return self._chord.hold()

    def mirror(self, x: np.ndarray) -> np.ndarray | None:
        """The state (-R, -gamma) of a scale-invariant student with gamma < 0: w -> -w with gamma -> -gamma is the same
        student, so the mirror image is a fixed point too, and the one kept is that with gamma >= 0 (the simulations'
        convention). None where there is nothing to mirror (``none``, a fixed gain, or gamma >= 0)."""
        if not self.problem.spherical or self._fixed_scale or self._gamma_slot is None or x[self._gamma_slot] >= 0.0:
            return None
        y = np.array(x, dtype=float)
        y[0] = -y[0]
        y[self._gamma_slot] = -y[self._gamma_slot]
        return y

    def moving_slots(self, size: int) -> np.ndarray:
        """The slots of the state that the saddle-point map updates: all but (gamma, beta) of a gain-free activation
        (sign), which stay at (1, 0)."""
        slots = np.arange(size)
        return np.delete(slots, slots[self._scale_slots]) if self._fixed_scale else slots

    def _replica_nodes(self) -> int | None:
        """Nodes of the replica field (None: the quadrature settings' default)."""
        return None

    def exact_state(self, alpha: float) -> np.ndarray | None:
        """The saddle point at alpha in closed form, where the method has one (a unique saddle point only, so no
        stability check is needed), else None: the solver then iterates. The solver accepts it only after one
        evaluation of the map confirms it to the tolerance."""
        return None

    def solve_branch(self, alphas: np.ndarray, start: np.ndarray, settings) -> tuple | None:
        """Every load of one continuation branch (``alphas`` in the branch's order, ``start`` its warm start) in one
        kernel call, as per-load lists (states, residuals, iterations, converged flags, observables), where the
        method has such a kernel (a closed-form problem solved by the same rules as the generic continuation of
        :mod:`.solver`, which stays its reference); None otherwise (the default): the solver then continues point by
        point."""
        return None

    def state_from_record(self, record: dict[str, float]) -> np.ndarray:
        """The state of a stored point (a resumed curve's warm start)."""
        return np.array([record[field] for field in self._state])

    def warm_start(self, x: np.ndarray) -> np.ndarray:
        return nudge_off_symmetric(x, 0, self._gamma_slot)

    def admissible(self, x: np.ndarray) -> np.ndarray:
        """x moved into the domain of the order parameters where a step of the solver (an escape from a repelling
        point) may have left it; here x itself (the geometries whose domain a step can leave override it)."""
        return x

    def _set_zeta(self, x: np.ndarray) -> None:
        """Self-consistent gamma decay (bn): zeta evaluated at the current state."""
        if self._batch_zeta:
            self.zeta = self.problem.gamma_decay(x[0], x[self._gamma_slot], x[self._gamma_slot + 1])

    def _penalty(self, x: np.ndarray) -> tuple[float, float, float, float]:
        """The per-sample penalty P added to the training loss at state x, and its derivatives (dP/dR, dP/dgamma,
        dP/dbeta): zeta gamma^2 with the zeta in force (pn_gd's, or bn's zeta(M) fixed at the last
        :meth:`_set_zeta`), or bn's whole O(1/M) gap G(R, gamma, beta)
        (:func:`statmech_bn.theory.decomposition.expansion_penalty`); zero for ``none``."""
        if self._gamma_slot is None:
            return 0.0, 0.0, 0.0, 0.0  # none: its weight decay is part of its geometry's equations
        gamma, beta = x[self._gamma_slot], x[self._gamma_slot + 1]
        if self._full_expansion:
            from .decomposition import expansion_penalty

            value, grad = expansion_penalty(self.problem.activation, x[0], gamma, beta, self.problem.batch_size)
            return value, float(grad[0]), float(grad[1]), float(grad[2])
        return self.zeta * gamma**2, 0.0, 2.0 * self.zeta * gamma, 0.0

    def _newton_step(self, x: np.ndarray, alpha: float, sums: np.ndarray, slots: slice) -> np.ndarray:
        """New values of x[slots] after one Newton step on the stationarity equations of those slots."""
        def gradient(params):
            y = x.copy()
            y[slots] = params
            return self.stationarity(y, alpha)[slots]

        return newton_ascent_step(gradient, x[slots].copy(), self.stationarity(x, alpha, sums)[slots],
                                  chord=self._chord)

    def observables(self, x: np.ndarray, alpha: float) -> dict[str, float]:
        self._set_zeta(x)
        s = self._sums(x)
        overlap, q, gamma, beta, norm, scale, chi = self._order(x)
        return {
            "eps_gen": generalization_error(self.problem, self.rules, overlap, scale, beta),
            "eps_train": float(s[self._train_slot]),
            "R": float(overlap),
            "q": float(q),
            "L": float(norm),
            "gamma": float(gamma),
            "beta": float(beta),
            "zeta_in_force": float(self.zeta),
            "penalty_in_force": float(self._penalty(x)[0]),
            "chi": float(chi),
            "free_energy": float(self.free_energy(x, alpha, s)),
        }
