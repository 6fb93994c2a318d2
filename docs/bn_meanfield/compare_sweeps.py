"""The issue #16 table for any activation, from sweep files: theory (data/bn_meanfield_vs_sgd.toml, one file per
mean-field batch seed) against sim_sgd extrapolated N -> infinity (data/bn_sgd_extrapolation.toml run at several N).

    python docs/bn_meanfield/compare_sweeps.py --theory T1.h5 [T2.h5 ...] --sgd S500.h5 S1000.h5 [...]

Each cell: eps_g (gamma) as SGD / mean field / gamma_decay, the deviation of the mean field from SGD in %; SGD is
the fit eps(N) = eps_inf + c/N (statmech_bn.analysis.extrapolate) ± its standard error, the mean field the mean over
the theory files (their batch seeds) ± half their spread; '*' marks a point stored not converged.
"""

import argparse
import re

import numpy as np

from statmech_bn.analysis.extrapolate import extrapolate_files
from statmech_bn.store import read_curves


def theory_points(paths):
    """{(activation, M, regularizer): {alpha: [(eps_g, gamma, R, converged) per file]}}."""
    out = {}
    for path in paths:
        for curve in read_curves(path).values():
            attrs = curve["attrs"]
            key = (attrs["activation"], int(attrs["batch_size"]), attrs["bn_regularizer"])
            for i, alpha in enumerate(curve["alpha"]):
                out.setdefault(key, {}).setdefault(float(alpha), []).append(
                    (curve["eps_gen"][i], curve["gamma"][i], curve["R"][i], bool(curve["converged"][i])))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--theory", nargs="+", required=True)
    parser.add_argument("--sgd", nargs="+", required=True)
    args = parser.parse_args()
    theory = theory_points(args.theory)
    sgd = extrapolate_files(args.sgd)
    activations = sorted({k[0] for k in theory})
    for activation in activations:
        print(f"\n{activation}: eps_g (gamma) SGD / mean field / gamma_decay, mean field vs SGD\n")
        print("| M | alpha | eps_g | gamma | MF vs SGD (eps_g, gamma) |")
        print("|---|---|---|---|---|")
        for (curve, alpha), entry in sorted(sgd.items(), key=lambda kv: (int(re.search(r"-M(\d+)$", kv[0][0])[1]),
                                                                           kv[0][1])):
            if f"-{activation}-" not in curve:
                continue
            m = int(re.search(r"-M(\d+)$", curve)[1])
            fits = {q: entry[q][3] for q in ("eps_gen", "gamma")}
            mf = theory.get((activation, m, "mean_field"), {}).get(float(alpha), [])
            gd = theory.get((activation, m, "gamma_decay"), {}).get(float(alpha), [])
            if not mf or not gd or fits["eps_gen"] is None or fits["gamma"] is None:
                continue  # no theory point, or fewer than two sizes to fit
            mf_eps = np.mean([p[0] for p in mf])
            mf_gamma = np.mean([p[1] for p in mf])
            mf_ok = all(p[3] for p in mf)
            star = "" if mf_ok else "*"
            gd_star = "" if gd[0][3] else "*"
            eps = fits["eps_gen"]
            gam = fits["gamma"]
            spread = 0.5 * (max(p[0] for p in mf) - min(p[0] for p in mf))
            print(f"| {m} | {alpha:g} | {eps.value:.4f} ± {eps.value_sem:.4f} / {mf_eps:.4f}{star} (± {spread:.4f})"
                  f" / {gd[0][0]:.4f}{gd_star} | {gam.value:.3f} / {mf_gamma:.3f}{star} / {gd[0][1]:.3f}{gd_star} | "
                  f"{100 * (mf_eps / eps.value - 1):+.1f} %, {100 * (mf_gamma / gam.value - 1):+.1f} % |")


if __name__ == "__main__":
    main()
