"""statmech_bn: statistical mechanics of batch normalization in the basic block.

See README.md for what is computed; ``python -m statmech_bn --help`` for the command line. :func:`load` and
:func:`load_table` read any file the commands write (they need the optional extra ``analysis``).
"""

from ._version import __version__


def load(path: str):
    """A statmech_bn file as an ``xarray.DataTree`` (:func:`statmech_bn.analysis.load.load`)."""
    from .analysis.load import load as _load

    return _load(path)


def load_table(path: str):
    """Every curve of a statmech_bn file as one tidy ``pandas.DataFrame``
    (:func:`statmech_bn.analysis.load.load_table`)."""
    from .analysis.load import load_table as _load_table

    return _load_table(path)


__all__ = ["__version__", "load", "load_table"]
