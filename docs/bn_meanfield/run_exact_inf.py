"""M = inf check: the deterministic mean-field limit (statmech_bn.theory.bn_meanfield) against pn ERM
(statmech_bn sweep --normalizer pn --method erm --noise 0.5 --alpha 5,8, values copied below).
Run from this directory: PYTHONPATH=<worktree> python run_exact_inf.py"""
import time

import numpy as np

from statmech_bn.theory.bn_meanfield import solve_infinite_batch

ref = {5: (0.88723023, 0.66178016, 1.27344878, -0.20399815, 0.09687922),
       8: (0.95050065, 0.33779075, 1.10317521, -0.07132467, 0.10817194)}
for alpha in (5, 8):
    R, chi, g, b, et = ref[alpha]
    for no, ni in ((32, 16), (48, 24), (64, 32)):
        t = time.process_time()
        # the prototype's start: R 0.8, chi 0.7, gamma 1.2, beta -0.2, population statistics, no forces
        sol = solve_infinite_batch(alpha, 0.5, label_nodes=no, eta_nodes=ni)
        x = sol.state
        pe = np.array([x[0], x[1], sol.gain, sol.shift])
        print(f"alpha {alpha} nodes {no}/{ni}: converged {sol.converged} max|res| {sol.residual:.1e} "
              f"m {x[4]:.6f} s {x[5]:.6f} F_m {x[6]:.1e} F_s {x[7]:.1e}")
        print("   R, chi, gain, shift:", np.array2string(pe, precision=8), " minus pn ERM:",
              np.array2string(pe - np.array([R, chi, g, b]), precision=2),
              " train loss - pn:", f"{sol.training_loss - et:.1e}", f"cpu {time.process_time() - t:.1f}", flush=True)
