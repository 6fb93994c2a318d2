"""``python -m statmech_bn`` and the ``statmech-bn`` script."""

import sys


def run() -> int:
    """The command line, in a process whose BLAS runs on one thread (:mod:`statmech_bn.blas`)."""
    from .blas import pin_single_thread

    pin_single_thread()  # before NumPy is imported: results must not depend on which process computed them
    from .cli import main

    return main()


if __name__ == "__main__":
    sys.exit(run())
