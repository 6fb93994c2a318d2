"""What ``info`` and the end of a run print about a file: one line per curve, by the kind it stores."""

from __future__ import annotations

import numpy as np

from ..records import curve_parameters
from ..store import read_curves


def _trajectory(head, curve):
    eps = curve["eps_gen"]
    tail = f", t {curve['t'][-1]:.3g}: eps_gen {eps[-1]:.4g}, R {curve['R'][-1]:.4f}" if eps.size else ""
    return f"{head} ({curve['attrs']['method']}){tail}"


def _scan(head, curve):
    rows = ", ".join(f"eta {e:g}: t {t:.3g}, eta_eff {f:.3g}" for e, t, f in zip(
        curve["learning_rate"], curve["t_target"], curve["eta_eff_final"], strict=True))
    reference = curve["reference_eps_gen"][0] if curve.get("reference_eps_gen", np.zeros(0)).size else 0.0
    above = f"{reference:.4g} + " if reference else ""
    return f"{head}, time to eps_gen <= {above}{curve['attrs']['target']:g} and final eta_eff: {rows}"


def _stationary(head, curve):
    rows = ", ".join(f"eta_eff {f:.3g}: R {r:.4f}, eps {e:.3g}{'' if a < 0 else ' UNSTABLE'}"
                     for f, r, e, a in zip(curve["eta_eff"], curve["R"], curve["eps_gen"], curve["abscissa"],
                                           strict=True))
    return f"{head}, noise-free stationary state at frozen norm: {rows}"


def _thresholds(head, curve):
    kinds = curve.get("limit_kind", np.zeros(len(curve["batch_size"]), dtype=int))
    rows = ", ".join(f"M={m}: {a:.7g} / {b:.7g} (kind {k})" for m, a, b, k in zip(
        curve["batch_size"], curve["threshold_stability"], curve["threshold_integration"], kinds, strict=True))
    return f"{head}, max {curve['attrs']['quantity']} (stability / integration): {rows}"


def _alpha_curve(head, curve):
    n = len(curve["alpha"])
    eps = curve["eps_gen"][curve["converged"]]
    a = curve["alpha"]
    span = f", alpha {a.min():.4g}..{a.max():.4g}" if n else ""
    eps_range = f", eps_gen {eps.min():.4g}..{eps.max():.4g}" if eps.size else ""
    return f"{head}{span}{eps_range}"


def _decompose(head, curve):
    m, ratio = curve["batch_size"], curve["ratio_to_analytic"]
    span = f", M {m.min()}..{m.max()}, MC gap / analytic {ratio[0]:.3f} (M={m[0]}) .. {ratio[-1]:.3f}" if m.size else ""
    return head + span


SUMMARIES = {"trajectory": _trajectory, "eta_scan": _scan, "stationary": _stationary, "thresholds": _thresholds,
             "theory": _alpha_curve, "simulation": _alpha_curve, "decompose": _decompose}


def curve_kind(curve: dict) -> str:
    """The stored kind of a curve (decompose files of earlier versions store none)."""
    kind = curve["attrs"].get("kind", "decompose")
    return kind.decode() if isinstance(kind, bytes) else str(kind)


def summarize(path: str) -> list[str]:
    """Two lines per curve of any statmech_bn file: what it is (kind and parameters, converged count), and its
    kind's summary of the stored values."""
    lines = []
    for name, curve in read_curves(path).items():
        kind = curve_kind(curve)
        parameters = ", ".join(f"{k} {_text(v)}" for k, v in curve_parameters(curve["attrs"]).items())
        converged = f", {int(np.sum(curve['converged']))} converged" if "converged" in curve else ""
        if np.any(curve.get("diverged", False)):
            converged += f", {int(np.sum(curve['diverged']))} diverged (no finite saddle point)"
        lines.append(f"{name} [{kind}: {parameters}]{converged}")
        head = f"    {curve['attrs']['n_points']}/{curve['attrs']['n_planned']} points"
        lines.append(SUMMARIES.get(kind, lambda h, c: h)(head, curve))
    return lines or ["(no curves)"]


def _text(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def summary_json(path: str) -> dict:
    """A machine-readable summary: root provenance and, per curve, its kind, attributes and point counts."""
    from ..store import read_root_attributes

    root = read_root_attributes(path)
    curves = []
    for name, curve in read_curves(path).items():
        attrs = {k: _plain(v) for k, v in curve["attrs"].items() if not k.endswith("definition")}
        entry = {"name": name, "kind": curve_kind(curve), "parameters": curve_parameters(curve["attrs"]),
                 "points": int(curve["attrs"]["n_points"]), "planned": int(curve["attrs"]["n_planned"]),
                 "attributes": attrs}
        if "converged" in curve:
            entry["converged"] = int(np.sum(curve["converged"]))
        if "diverged" in curve:
            entry["diverged"] = int(np.sum(curve["diverged"]))
        curves.append(entry)
    return {"file": path, "format": root["format"], "format_version": int(root["format_version"]),
            "package_version": root["package_version"], "config_fingerprint": root.get("config_fingerprint"),
            "curves": curves}


def _plain(value):
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value
