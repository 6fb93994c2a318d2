"""The optional extras: import them on demand, and name the ``pip install`` in one line when one is missing."""

from __future__ import annotations

import importlib

from .errors import UserInputError

EXTRAS = {"xarray": "analysis", "pandas": "analysis", "matplotlib": "analysis", "h5netcdf": "analysis",
          "dask": "dask", "distributed": "dask"}


class MissingExtraError(UserInputError, ImportError):
    """An optional dependency is not installed; the message names the ``pip install`` that brings it."""


def require(module: str, purpose: str):
    """The imported ``module``, or a one-line :class:`MissingExtraError` saying what ``purpose`` needs."""
    try:
        return importlib.import_module(module)
    except ImportError:
        extra = EXTRAS.get(module.split(".")[0], "analysis")
        raise MissingExtraError(f"{purpose} needs {module.split('.')[0]}, of the optional extra [{extra}]: "
                                f"pip install 'statmech_bn[{extra}]'") from None
