"""Does sim_sgd reach the minimum? Paired comparison of learning-rate schedules on the same training sets.

For the points of data/bn_sgd_vs_theory.toml (relu teacher and student, label noise 0.5, bn at batch sizes M and
loads alpha) each seed is trained once per schedule (patience, lr_halvings, improvement) on the same teacher and
training set (the seed fixes the data; the permutations differ). Printed per point and schedule: the mean over
seeds of eps_g, gamma, R, epochs, and the mean paired difference to the longest schedule (last in --schedules)
with its standard error; then the gradient test at the end of each run: the gradient of the epoch objective with
respect to (gamma, beta) averaged over --partitions random partitions into batches, as a multiple of its standard
error over the partitions (|z| <~ 2: stationary within the partition noise of the expected batch loss).

    python benchmarks/sgd_schedule.py [--size 1000] [--seeds 4] [--batch-sizes 4,16,64] [--alphas 1,2,3,5,8]
                                      [--schedules 5:6:1e-4,20:10:1e-5,50:14:1e-5] [--partitions 16]
                                      [--final-iterations 3000]

A schedule patience:halvings:improvement[:K] with K > 0 adds the final full-batch phase (L-BFGS on the mean over K
fixed partitions, :func:`statmech_bn.simulate.sgd.partitions_minimize`); its iterations are counted as epochs.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import time

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")  # one BLAS thread, as the command line does, before NumPy loads

import numpy as np  # noqa: E402

from statmech_bn.kernels.sgd import batch_coefficients  # noqa: E402
from statmech_bn.simulate import SimulationSettings  # noqa: E402
from statmech_bn.simulate.common import point_seeds, student_errors, teacher_data  # noqa: E402
from statmech_bn.simulate.sgd import partitions_minimize, train_sgd  # noqa: E402
from statmech_bn.theory.problem import Problem  # noqa: E402


def scalar_gradient_z(problem, x, y, w, scalars, rng, partitions):
    """(mean, standard error) over ``partitions`` random partitions of the epoch objective's (d/dgamma, d/dbeta)."""
    m = problem.batch_size
    fields, deltas = np.empty(m), np.empty(m)
    p = x.shape[0]
    values = np.empty((partitions, 2))
    for k in range(partitions):
        perm = rng.permutation(p)
        total = np.zeros(2)
        for b in range(p // m):
            _, _, dg, db = batch_coefficients(problem.code, problem.norm.training, x, y, perm[b * m:(b + 1) * m], w,
                                              scalars[0], scalars[1], problem.penalty, problem.weight_decay, fields,
                                              deltas)
            total += (dg, db)
        values[k] = total / (p // m)
    return values.mean(axis=0), values.std(axis=0, ddof=1) / math.sqrt(partitions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--batch-sizes", default="4,16,64")
    parser.add_argument("--alphas", default="1,2,3,5,8")
    parser.add_argument("--schedules", default="5:6:1e-4,20:10:1e-5,50:14:1e-5")
    parser.add_argument("--partitions", type=int, default=16)
    parser.add_argument("--normalizer", default="bn")
    parser.add_argument("--final-iterations", type=int, default=3000)
    args = parser.parse_args()
    schedules = [tuple(float(v) for v in (s + ":0").split(":")[:4]) for s in args.schedules.split(",")]
    print(f"N = {args.size}, {args.seeds} seeds, schedules (patience, lr_halvings, improvement, final partitions K) = "
          f"{schedules}")
    for m in (int(v) for v in args.batch_sizes.split(",")):
        problem = Problem("relu", args.normalizer, "sim_sgd", noise=0.5, batch_size=m)
        rules = problem.rules()
        for alpha in (float(v) for v in args.alphas.split(",")):
            seeds = point_seeds(2026, f"schedule-study-{m}", alpha, args.seeds)
            table = np.empty((len(schedules), args.seeds, 5))
            start = time.perf_counter()
            for i, (patience, halvings, improvement, partitions_count) in enumerate(schedules):
                settings = dataclasses.replace(SimulationSettings(size=args.size), patience=int(patience),
                                               lr_halvings=int(halvings), improvement=improvement)
                for k, seed in enumerate(seeds):
                    rng = np.random.Generator(np.random.PCG64(seed))
                    teacher, x, y = teacher_data(problem, alpha, args.size, rng)
                    w, scalars, epochs, _ = train_sgd(problem, x, y, rng, settings)
                    if partitions_count > 0:
                        partitions = np.stack([rng.permutation(x.shape[0]) for _ in range(int(partitions_count))])
                        _, iterations, _ = partitions_minimize(problem, x, y, w, scalars, partitions,
                                                               args.final_iterations)
                        epochs += iterations
                    eps, overlap, _ = student_errors(problem, rules, w, teacher, scalars[0], scalars[1])
                    mean, sem = scalar_gradient_z(problem, x, y, w, scalars, np.random.default_rng(seed),
                                                  args.partitions)
                    z = np.abs(mean / sem).max()
                    table[i, k] = (eps, abs(scalars[0]), overlap, epochs, z)
            last = table[-1]
            for i, s in enumerate(schedules):
                diff = table[i] - last
                se = diff.std(axis=0, ddof=1) / math.sqrt(args.seeds)
                mu = table[i].mean(axis=0)
                print(f"M {m:3d} alpha {alpha:g} sched {s}: eps {mu[0]:.5f} gamma {mu[1]:.4f} R {mu[2]:.5f} "
                      f"epochs {mu[3]:.0f} max|z| {table[i, :, 4].max():.1f} | "
                      f"minus last: eps {diff[:, 0].mean():+.5f}+-{se[0]:.5f} gamma {diff[:, 1].mean():+.4f}"
                      f"+-{se[1]:.4f} R {diff[:, 2].mean():+.5f}+-{se[2]:.5f}", flush=True)
            print(f"  ({time.perf_counter() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
