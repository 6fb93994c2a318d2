"""Infinite-width theory: one module per method, registered in :data:`METHOD_TABLE`.

Each method class takes a :class:`~statmech_bn.theory.problem.Problem` and provides ``initial_state``,
``update`` (the undamped saddle-point map), ``observables`` and ``state_from_record`` (warm start when a
sweep resumes); :func:`~statmech_bn.theory.solver.solve_curve` drives any of them.

The names below load on first use: the configs import :mod:`.problem` and :mod:`.solver` for their settings
without loading the kernels (a refused config or ``--help`` never starts the compiler).
"""

from __future__ import annotations

import importlib

_WHERE = {"Problem": ".problem", "QuadratureSettings": ".problem", "SolverSettings": ".solver",
          "solve_curve": ".solver", "METHOD_TABLE": None}


def _method_table() -> dict:
    from .erm import ERMSaddle
    from .high_temperature import HighTemperatureSaddle
    from .replica import GibbsSaddle

    return {"high_temperature": HighTemperatureSaddle, "gibbs": GibbsSaddle, "erm": ERMSaddle}


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = _method_table() if name == "METHOD_TABLE" else getattr(importlib.import_module(_WHERE[name], __name__),
                                                                    name)
    globals()[name] = value
    return value


__all__ = ["METHOD_TABLE", "Problem", "QuadratureSettings", "SolverSettings", "solve_curve"]
