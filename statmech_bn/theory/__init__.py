"""Infinite-width theory: one module per method, registered in :data:`METHOD_TABLE`.

Each method class takes a :class:`~statmech_bn.theory.problem.Problem` and provides ``initial_state``,
``update`` (the undamped saddle-point map), ``observables`` and ``state_from_record`` (warm start when a
sweep resumes); :func:`~statmech_bn.theory.solver.solve_curve` drives any of them.
"""

from .erm import ERMSaddle
from .high_temperature import HighTemperatureSaddle
from .problem import Problem, QuadratureSettings
from .replica import GibbsSaddle
from .solver import SolverSettings, solve_curve

METHOD_TABLE = {
    "high_temperature": HighTemperatureSaddle,
    "gibbs": GibbsSaddle,
    "erm": ERMSaddle,
}

__all__ = ["METHOD_TABLE", "Problem", "QuadratureSettings", "SolverSettings", "solve_curve"]
