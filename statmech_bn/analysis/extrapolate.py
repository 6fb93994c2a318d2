"""Finite-size extrapolation of simulation curves: a fit q(N) = q_inf + c/N over files that differ only in N.

Each file is a ``sweep`` of simulation curves at one width N (``simulation_size``). For every curve (matched across
the files by its physics: every attribute but the bookkeeping of :data:`BOOKKEEPING`, named as in the first file that
holds it) and load alpha, the per-seed values of a quantity (``eps_gen``, ``R``, ``gamma``,
``eps_gen_train_stats``: the per-seed fields ``<name>_seeds``) give a mean and its standard error per N
(:func:`statmech_bn.statistics.mean_and_sem`), and :func:`fit_inverse_size` fits q_inf + c/N to them by weighted
least squares with weights 1/sem^2. Uses only NumPy and the store (no optional extra).

    python -m statmech_bn.analysis.extrapolate sgd_n500.h5 sgd_n1000.h5 sgd_n2000.h5 sgd_n4000.h5 > table.md
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

import numpy as np

from ..statistics import mean_and_sem
from ..store import read_curves

QUANTITIES = ("eps_gen", "R", "gamma", "eps_gen_train_stats")
"""Quantities extrapolated by :func:`extrapolate_files`, each from its per-seed field ``<name>_seeds``."""


@dataclass(frozen=True)
class InverseSizeFit:
    """q(N) = value + slope/N by weighted least squares.

    ``value_sem`` and ``slope_sem``: standard errors from the covariance (A^T W A)^-1 with W = diag(1/sem^2), i.e.
    taking the given standard errors as exact (not rescaled by chi^2); ``chi2``: sum of squared normalized residuals,
    with ``dof`` = (number of sizes) - 2 degrees of freedom (NaN when dof = 0).
    """

    value: float
    value_sem: float
    slope: float
    slope_sem: float
    chi2: float
    dof: int


def fit_inverse_size(sizes, means, sems) -> InverseSizeFit:
    """Weighted least-squares fit of means(N) = value + slope/N; needs at least two sizes and positive sems."""
    sizes, means, sems = (np.asarray(v, dtype=float) for v in (sizes, means, sems))
    if sizes.size < 2 or not np.all(sems > 0.0) or not np.all(np.isfinite(means)):
        raise ValueError("an inverse-size fit needs at least two sizes, finite means and positive standard errors")
    design = np.column_stack([np.ones_like(sizes), 1.0 / sizes])
    weights = 1.0 / sems**2
    normal = design.T @ (design * weights[:, None])
    covariance = np.linalg.inv(normal)
    coefficients = covariance @ (design.T @ (weights * means))
    residuals = (means - design @ coefficients) / sems
    dof = sizes.size - 2
    chi2 = float(residuals @ residuals) if dof > 0 else math.nan
    return InverseSizeFit(float(coefficients[0]), math.sqrt(covariance[0, 0]), float(coefficients[1]),
                          math.sqrt(covariance[1, 1]), chi2, dof)


BOOKKEEPING = frozenset({"complete", "n_planned", "n_points", "simulation_seed", "simulation_seeds",
                         "simulation_size"})
"""Curve attributes that do not change the physics of a point: files whose curves differ only in these (and in the
curve's name, which carries its index in the file) hold the same curve."""


THEORY_ONLY = frozenset({"bn_regularizer"})
"""Curve attributes that only a theory curve uses: bn's regularizer does not enter a simulation (sim_sgd trains real bn
through its batch statistics), and files written before it was stored lack it."""


def _physics(attrs: dict) -> tuple:
    ignored = BOOKKEEPING | THEORY_ONLY if attrs.get("kind") == "simulation" else BOOKKEEPING
    return tuple(sorted((key, str(value)) for key, value in attrs.items() if key not in ignored))


def per_size_statistics(paths) -> dict:
    """{(curve, alpha): {"sizes": [N...], quantity: ([means], [sems], [seeds])}} from files of equal curves.

    Files of the same N (e.g. runs with different master seeds, or a run of one curve with more seeds) pool their
    seeds; a seed (the derived 63-bit seed of the point, :mod:`statmech_bn.seeds`) already pooled is not counted
    again, so a rerun with more seeds from the same master seed adds only its new ones. Only points stored at every N
    are kept; the sizes are sorted increasingly.
    """
    collected: dict = {}
    seen: dict = {}
    names: dict = {}
    sizes: set[int] = set()
    for path in paths:
        for name, curve in read_curves(path).items():
            if curve["attrs"].get("kind") != "simulation":
                continue
            size = int(curve["attrs"]["simulation_size"])
            sizes.add(size)
            physics = _physics(curve["attrs"])
            if physics not in names:  # the first name seen, made unique: another physics may carry the same name
                names[physics] = name + "'" * sum(1 for seen in names.values() if seen.rstrip("'") == name)
            name = names[physics]
            for i, alpha in enumerate(curve["alpha"]):
                entry = collected.setdefault((name, float(alpha)), {}).setdefault(size, {})
                derived = np.asarray(curve["seeds"][i]) if "seeds" in curve else None
                pooled = seen.setdefault((name, float(alpha), size), set())
                new = (np.ones(len(derived), dtype=bool) if derived is None
                       else np.array([int(seed) not in pooled for seed in derived], dtype=bool))
                if derived is not None:
                    pooled.update(int(seed) for seed in derived)
                for q in QUANTITIES:
                    if f"{q}_seeds" in curve:
                        values = np.asarray(curve[f"{q}_seeds"][i], dtype=float)[new]
                        entry[q] = np.concatenate([entry[q], values]) if q in entry else values
    out = {}
    complete = [key for key, by_size in collected.items() if len(by_size) == len(sizes)]
    for key in sorted(complete):
        by_size = collected[key]
        sizes = sorted(by_size)
        entry = {"sizes": sizes}
        for q in QUANTITIES:
            if all(q in by_size[n] for n in sizes):
                stats = [mean_and_sem(by_size[n][q]) for n in sizes]
                entry[q] = ([float(m) for m, _ in stats], [float(s) for _, s in stats],
                            [by_size[n][q].size for n in sizes])
        out[key] = entry
    return out


def extrapolate_files(paths) -> dict:
    """{(curve, alpha): {"sizes", quantity: (means, sems, seeds, InverseSizeFit or None)}}; a quantity whose values
    are NaN (e.g. eps_gen_train_stats of a curve other than bn) has no fit."""
    out = {}
    for key, entry in per_size_statistics(paths).items():
        result = {"sizes": entry["sizes"]}
        for q in QUANTITIES:
            if q not in entry:
                continue
            means, sems, seeds = entry[q]
            try:
                fit = fit_inverse_size(entry["sizes"], means, sems)
            except ValueError:
                fit = None
            result[q] = (means, sems, seeds, fit)
        out[key] = result
    return out


def _estimate(fit: InverseSizeFit | None, digits: int) -> str:
    return "-" if fit is None else f"{fit.value:.{digits}f} ± {fit.value_sem:.{digits}f}"


def markdown_table(results: dict) -> str:
    """The extrapolated values (q_inf ± se, chi^2/dof of the eps_g fit) and the raw per-N means ± sems."""
    if not results:
        return "(no point is stored in every file)\n"
    sizes = next(iter(results.values()))["sizes"]
    lines = ["| curve | alpha | eps_inf | chi2/dof | gamma_inf | R_inf | eps_inf (training stats) | "
             + " | ".join(f"eps_g N={n}" for n in sizes) + " |",
             "|---|---|---|---|---|---|---|" + "---|" * len(sizes)]
    for (curve, alpha), r in results.items():
        eps = r.get("eps_gen")
        fit = eps[3] if eps else None
        chi = "-" if fit is None or fit.dof == 0 else f"{fit.chi2:.1f}/{fit.dof}"
        raw = [f"{m:.4f} ± {s:.4f} ({k})" for m, s, k in zip(*eps[:3], strict=True)] if eps else ["-"] * len(sizes)
        lines.append(f"| {curve} | {alpha:g} | {_estimate(fit, 4)} | {chi} | "
                     f"{_estimate(r.get('gamma', (None,) * 4)[3], 3)} | {_estimate(r.get('R', (None,) * 4)[3], 4)} | "
                     f"{_estimate(r.get('eps_gen_train_stats', (None,) * 4)[3], 4)} | " + " | ".join(raw) + " |")
    lines += ["", "Raw per-N means ± standard errors (seeds) of gamma, R and eps_g with training-set statistics:", "",
              "| curve | alpha | quantity | " + " | ".join(f"N={n}" for n in sizes) + " | chi2/dof |",
              "|---|---|---|" + "---|" * len(sizes) + "---|"]
    for (curve, alpha), r in results.items():
        for q in ("gamma", "R", "eps_gen_train_stats"):
            if q not in r:
                continue
            means, sems, seeds, fit = r[q]
            chi = "-" if fit is None or fit.dof == 0 else f"{fit.chi2:.1f}/{fit.dof}"
            lines.append(f"| {curve} | {alpha:g} | {q} | "
                         + " | ".join(f"{m:.4f} ± {s:.4f}" for m, s in zip(means, sems, strict=True))
                         + f" | {chi} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    paths = sys.argv[1:] if argv is None else argv
    if len(paths) < 2:
        raise SystemExit("usage: python -m statmech_bn.analysis.extrapolate FILE_N1.h5 FILE_N2.h5 [...]")
    sys.stdout.write(markdown_table(extrapolate_files(paths)))


if __name__ == "__main__":
    main()
