"""What the files hold: every curve kind's fields, with their dtype, long name, units and description.

A :class:`Schema` is the record layout of one kind of curve: its point axis (the dimension its points run along:
``alpha``, ``t``, ``batch_size`` or ``learning_rate``), its fields, and which of them carry one value per seed
(2-D, along the ``seed`` dimension). The store writes every field as a netCDF-compatible variable (HDF5 dimension
scales, ``long_name``, ``units``, ``description``); a driver may give a curve its own descriptions (e.g. what
``free_energy`` is for its method).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SEED_DIMENSION = "seed"
"""The dimension of per-seed values; its coordinate is the seed's index 0, 1, ... (the seeds are stored beside)."""


@dataclass(frozen=True)
class Field:
    dtype: type
    long_name: str
    units: str = "1"
    description: str = ""


@dataclass(frozen=True)
class Schema:
    """One kind of curve: the file format it belongs to, its point axis, fields and per-seed fields."""

    format_name: str
    kind: str
    axis: str
    fields: dict
    per_seed: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.fields)

    def dims(self, name: str) -> tuple[str, ...]:
        if name == self.axis:
            return (self.axis,)
        return (self.axis, SEED_DIMENSION) if name in self.per_seed else (self.axis,)


F, INT, B = np.float64, np.int64, np.bool_

EPS_GEN = Field(F, "generalization error", description="eps_g = E[(g(u) - g(h_hat))^2]/2 on fresh inputs, label noise "
                                                       "excluded (sign: twice the misclassification probability)")
R_FIELD = Field(F, "teacher-student overlap", description="R = w.w*/(|w||w*|) of the direction of w")
GAMMA = Field(F, "gain gamma", description="gain of the normalized students; NaN for none, whose gain is L")
BETA = Field(F, "shift beta")
NORM = Field(F, "weight norm L", description="L = |w|/sqrt(N)")
ALPHA = Field(F, "load alpha", description="alpha = P/N, training examples per input dimension")
T_AXIS = Field(F, "time t", units="SGD steps / N", description="t = SGD steps / N")
LEARNING_RATE = Field(F, "learning rate eta", description="learning rate eta of w (gamma and beta step by eta/N)")
BATCH_SIZE = Field(INT, "batch size M")


def _sem(of: str) -> Field:
    return Field(F, f"standard error of {of}", description=f"std(ddof=1)/sqrt(seeds) of {of} over the seeds")


def _seeds(of: str) -> Field:
    return Field(F, f"{of} per seed")


SWEEP = "statmech_bn.sweep"
DECOMPOSE = "statmech_bn.decompose"
DYNAMICS = "statmech_bn.dynamics"

