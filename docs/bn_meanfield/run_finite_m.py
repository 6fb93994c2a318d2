"""One finite-M mean-field point: python run_finite_m.py M alpha [n_outer n_eta n_batches seed damping iterations]
(PYTHONPATH=<worktree>; add -v for every iteration; START="R,chi,gamma,beta" in the environment sets the start).
Prints a RESULT json line and the CPU seconds. The solver is statmech_bn.theory.bn_finite_m (this directory's
former finite_m.py)."""
import dataclasses
import json
import os
import sys
import time

from statmech_bn.theory.bn_finite_m import solve_finite_batch

M, alpha = int(sys.argv[1]), float(sys.argv[2])
args = [a for a in sys.argv[3:] if a != "-v"]
n_outer, n_eta, n_batches, seed = (int(a) for a in (args[:4] + ["24", "64", "20000", "1"][len(args[:4]):]))
damping = float(args[4]) if len(args) > 4 else 0.5
iterations = int(args[5]) if len(args) > 5 else 300
t = time.process_time()
start = tuple(float(v) for v in os.environ.get("START", "0.6,1,0.8,0").split(","))


def show(it, R, chi, gamma, beta, loss, change):
    print(it, f"R {R:.6f} chi {chi:.6f} gamma {gamma:.6f} beta {beta:.6f} F {loss:.6f} change {change:.1e}",
          flush=True)


st = solve_finite_batch(M, alpha, seed=seed, n_outer=n_outer, n_eta=n_eta, n_batches=n_batches, start=start,
                        damping=damping, iterations=iterations, callback=show if "-v" in sys.argv else None)
result = dataclasses.asdict(st)
result["F"], result["change"], result["M"] = result.pop("training_loss"), result.pop("residual"), result.pop(
    "batch_size")
print("RESULT", json.dumps(dict(n_outer=n_outer, n_eta=n_eta, n_batches=n_batches, damping=damping, **result)))
print("cpu", time.process_time() - t)
