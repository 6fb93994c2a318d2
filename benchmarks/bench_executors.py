"""Benchmark: the executors (issue #14). Wall time of three runs as a user starts them (`python -m statmech_bn ...`,
start-up included) with the local process pool and with Dask (a LocalCluster started by the run), each on 1 and 2
workers, the speed-up over one local worker, and whether each file equals the one-worker local file bit for bit;
then the cost of an empty task on each executor.

    python benchmarks/bench_executors.py [--repeats 1] [--only default,simulation,curve]

The runs (warm Numba cache: a first run of each, not timed, loads or compiles the kernels):

- default: the embedded default sweep (5 theory curves x 30 loads, both branches);
- simulation: sim_sgd of relu/pn_gd (zeta 0.1, noise 0.5), N = 1000, 8 seeds, 5 loads: 40 tasks;
- curve: one 50-point gibbs curve (relu/pn_gd, zeta 0.1, T 0.5, noise 0.5, alpha 0.5..20 log), branches both.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np
from timing import best_of

from statmech_bn.executors import DaskExecutor, ProcessExecutor, SerialExecutor

RUNS = {
    "default": ["sweep"],
    "simulation": ["sweep", "--activation", "relu", "--normalizer", "pn_gd", "--zeta", "0.1", "--noise", "0.5",
                   "--method", "sim_sgd", "--alpha", "0.5,1,2,3,4", "--size", "1000", "--seeds", "8"],
    "curve": ["sweep", "--activation", "relu", "--normalizer", "pn_gd", "--zeta", "0.1", "--temperature", "0.5",
              "--noise", "0.5", "--method", "gibbs", "--set", "alpha.start=0.5", "--set", "alpha.stop=20",
              "--set", "alpha.num=50", "--set", "alpha.spacing=\"log\"", "--branches", "both"],
}
EXECUTORS = [("local", 1), ("local", 2), ("dask", 1), ("dask", 2)]


def run_once(args: list[str], folder: str, executor: str, workers: int) -> tuple[float, str]:
    output = os.path.join(folder, f"{executor}-{workers}-{time.monotonic_ns()}.h5")
    command = [sys.executable, "-m", "statmech_bn", *args, "-o", output, "--quiet", "--workers", str(workers),
               "--executor", executor]
    start = time.perf_counter()
    subprocess.run(command, check=True)
    return time.perf_counter() - start, output


def same_file(a: str, b: str) -> bool:
    with h5py.File(a, "r") as first, h5py.File(b, "r") as second:
        names = sorted(first["curves"])
        if names != sorted(second["curves"]):
            return False
        for name in names:
            for field, values in first["curves"][name].items():
                if not np.array_equal(values[()], second["curves"][name][field][()], equal_nan=True):
                    return False
    return True


class Empty:
    """A task that emits one record and does nothing else."""

    def __init__(self, index: int):
        self.index = index

    def run(self, emit) -> None:
        emit("empty", self.index, {})


def empty_tasks(executor, count: int) -> float:
    received = []
    start = time.perf_counter()
    executor.run([Empty(i) for i in range(count)], lambda *args: received.append(args))
    elapsed = time.perf_counter() - start
    assert len(received) == count
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--only", default=",".join(RUNS))
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs; wall times best of {args.repeats}, start-up included")
    with tempfile.TemporaryDirectory() as folder:
        for name in args.only.split(","):
            command = RUNS[name]
            warm, _ = run_once(command, folder, "local", 1)
            print(f"\n{name}: {' '.join(command[1:]) or '(embedded default)'}  [first run, cache load: {warm:.1f} s]")
            print(f"  {'executor':8s} {'workers':>7s} {'wall (s)':>9s} {'speed-up':>9s}  same file as local/1")
            reference, base = None, None
            for executor, workers in EXECUTORS:
                outputs: list[str] = []

                def one_run(c=command, e=executor, w=workers, o=outputs):
                    o.append(run_once(c, folder, e, w)[1])

                seconds = best_of(one_run, args.repeats)
                if reference is None:
                    reference, base = outputs[0], seconds
                same = "yes" if same_file(reference, outputs[-1]) else "NO"
                print(f"  {executor:8s} {workers:7d} {seconds:9.2f} {base / seconds:8.2f}x  {same}")

    print("\nempty tasks (cost per task: (T(401) - T(1)) / 400; T(1) includes starting the workers):")
    for label, make in (("serial", SerialExecutor), ("local pool, 2", lambda: ProcessExecutor(2)),
                        ("dask LocalCluster, 2", lambda: DaskExecutor(2, None))):
        one = best_of(lambda m=make: empty_tasks(m(), 1), 2)
        many = best_of(lambda m=make: empty_tasks(m(), 401), 2)
        print(f"  {label:22s} start {one * 1e3:8.1f} ms   per task {(many - one) / 400 * 1e6:9.1f} us")


if __name__ == "__main__":
    main()