THEORY_SCHEMA = Schema(SWEEP, "theory", "alpha", {
    "alpha": ALPHA,
    "eps_gen": Field(F, "generalization error", description=EPS_GEN.description + "; for one posterior sample"),
    "eps_train": Field(F, "training error", description="the same average over the training set, label noise "
                                                        "included (erm: at the minimiser)"),
    "R": R_FIELD,
    "q": Field(F, "replica overlap", description="overlap of two posterior samples' directions (1 for erm, R^2 in the "
                                                 "high-temperature limit)"),
    "L": Field(F, "weight norm L", description="L = |w|/sqrt(N); NaN for the scale-invariant normalizers"),
    "gamma": GAMMA,
    "beta": BETA,
    "chi": Field(F, "susceptibility", description="(Q - q)/T; for erm its T -> 0 limit; NaN in the high-temperature "
                                                  "limit"),
    "zeta_in_force": Field(F, "gamma-decay strength in force", description="the given zeta for pn_gd, the "
                                                                           "self-consistent zeta(M) at the solution "
                                                                           "for bn, 0 otherwise"),
    "penalty_in_force": Field(F, "per-sample penalty in force", description="what the saddle point adds to each "
                              "sample's loss at the solution: zeta gamma^2 (pn_gd; bn with bn_regularizer "
                              "gamma_decay), the whole O(1/M) BN-PN gap zeta gamma^2 + first_order (bn with "
                              "bn_regularizer expansion), 0 otherwise"),
    "free_energy": Field(F, "free energy per input dimension"),
    "residual": Field(F, "solver residual", description="undamped residual max|F(x) - x| at the stored point"),
    "iterations": Field(INT, "solver iterations", description="evaluations of the saddle-point map F: Anderson "
                        "iterations, the stability check of the point found (k + 1 for k order parameters), and any "
                        "damped iterations of the fallback"),
    "branch": Field(INT, "continuation branch", description="0: the forward continuation (from small alpha) gave the "
                                                          "point, 1: the backward one"),
    "converged": Field(B, "converged", description="the undamped residual reached the solver tolerance with every "
                                                   "component finite; never use a point with false as a result"),
    "diverged": Field(B, "diverged", description="not converged because the order parameters ran away: |gamma|, "
                      "|beta|, chi or L above 1e6 at the last iterate (no finite replica-symmetric saddle point was "
                      "found at this load, e.g. relu ERM with pn at alpha <= 4, noise 0.5, where gamma grows without "
                      "bound); false for every converged point"),
})
MEAN_FIELD_SCHEMA = Schema(SWEEP, "theory", "alpha", {
    **THEORY_SCHEMA.fields,
    "seed": Field(INT, "seed of the Monte-Carlo batches", description="numpy.random.default_rng seed of the "
                  "batch-mates of bn's finite-M mean field (bn_regularizer mean_field), derived from simulation.seed, "
                  "the curve's physics and alpha; reproduces the point bit for bit"),
})
"""A theory curve of bn solved by the finite-M mean field (:mod:`statmech_bn.theory.bn_finite_m`): the theory
fields (those it has no counterpart of are NaN; the curve's descriptions say which) plus the seed of each point."""
SIMULATION_SCHEMA = Schema(SWEEP, "simulation", "alpha", {
    "alpha": ALPHA,
    "eps_gen": Field(F, "generalization error, mean over seeds", description=EPS_GEN.description + "; eps_g(R, gain, "
                     "beta) for Gaussian inputs (exact, no test set), averaged over the seeds"),
    "eps_gen_sem": _sem("eps_gen"),
    "eps_gen_seeds": _seeds("generalization error"),
    "eps_train": Field(F, "training error, mean over seeds"),
    "R": Field(F, "teacher-student overlap, mean over seeds", description=R_FIELD.description),
    "L": Field(F, "weight norm L, mean over seeds", description=NORM.description),
    "gamma": Field(F, "gain gamma, mean over seeds"),
    "beta": Field(F, "shift beta, mean over seeds"),
    "steps": Field(F, "steps of the method, mean over seeds"),
    "grad_norm": Field(F, "largest gradient component, worst seed"),
    "acceptance_rate": Field(F, "acceptance rate, worst seed"),
    "rhat": Field(F, "split R-hat, worst seed"),
    "converged": Field(B, "converged", description="every seed passed its method's test (see the curve's "
                                                   "converged_test); never use a point with false as a result"),
    "seeds": Field(INT, "PCG64 seed of each seed", description="derived from the master seed, the curve's physics and "
                                                             "alpha; reproduces its run bit for bit"),
    "R_seeds": _seeds("teacher-student overlap"),
    "gamma_seeds": _seeds("gain gamma"),
    "eps_gen_train_stats": Field(F, "generalization error with training-set statistics, mean over seeds",
                                 description="bn by sim_sgd only (NaN otherwise): eps_g of the student deployed with "
                                 "the mean and std (denominator P - 1) of h over its training set instead of the "
                                 "population's, the limit of running averages of batch means and unbiased batch "
                                 "variances over training batches"),
    "eps_gen_train_stats_seeds": _seeds("generalization error with training-set statistics"),
    "gamma_train_stats": Field(F, "gain with training-set statistics, mean over seeds",
                               description="gamma sigma_P/s_T: the gain of the population-normalized field "
                               "lambda = h/sigma_P when deployed with training-set statistics (bn by sim_sgd only)"),
    "beta_train_stats": Field(F, "shift with training-set statistics, mean over seeds",
                              description="beta - gamma mu_T/s_T (bn by sim_sgd only)"),
}, per_seed=("eps_gen_seeds", "seeds", "R_seeds", "gamma_seeds", "eps_gen_train_stats_seeds"))
TRAJECTORY_SCHEMA = Schema(DYNAMICS, "trajectory", "t", {
    "t": T_AXIS,
    "R": R_FIELD,
    "L": NORM,
    "gamma": Field(F, "gain gamma", description="gamma of the normalized students, 1 for none (its gain is L)"),
    "beta": BETA,
    "eps_gen": Field(F, "generalization error", description="E[(g(u) - g(gamma lambda + beta))^2]/2 of the student "
                                                            "deployed with population statistics, noise excluded"),
    "eta_eff": Field(F, "effective learning rate", description="eta gamma / L^2 for the normalized students (pn, wn, "
                                                               "pn_gd, bn), eta for none"),
    "converged": Field(B, "converged", description="the integration (or every seed's simulation) reached this time "
                                                   "without diverging"),
})
SIMULATED_TRAJECTORY_SCHEMA = Schema(DYNAMICS, "trajectory", "t", {
    "t": T_AXIS,
    "R": Field(F, "teacher-student overlap, mean over seeds", description=R_FIELD.description + ", for the sign with "
                                                                                               "gamma >= 0"),
    "R_sem": _sem("R"),
    "L": Field(F, "weight norm L, mean over seeds"),
    "gamma": Field(F, "gain |gamma|, mean over seeds"),
    "beta": Field(F, "shift beta, mean over seeds"),
    "eps_gen": Field(F, "generalization error, mean over seeds", description=TRAJECTORY_SCHEMA.fields["eps_gen"]
                     .description),
    "eps_gen_sem": _sem("eps_gen"),
    "eta_eff": Field(F, "effective learning rate, mean over seeds",
                     description=TRAJECTORY_SCHEMA.fields["eta_eff"].description),
    "eps_gen_seeds": _seeds("generalization error"),
    "R_seeds": _seeds("teacher-student overlap"),
    "converged": TRAJECTORY_SCHEMA.fields["converged"],
}, per_seed=("eps_gen_seeds", "R_seeds"))
THRESHOLD_SCHEMA = Schema(DYNAMICS, "thresholds", "batch_size", {
    "batch_size": BATCH_SIZE,
    "threshold_stability": Field(F, "maximal learning rate by linear stability"),
    "threshold_stability_sem": Field(F, "Monte-Carlo error of the maximal learning rate",
                                     description="standard error over bn's drift seeds (std/sqrt(seeds)); 0 for the "
                                                 "quadrature drifts; NaN when the seeds disagree on whether a limit "
                                                 "exists"),
    "threshold_integration": Field(F, "maximal learning rate by integration"),
    "limit_kind": Field(INT, "how the limit was found"),
    "seed": Field(INT, "seed of the point", description="from the master seed, activation, normalizer, zeta and M; "
                                                      "bn's drift batch sets derive from it"),
})
SCAN_SCHEMA = Schema(DYNAMICS, "eta_scan", "learning_rate", {
    "learning_rate": LEARNING_RATE,
    "t_target": Field(F, "time to the target error", units="SGD steps / N"),
    "eta_eff_at_target": Field(F, "effective learning rate at t_target"),
    "eta_eff_final": Field(F, "effective learning rate at t_max"),
    "eps_gen_final": Field(F, "generalization error at t_max"),
    "norm_final": Field(F, "weight norm L at t_max"),
    "reference_eps_gen": Field(F, "reference error"),
    "reached": Field(B, "target reached", description="eps_gen <= reference_eps_gen + target before t_max"),
})
STATIONARY_SCHEMA = Schema(DYNAMICS, "stationary", "learning_rate", {
    "learning_rate": Field(F, "learning rate eta at L = 1"),
    "eta_eff": Field(F, "effective learning rate", description="eta gamma* at L = 1"),
    "eta_eff_sem": _sem("eta_eff"),
    "R": Field(F, "stationary overlap R*"),
    "R_sem": _sem("R"),
    "gamma": Field(F, "stationary gain gamma*"),
    "gamma_sem": _sem("gamma"),
    "beta": Field(F, "stationary shift beta*"),
    "beta_sem": _sem("beta"),
    "eps_gen": Field(F, "generalization error of the stationary state"),
    "eps_gen_sem": _sem("eps_gen"),
    "abscissa": Field(F, "spectral abscissa", description="largest real part of the Jacobian's eigenvalues at the "
                                                          "state (negative: linearly stable)"),
    "residual": Field(F, "largest drift at the state"),
    "converged": Field(B, "converged", description="the state was found with max |drift| below its tolerance for "
                                                   "every drift seed"),
})
DECOMPOSE_SCHEMA = Schema(DECOMPOSE, "decompose", "batch_size", {
    "batch_size": BATCH_SIZE,
    "zeta": Field(F, "gamma-decay strength zeta(M)", description="zeta = E[l'' (1 + (kappa - 1) z^2/4)]/(2M), the "
                                                                 "second-order term of BN's loss over PN's"),
    "zeta_gamma2": Field(F, "gamma decay zeta gamma^2"),
    "first_order": Field(F, "first-order term of the expansion", description="(gamma/M) E[l' z (3 (kappa - 1)/8 - "
                                                                             "z^2/2)]: the sample's own share of its "
                                                                             "batch statistics and the variance bias"),
    "analytic_gap": Field(F, "O(1/M) gap", description="zeta gamma^2 + first_order"),
    "mc_gap": Field(F, "exact gap by Monte Carlo", description="E_B[l(BN)] - E[l(PN)] per sample, mean over batches"),
    "mc_gap_sem": _sem("mc_gap"),
    "ratio_to_analytic": Field(F, "Monte-Carlo gap over the O(1/M) gap"),
    "ratio_to_zeta_gamma2": Field(F, "Monte-Carlo gap over zeta gamma^2"),
    "n_batches": Field(INT, "Monte-Carlo batches"),
    "seed": Field(INT, "PCG64 seed of the point", description="from the master seed, the curve's physics and M"),
})

