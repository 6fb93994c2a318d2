"""Benchmark: seconds per 50-point theory curve for every (activation, method, noise), in this process on one core.

Each curve is pn_gd (zeta = 0.1) at T = 0.5 over 50 loads alpha = 0.5..20 (log), solved as `sweep` solves it
(both continuation branches unless --branches says otherwise). Per curve: seconds (best of --repeats, warm Numba
cache), the iterations (largest and total over both branches), the converged points, and the compile/cache-load
time of its first point, measured apart.

    python benchmarks/bench_curves.py                                # every curve (erf with noise: minutes)
    python benchmarks/bench_curves.py --activations relu,linear --noise 0.5
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from timing import best_of

from statmech_bn.theory import METHOD_TABLE, Problem, SolverSettings
from statmech_bn.theory.solver import backward_branch, forward_branch

ALPHAS = np.geomspace(0.5, 20.0, 50)
METHODS = ("gibbs", "erm", "high_temperature")
ACTIVATIONS = ("relu", "linear", "erf", "sign")


def problem(activation: str, method: str, noise: float) -> Problem:
    return Problem(activation, "pn_gd", method, temperature=0.5, zeta=0.1, noise=noise)


def solve(p: Problem, branches: str, alphas=ALPHAS) -> list:
    """Both branches (or one), as the sweep's tasks run them: a fresh method object per branch."""
    settings = SolverSettings(branches=branches)
    points = []
    if branches in ("forward", "both"):
        points += list(forward_branch(METHOD_TABLE[p.method](p), alphas, settings))
    if branches in ("backward", "both"):
        points += list(backward_branch(METHOD_TABLE[p.method](p), alphas, settings))
    return points


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--activations", default=",".join(ACTIVATIONS))
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--noise", default="0.5,0")
    parser.add_argument("--branches", default="both", choices=("forward", "backward", "both"))
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--save", metavar="FILE.npz", help="store every curve's eps_g, converged and branch, to "
                        "compare two versions with --compare")
    parser.add_argument("--compare", metavar="FILE.npz", help="print the largest |change| of eps_g against a saved run")
    args = parser.parse_args()
    saved: dict[str, np.ndarray] = {}
    before = dict(np.load(args.compare)) if args.compare else {}
    print(f"50 loads alpha = 0.5..20 (log), pn_gd zeta 0.1, T 0.5, branches {args.branches}; one core, warm cache")
    print(f"{'activation':10s} {'method':16s} {'noise':>5s} {'first (s)':>9s} {'curve (s)':>9s} {'iter max':>8s} "
          f"{'iter sum':>8s} {'converged':>9s}")
    for activation in args.activations.split(","):
        for method in args.methods.split(","):
            for noise in (float(s) for s in args.noise.split(",")):
                p = problem(activation, method, noise)
                if activation == "sign" and method == "erm":
                    continue  # sign has no ERM (a zero-gradient loss; the sweep refuses it)
                start = time.perf_counter()
                solve(p, "forward", ALPHAS[:1])
                first = time.perf_counter() - start
                points: list = []
                seconds = best_of(lambda p=p, out=points: out.append(solve(p, args.branches)), args.repeats)
                last = points[-1]
                iterations = [q.iterations for q in last]
                converged = sum(q.converged for q in last)
                key = f"{activation}-{method}-{noise:g}"
                eps = np.array([q.observables["eps_gen"] for q in last])
                ok = np.array([q.converged for q in last])
                saved[key] = np.stack([eps, ok.astype(float)])
                change = ""
                if key in before:
                    old_eps, old_ok = before[key]
                    both_ok = ok & (old_ok > 0)
                    change = (f"  max |d eps_g| {np.max(np.abs(eps - old_eps)[both_ok], initial=0.0):.1e} over "
                              f"{both_ok.sum()} points")
                print(f"{activation:10s} {method:16s} {noise:5g} {first:9.2f} {seconds:9.3f} {max(iterations):8d} "
                      f"{sum(iterations):8d} {converged:5d}/{len(last)}{change}", flush=True)
    if args.save:
        np.savez(args.save, **saved)


if __name__ == "__main__":
    main()
