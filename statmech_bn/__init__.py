"""statmech_bn: statistical mechanics of batch normalization in the basic block.

See README.md for what is computed; ``python -m statmech_bn --help`` for the command line.
"""

from ._version import __version__

__all__ = ["__version__"]
