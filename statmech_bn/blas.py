"""One BLAS thread in every process that computes tasks.

NumPy's BLAS splits some products (``x.T @ r``, dot products) over threads and sums the pieces in an order that
depends on the thread count, so a simulation's last bits would depend on where it ran: the parent, a local worker,
or a Dask worker (whose nanny starts it with one thread). The tasks are single-core by design (parallelism comes from
running many), so every computing process uses one BLAS thread. The variables must be set before NumPy is first
imported: the command line does it first thing, and the processes it starts inherit them.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

SINGLE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
"""The variables that OpenBLAS (NumPy's and SciPy's wheels), OpenMP and MKL read at load time."""


def pin_single_thread(environ: MutableMapping[str, str] = os.environ) -> None:
    """Set every BLAS thread-count variable of ``environ`` to one."""
    environ.update(SINGLE_THREAD)


def is_single_thread(environ: MutableMapping[str, str] = os.environ) -> bool:
    """Whether ``environ`` gives OpenBLAS and MKL one thread (their own variable, else ``OMP_NUM_THREADS``)."""
    omp = environ.get("OMP_NUM_THREADS")
    openblas = environ.get("OPENBLAS_NUM_THREADS", environ.get("GOTO_NUM_THREADS", omp))
    mkl = environ.get("MKL_NUM_THREADS", omp)
    return openblas == "1" and mkl == "1"
