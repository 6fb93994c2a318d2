"""The step-2 table: finite-M mean field (jsonl files of run_table.sh, one per batch seed) against the SGD
extrapolations N -> inf (docs/sgd_extrapolation.md, copied below) and the present theory (gamma decay; values of
`python -m statmech_bn sweep --activation relu --normalizer bn --batch-size 4,16,64 --method erm --noise 0.5
--alpha 1,2,3,5,8`). Usage: python compare_table.py table_seed1.jsonl [table_seed2.jsonl ...]"""
import json
import sys

import numpy as np

ALPHAS = (1, 2, 3, 5, 8)
SGD = {4: dict(eps=(.241, .138, .085, .050, .033), gamma=(.595, .789, .722, .681, .671),
               R=(.180, .611, .772, .882, .936)),
       16: dict(eps=(.285, .215, .106, .044, .021), gamma=(.858, 1.259, 1.130, 1.024, .966),
                R=(.236, .572, .777, .906, .954)),
       64: dict(eps=(.333, .267, .131, .049, .023), gamma=(1.085, 1.548, 1.324, 1.130, 1.041),
                R=(.273, .548, .769, .906, .954))}
GAMMA_DECAY = {4: dict(eps=(.140, .0917, .0697, .0521, .0426), gamma=(.538, .546, .533, .520, .514),
                       R=(.570, .747, .830, .900, .939)),
               16: dict(eps=(.1917, .1236, .0740, .0378, .0224), gamma=(.771, .892, .867, .829, .812),
                        R=(.515, .709, .825, .914, .953)),
               64: dict(eps=(.2658, .2327, .128, .0461, .0222), gamma=(.968, 1.347, 1.265, 1.065, .998),
                        R=(.457, .620, .769, .905, .953))}
runs = {}
for path in sys.argv[1:]:
    for line in open(path):
        if "RESULT" not in line:
            continue
        d = json.loads(line.split("RESULT", 1)[1].split("cpu")[0])
        runs.setdefault((int(d["M"]), int(d["alpha"])), []).append(d)
print("| M | alpha | eps_g MF / SGD / gd | gamma MF / SGD / gd | R MF / SGD / gd | MF seeds, spread (eps, gamma, R) | "
      "converged |")
print("|---|---|---|---|---|---|---|")
for m in (4, 16, 64):
    for i, a in enumerate(ALPHAS):
        rs = runs.get((m, a), [])
        if not rs:
            continue
        v = {k: np.array([r[k if k != "eps" else "eps_g"] for r in rs]) for k in ("eps", "gamma", "R")}
        cells = []
        for k in ("eps", "gamma", "R"):
            mf = v[k].mean()
            dev = 100 * (mf / SGD[m][k][i] - 1)
            cells.append(f"{mf:.3f} / {SGD[m][k][i]:.3f} / {GAMMA_DECAY[m][k][i]:.3f} ({dev:+.0f} %)")
        spread = ", ".join(f"{np.ptp(v[k]):.3f}" for k in ("eps", "gamma", "R"))
        conv = ",".join(f"{r['change']:.0e}" for r in rs)
        print(f"| {m} | {a} | " + " | ".join(cells) + f" | {len(rs)}, {spread} | {conv} |")