CURVE_SCHEMAS = {schema.kind: schema for schema in (THEORY_SCHEMA, SIMULATION_SCHEMA, THRESHOLD_SCHEMA, SCAN_SCHEMA,
                                                     STATIONARY_SCHEMA, DECOMPOSE_SCHEMA)}
"""Schemas by stored curve kind (trajectories have two, by method: see :func:`schema_of`)."""
FORMATS = (SWEEP, DECOMPOSE, DYNAMICS)
COMMAND_FORMATS = {"sweep": SWEEP, "decompose": DECOMPOSE, "dynamics": DYNAMICS}
KIND_AXES = {"theory": "alpha", "simulation": "alpha", "trajectory": "t", "thresholds": "batch_size",
             "eta_scan": "learning_rate", "stationary": "learning_rate", "decompose": "batch_size"}
"""The point axis of every curve kind (how files of format version 1, which have no dimension scales, are read)."""

_MODEL = (("activation", "activation"), ("normalizer", "normalizer"))
CURVE_PARAMETERS = {
    "theory": (*_MODEL, ("method", "method"), ("temperature", "T"), ("zeta", "zeta"), ("weight_decay", "wd"),
               ("noise", "noise"), ("batch_size", "M")),
    "simulation": (*_MODEL, ("method", "method"), ("temperature", "T"), ("zeta", "zeta"), ("weight_decay", "wd"),
                   ("noise", "noise"), ("batch_size", "M"), ("simulation_size", "N"), ("simulation_seeds", "seeds")),
    "trajectory": (*_MODEL, ("method", "method"), ("learning_rate", "eta"), ("batch_size", "M"), ("zeta", "zeta"),
                   ("weight_decay", "wd"), ("noise", "noise"), ("simulation_size", "N")),
    "thresholds": (*_MODEL, ("zeta", "zeta"), ("quantity", "quantity")),
    "eta_scan": (*_MODEL, ("batch_size", "M"), ("zeta", "zeta")),
    "stationary": (*_MODEL, ("batch_size", "M"), ("zeta", "zeta")),
    "decompose": (("activation", "activation"), ("input", "input"), ("overlap", "R"), ("gamma", "gamma"),
                  ("beta", "beta"), ("noise", "noise")),
}
"""The curve attributes that say what a curve is, by kind, with their short labels (names, info, legends)."""
_ZERO_MEANS_ABSENT = ("temperature", "zeta", "weight_decay", "batch_size")


