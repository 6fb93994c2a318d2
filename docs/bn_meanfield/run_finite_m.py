"""One finite-M mean-field point: python run_finite_m.py M alpha [n_outer n_eta n_batches seed damping iterations]
(from this directory; add -v for every iteration; START="R,chi,gamma,beta" in the environment sets the start).
Prints a RESULT json line and the CPU seconds."""
import json
import os
import sys
import time

from finite_m import FiniteM

M, alpha = int(sys.argv[1]), float(sys.argv[2])
args = [a for a in sys.argv[3:] if a != "-v"]
n_outer, n_eta, n_batches, seed = (int(a) for a in (args[:4] + ["24", "64", "20000", "1"][len(args[:4]):]))
damping = float(args[4]) if len(args) > 4 else 0.5
iterations = int(args[5]) if len(args) > 5 else 300
t = time.process_time()
mf = FiniteM(M, alpha, n_outer=n_outer, n_eta=n_eta, n_batches=n_batches, seed=seed)
start_values = [float(v) for v in os.environ.get("START", "0.6,1,0.8,0").split(",")]
start = dict(zip(("R", "chi", "gamma", "beta"), start_values, strict=True))
st = mf.solve(**start, damping=damping, iterations=iterations, verbose="-v" in sys.argv)
st = {k: (float(v) if not isinstance(v, bool) else v) for k, v in st.items()}
print("RESULT", json.dumps(dict(n_outer=n_outer, n_eta=n_eta, n_batches=n_batches, seed=seed, damping=damping, **st)))
print("cpu", time.process_time() - t)
