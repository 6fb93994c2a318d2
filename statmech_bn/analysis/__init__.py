"""Looking at results: :func:`load` (an xarray DataTree), :func:`load_table` (one tidy pandas DataFrame), the standard
figures of :mod:`.plot` and the paper's claims of :mod:`.reproduce`.

These need the optional extra ``analysis`` (xarray, h5netcdf, pandas, matplotlib); the core package does not import
them, and a missing one is named in one line (:class:`MissingExtraError`).
"""

from ..extras import MissingExtraError, require
from .load import load, load_table

__all__ = ["MissingExtraError", "load", "load_table", "require"]
