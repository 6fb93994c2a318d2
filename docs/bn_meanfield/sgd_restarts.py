"""Does real-bn SGD reach the global minimum of its expected batch loss? Restarts on a fixed training set (#16).

For each seed the teacher and training set are drawn once (as ``sim_sgd`` draws them); then ``starts`` students
are trained from independent random starts by the package's schedule and final L-BFGS phase
(:func:`statmech_bn.simulate.sgd.train_sgd`, :func:`statmech_bn.simulate.sgd.final_phase`), and each final point's
expected batch loss is estimated on one common set of ``partitions`` fresh random partitions
(:func:`statmech_bn.kernels.sgd.partitions_objective`; for pn a single one: its objective does not depend on it).
Printed per seed: every start's objective, eps_g, gamma, R; then the means over seeds of the first start (what
``sim_sgd`` stores) and of the start with the lowest objective among the first k, for k = 1, 2, 4, ..., with the
paired standard errors. If the minima found by SGD were the global one, best-of-k would not move with k.

Start k draws from PCG64([seed, k + 1]). (PCG64([seed, 0]) is the same stream as PCG64(seed), which draws the
teacher first: the files in docs/bn_meanfield/restarts/ were written with PCG64([seed, k]), so their start 0 began at
the teacher's direction; ``--summarize FILE --skip-first`` leaves it out and reads starts 1-15 as the random ones.)
The summary gives best-of-k both for the first k random starts and averaged over random k-subsets of them (the
smoother estimate).

    python docs/bn_meanfield/sgd_restarts.py --normalizer bn --batch-size 16 --alpha 2 --size 500 --seeds 8 --starts 16
    python docs/bn_meanfield/sgd_restarts.py --summarize docs/bn_meanfield/restarts/restarts_m16_a2.jsonl --skip-first
"""

from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np

from statmech_bn.kernels.codes import BATCH
from statmech_bn.kernels.sgd import partitions_objective
from statmech_bn.simulate.common import SimulationSettings, student_errors, teacher_data
from statmech_bn.simulate.sgd import final_phase, train_sgd
from statmech_bn.theory.problem import Problem


def expected_loss(problem, x, y, w, scalars, partitions):
    p, n = x.shape
    m = problem.batch_size
    value, *_ = partitions_objective(problem.code, problem.norm.training, x @ w / math.sqrt(n), y, partitions, m,
                                     float(w @ w) / n, n, float(scalars[0]), float(scalars[1]), problem.penalty,
                                     problem.weight_decay, np.empty(p), np.empty(m), np.empty(m))
    return float(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--activation", default="relu")
    parser.add_argument("--normalizer", default="bn")
    parser.add_argument("--noise", type=float, default=0.5)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--alpha", type=float, default=2.0)
    parser.add_argument("--size", type=int, default=500)
    parser.add_argument("--seeds", type=int, default=6)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--starts", type=int, default=8)
    parser.add_argument("--partitions", type=int, default=128)
    parser.add_argument("--final-iterations", type=int, default=1000)
    parser.add_argument("--json", help="append one JSON line per seed to this file")
    parser.add_argument("--summarize", help="print the summary of a --json file instead of running")
    parser.add_argument("--skip-first", action="store_true", help="with --summarize: leave start 0 out")
    args = parser.parse_args()
    if args.summarize:
        with open(args.summarize) as handle:
            summarize([json.loads(line) for line in handle], 1 if args.skip_first else 0)
        return

    problem = Problem(args.activation, args.normalizer, "sim_sgd", noise=args.noise, batch_size=args.batch_size)
    settings = SimulationSettings(size=args.size, final_iterations=args.final_iterations)
    rules = problem.rules()
    rows = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        t0 = time.process_time()
        teacher, x, y = teacher_data(problem, args.alpha, args.size, np.random.Generator(np.random.PCG64(seed)))
        p = x.shape[0]
        common = np.random.Generator(np.random.PCG64([seed, 10**6]))
        count = args.partitions if problem.norm.training == BATCH else 1
        partitions = np.stack([common.permutation(p) for _ in range(count)])
        starts = []
        for k in range(args.starts):
            rng = np.random.Generator(np.random.PCG64([seed, k + 1]))
            w, scalars, _, converged = train_sgd(problem, x, y, rng, settings)
            if converged:
                converged = final_phase(problem, x, y, w, scalars, rng, settings)
            gain = float(scalars[0]) if problem.spherical else 1.0
            eps, overlap, _ = student_errors(problem, rules, w, teacher, gain, float(scalars[1]))
            starts.append({"objective": expected_loss(problem, x, y, w, scalars, partitions), "eps_gen": eps,
                           "gamma": abs(gain), "R": overlap, "converged": converged})
        row = {"seed": seed, "starts": starts, "cpu_s": time.process_time() - t0}
        rows.append(row)
        print(f"seed {seed} ({row['cpu_s']:.0f} s): " + "  ".join(
            f"{s['objective']:.6f}/{s['eps_gen']:.4f}/{s['gamma']:.3f}{'' if s['converged'] else '*'}" for s in starts),
            flush=True)
        if args.json:
            with open(args.json, "a") as handle:
                handle.write(json.dumps({"args": vars(args), **row}) + "\n")
    print("objective/eps_g/gamma per start; * not converged")
    summarize(rows, 0)


def summarize(rows: list[dict], first: int) -> None:
    """Means over seeds of best-of-k (lowest objective among starts first .. first + k - 1, and averaged over random
    k-subsets of all starts from ``first`` on) against the start ``first`` alone, with paired standard errors."""
    eps = np.array([[s["eps_gen"] for s in r["starts"][first:]] for r in rows])
    objective = np.array([[s["objective"] for s in r["starts"][first:]] for r in rows])
    gamma = np.array([[s["gamma"] for s in r["starts"][first:]] for r in rows])
    seeds, starts = eps.shape
    pick = np.random.default_rng(0)
    print(f"{seeds} seeds, {starts} starts each; every start: eps_g {eps.mean():.4f}, objective {objective.mean():.6f}")
    sizes = sorted({*(2**i for i in range(starts.bit_length())), starts})  # 1, 2, 4, ... and all of them
    for k in sizes:
        chosen = np.argmin(objective[:, :k], axis=1)
        rows_ = np.arange(seeds)
        change = eps[rows_, chosen] - eps[:, 0]
        se = change.std(ddof=1) / math.sqrt(seeds) if seeds > 1 else math.nan
        subsets = []
        for i in range(seeds):
            draws = [pick.choice(starts, k, replace=False) for _ in range(2000)]
            subsets.append(np.mean([eps[i, d[np.argmin(objective[i, d])]] for d in draws]))
        print(f"best of {k}: eps_g {eps[rows_, chosen].mean():.4f} (paired change {change.mean():+.4f} +- {se:.4f}), "
              f"gamma {gamma[rows_, chosen].mean():.3f}, objective {objective[rows_, chosen].mean():.6f}; "
              f"over random {k}-subsets: eps_g {np.mean(subsets):.4f}")


if __name__ == "__main__":
    main()
