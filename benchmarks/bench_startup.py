"""Benchmark: wall seconds of a command-line call before and around its work, against the floor Numba sets.

Each row is a fresh interpreter (best of --repeats, warm Numba cache: one run first, untimed):

- ``python -c pass`` and ``import numpy``: the interpreter and NumPy alone;
- ``import numba`` and a one-line ``@njit(cache=True)`` function loaded from its cache and called: the floor of any
  run that calls a compiled kernel (Numba initialises its CPU target on the first dispatch, ~0.3-0.4 s here);
- ``--help``, ``info FILE`` and a refused config: the package's start-up without kernels (none is loaded);
- a one-point sweep (relu pn Gibbs at T = 1, alpha = 5, one branch, one worker): start-up, one point's ~35 evaluations
  of the saddle-point map, and the HDF5 file.

    python benchmarks/bench_startup.py
    python benchmarks/bench_startup.py --repeats 5
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FLOOR_KERNEL = """
from numba import njit
@njit(cache=True)
def add_one(x):
    return x + 1.0
add_one(1.0)
"""


def wall(command: list[str], cwd: Path, repeats: int, expect_ok: bool = True) -> float:
    """Shortest wall time of ``repeats`` runs of ``command`` (one untimed run first, to warm every cache), with one
    BLAS thread as the command line sets for itself (:mod:`statmech_bn.blas`): OpenBLAS starting a thread per core
    costs 0.1-0.3 s of import on a loaded machine, which would make the floor rows look slower than the package."""
    from statmech_bn.blas import SINGLE_THREAD

    environment = {**os.environ, **SINGLE_THREAD}
    times = []
    for attempt in range(repeats + 1):
        start = time.perf_counter()
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=environment)
        elapsed = time.perf_counter() - start
        if (done.returncode == 0) != expect_ok:
            raise SystemExit(f"{' '.join(command)}: exit code {done.returncode}\n{done.stderr}")
        if attempt:
            times.append(elapsed)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    python = sys.executable
    with tempfile.TemporaryDirectory() as folder:
        cwd = Path(folder)
        (cwd / "floor.py").write_text(FLOOR_KERNEL)
        (cwd / "bad.toml").write_text("[model]\nactivation = 'tanh'\n")
        one_point = [python, "-m", "statmech_bn", "sweep", "--alpha", "5", "--branches", "forward", "--workers", "1",
                     "--quiet", "--force", "-o", "one.h5"]
        subprocess.run(one_point, cwd=cwd, capture_output=True, check=True)
        rows = [
            ("python -c pass", [python, "-c", "pass"], True),
            ("import numpy", [python, "-c", "import numpy"], True),
            ("import numba", [python, "-c", "import numba"], True),
            ("numba floor: a cached @njit call", [python, "floor.py"], True),
            ("statmech_bn --help", [python, "-m", "statmech_bn", "--help"], True),
            ("statmech_bn info one.h5", [python, "-m", "statmech_bn", "info", "one.h5"], True),
            ("statmech_bn sweep bad.toml (refused)", [python, "-m", "statmech_bn", "sweep", "bad.toml"], False),
            ("statmech_bn sweep, one point", one_point, True),
        ]
        print(f"wall seconds, best of {args.repeats}, fresh interpreter each, warm caches")
        for name, command, ok in rows:
            print(f"{name:40s} {wall(command, cwd, args.repeats, ok):6.3f}")


if __name__ == "__main__":
    main()