REPLICA_SYMMETRY_NOTE = (
    "Replica symmetry is unstable at T = 0 for this curve: its square loss is not convex in the pre-activation and "
    "its proximal map h*(omega) jumps (relu: for every label y > 0; erf: for labels far in the noise tail), so the "
    "de Almeida-Thouless sum alpha E[(1 - dh*/domega)^2] is infinite at every load. The point is the "
    "replica-symmetric estimate of the global minimum; for relu pn ERM at noise 0.5 a one-step RSB estimate has eps_g "
    "2.6 % lower at alpha = 5, 6 % lower at 4.5, and a finite gain at alpha = 4 where this one runs away. Finite-N "
    "minimizers find other minima: sim_erm with more starts reaches lower training loss and larger eps_g at alpha = 4 "
    "and 5 (README, 'Real bn against its theory').")
"""Said of itself by a zero-temperature theory curve (erm, the bn mean field) of relu, or of erf with label noise, in
the description of its ``converged`` field (docs/bn_meanfield/FINDINGS.md: rsb_pn_erm.py and sgd_restarts.py)."""


def zero_temperature_descriptions(activation: str, noise: float, schema: Schema) -> dict:
    """{"converged": schema's description + :data:`REPLICA_SYMMETRY_NOTE`} where the proximal map of ERM's square
    loss jumps: relu (a concave kink at 0 for every label y > 0), and erf with label noise (labels in the noise tail
    beyond the curvature bound of its smooth loss; without noise the map is continuous at small chi and nothing is
    claimed). {} otherwise: linear, whose problem is convex once gamma w is the variable (replica symmetry exact)."""
    if activation == "relu" or (activation == "erf" and noise > 0.0):
        return {"converged": f"{schema.fields['converged'].description}. {REPLICA_SYMMETRY_NOTE}"}
    return {}


def curve_parameters(attrs: dict) -> dict:
    """{label: value} of the parameters of a stored curve (its attributes); a zero temperature, gamma decay, weight
    decay or batch size means the parameter does not act on the curve and is left out."""
    out = {}
    for key, label in CURVE_PARAMETERS.get(str(attrs.get("kind", "decompose")), ()):
        if key not in attrs:
            continue
        value = attrs[key]
        value = value.decode() if isinstance(value, bytes) else value.item() if hasattr(value, "item") else value
        if key in _ZERO_MEANS_ABSENT and value == 0:
            continue
        out[label] = value
    return out
