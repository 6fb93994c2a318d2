"""Finite-width simulations beside the theory (analysis C): validate, own the seeds, allocate, call kernels.

Each method is a module exposing ``simulate_<method>(problem, alpha, settings, seed) -> SeedOutcome`` for one
seed; :data:`SIMULATION_TABLE` registers it with the settings it depends on (stored as curve attributes) and
the definitions of its diagnostics. The sweep driver turns the seeds of a point into one record of the
simulation schema (:func:`point_record`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .common import SeedOutcome, SimulationSettings, point_record, point_seeds

_SHARED = ("size", "seeds", "seed")


@dataclass(frozen=True)
class SimulationMethod:
    """A registered simulation: its per-seed function, the settings it reads, what its fields mean (``descriptions``:
    the description of each stored field this method fills in its own way) and what its curve attributes mean."""

    run: Callable[..., SeedOutcome]
    settings_used: tuple[str, ...]
    descriptions: dict
    notes: dict

    def __call__(self, problem, alpha, settings, seed) -> SeedOutcome:
        return self.run(problem, alpha, settings, seed)

    def attributes(self, settings: SimulationSettings) -> dict:
        attrs = {f"simulation_{name}": getattr(settings, name) for name in _SHARED + self.settings_used}
        attrs.update(self.notes)
        return attrs


def _simulation_table() -> dict[str, SimulationMethod]:
    from .erm import simulate_erm
    from .gibbs import simulate_gibbs
    from .sgd import simulate_sgd

    return {
        "sim_erm": SimulationMethod(simulate_erm, ("inits", "gtol", "max_iterations"), {
            "steps": "L-BFGS iterations summed over the starts, mean over seeds",
            "grad_norm": "largest component of the minimum-norm (sub)gradient of the total energy, worst seed",
            "converged": "every seed has grad_norm <= simulation_gtol and a unique minimum"}, {}),
        "sim_gibbs": SimulationMethod(simulate_gibbs, ("chains", "trajectories", "leapfrog_steps", "rhat_max"), {
            "steps": "gradient evaluations (leapfrog steps) over all chains, mean over seeds",
            "acceptance_rate": "HMC acceptance rate after burn-in, worst seed",
            "rhat": "split R-hat of the energy and of R over the chains, the larger, worst seed",
            "converged": "every seed has rhat <= simulation_rhat_max (equilibrated)"}, {}),
        "sim_sgd": SimulationMethod(simulate_sgd, ("learning_rate", "max_epochs", "patience", "improvement",
                                                   "lr_halvings", "final_partitions", "final_iterations"), {
            "steps": "SGD steps (batches), mean over seeds",
            "grad_norm": "largest component of the epoch objective's gradient (mean over one random partition into "
                         "batches) at the final point, worst seed",
            "converged": "every seed reached its plateau after lr_halvings halvings within max_epochs, and its "
                         "final L-BFGS phase (if any) stopped on its tolerances within final_iterations"}, {
            "simulation_learning_rate_definition": "per sample: step = learning_rate * M * batch-mean gradient for w, "
                                                   "learning_rate * M / N for gamma and beta; halved on plateaus",
            "deployment": "population statistics (bn: population mean and std of h), eps_g from (R, gamma, beta); "
                          "bn also with training-set statistics (eps_gen_train_stats)"}),
    }


def __getattr__(name: str):
    """SIMULATION_TABLE loads the simulations (and SciPy's optimizer, the kernels) on first use: the configs import
    :mod:`.common` for their settings without them."""
    if name == "SIMULATION_TABLE":
        globals()[name] = table = _simulation_table()
        return table
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["SIMULATION_TABLE", "SeedOutcome", "SimulationMethod", "SimulationSettings", "point_record",
           "point_seeds"]
