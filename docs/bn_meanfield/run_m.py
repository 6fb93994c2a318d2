import math, sys, time, json
from meanfield import MeanField
M, alpha = int(sys.argv[1]), float(sys.argv[2])
ns = int(sys.argv[3]) if len(sys.argv) > 3 else 60000
nb = int(sys.argv[4]) if len(sys.argv) > 4 else 20000
t = time.process_time()
mf = MeanField(M=M, alpha=alpha, n_samples=ns, n_batches=nb)
st = mf.solve(R=0.6, chi=1.0, gamma=0.8, beta=0.0, verbose=True, iterations=int(sys.argv[5]) if len(sys.argv) > 5 else 150)
st = {k: (float(v) if not isinstance(v, bool) else v) for k, v in st.items()}
print("RESULT", json.dumps(dict(M=M, alpha=alpha, n_samples=ns, n_batches=nb, **st)))
print("cpu", time.process_time() - t)
