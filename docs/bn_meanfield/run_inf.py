import math, sys, time
from meanfield import MeanField, eps_g_pn
alpha = float(sys.argv[1])
t = time.process_time()
mf = MeanField(M=math.inf, alpha=alpha, n_samples=int(sys.argv[2]) if len(sys.argv) > 2 else 60000)
st = mf.solve(R=0.8, chi=0.7, gamma=1.2, beta=-0.2, verbose=True, iterations=300)
m, s = st["h_mean"], st["h_std"]
gain, shift = st["gamma"] / s, st["beta"] - st["gamma"] * m / s
print(st)
print("pn-equivalent gain, shift", gain, shift, "eps_g(train-stats deploy)", eps_g_pn(st["R"], gain, shift))
print("cpu", time.process_time() - t)
