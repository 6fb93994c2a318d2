"""The standard figure of each file kind (``python -m statmech_bn plot FILE``).

- sweep: eps_g(alpha), eps_t(alpha) and R(alpha); one line per theory curve, simulation points with +-SEM error
  bars, a theory curve and the simulation of the same model in one colour.
- decompose: the BN - PN gap against M on log-log axes, one panel per activation: the Monte-Carlo gap +- SEM beside
  zeta gamma^2 (dashed) and the full O(1/M) form (solid).
- dynamics: eps_g(t) and eta_eff(t) per trajectory (ODE lines, simulations with +-SEM), the learning-rate scans
  (time to the target error against eta) and the maximal learning rate against M.

Non-converged points are never drawn: they are left out, and the legend says how many. Every artist that shows data
carries a ``gid`` ("theory:<curve>", "simulation:<curve>", ...) so that tests can read a figure's content. Figures
are made without pyplot (no display needed); saving picks the format from the file name (png, pdf, svg).
"""

from __future__ import annotations

import os

import numpy as np

from ..errors import UserInputError
from ..extras import require
from ..records import DECOMPOSE, DYNAMICS, SWEEP
from ..records import curve_parameters as _parameters
from .load import curves

FORMATS = (".png", ".pdf", ".svg")
UNBOUNDED_CAP = 16.0
"""Maximal rates stored as inf (no limit up to eta_eff = 16 M, statmech_bn.dynamics.stability) are drawn there, as
upward triangles."""
SAME_MODEL_IGNORES = ("method", "N", "seeds", "T", "M", "quantity")
"""Parameters that do not make a curve another model: a theory curve and its simulation share a colour."""


def _model(curve: dict) -> dict:
    """The parameters that make a curve's model (how it is solved or sampled left out; M only where batch statistics
    make it part of the model)."""
    from ..model import NORMALIZERS

    params = _parameters(curve["attrs"])
    batch = params.get("normalizer") in NORMALIZERS and NORMALIZERS[params["normalizer"]].batch_statistics
    return {k: v for k, v in params.items() if k not in SAME_MODEL_IGNORES and (k != "M" or batch)}


def _labels(read: dict) -> dict[str, str]:
    """A legend label per curve: the model parameters that differ between the curves shown (else the normalizer),
    then how the curve was computed."""
    models = {name: _model(curve) for name, curve in read.items()}
    keys = list(dict.fromkeys(k for p in models.values() for k in p))
    varying = [k for k in keys if len({repr(p.get(k)) for p in models.values()}) > 1]
    out = {}
    for name, p in models.items():
        model = ", ".join(f"{k} {_text(p[k])}" for k in varying if k in p) or str(p.get("normalizer", name))
        how = _method_text(_parameters(read[name]["attrs"]))
        out[name] = f"{model} ({how})" if how else model
    return out


def _method_text(params: dict) -> str:
    parts = [str(params["method"])] if "method" in params else []
    parts += [f"{k} {_text(params[k])}" for k in ("T", "N") if k in params]
    return ", ".join(parts)


def _text(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _colours(read: dict) -> dict[str, str]:
    palette = [f"C{k}" for k in range(10)]
    models: dict[str, str] = {}
    out = {}
    for name, curve in read.items():
        out[name] = models.setdefault(repr(_model(curve)), palette[len(models) % len(palette)])
    return out


def _values(curve: dict, field: str) -> np.ndarray:
    return np.asarray(curve["fields"][field][1], dtype=float)


def _ok(curve: dict) -> np.ndarray:
    if "converged" in curve["fields"]:
        return np.asarray(curve["fields"]["converged"][1], dtype=bool)
    return np.ones(len(curve["fields"][curve["axis"]][1]), dtype=bool)


def _note_left_out(ax, count: int) -> None:
    if count:
        ax.plot([], [], " ", label=f"{count} non-converged point{'s' * (count != 1)} left out", gid="note")


def _figure(columns: int, rows: int = 1):
    matplotlib_figure = require("matplotlib.figure", "plot")
    figure = matplotlib_figure.Figure(figsize=(4.6 * columns, 3.8 * rows), layout="constrained")
    axes = np.atleast_2d(figure.subplots(rows, columns, squeeze=False))
    return figure, axes


def sweep_figure(read: dict, title: str):
    figure, axes = _figure(3)
    eps, train, overlap = axes[0]
    labels, colours = _labels(read), _colours(read)
    left_out = 0
    for name, curve in read.items():
        ok = _ok(curve)
        left_out += int(np.sum(~ok))
        alpha = _values(curve, "alpha")
        colour = colours[name]
        if curve["kind"] == "theory":
            for ax, field in ((eps, "eps_gen"), (train, "eps_train"), (overlap, "R")):
                y = np.where(ok, _values(curve, field), np.nan)
                ax.plot(alpha, y, "-", color=colour, label=labels[name], gid=f"theory:{name}")
        else:
            eps.errorbar(alpha[ok], _values(curve, "eps_gen")[ok], yerr=_values(curve, "eps_gen_sem")[ok], fmt="o",
                         ms=4, capsize=2, color=colour, label=labels[name], gid=f"simulation:{name}")
            for ax, field in ((train, "eps_train"), (overlap, "R")):
                ax.plot(alpha[ok], _values(curve, field)[ok], "o", ms=4, color=colour, gid=f"simulation:{name}")
    _note_left_out(eps, left_out)
    for ax, ylabel in ((eps, "generalization error ε_g"), (train, "training error ε_t"),
                       (overlap, "teacher-student overlap R")):
        ax.set_xlabel("load α = P/N")
        ax.set_ylabel(ylabel)
    handles, texts = eps.get_legend_handles_labels()
    figure.legend(handles, texts, loc="outside lower center", ncols=min(3, max(len(texts), 1)), fontsize=7)
    figure.suptitle(title)
    return figure


def decompose_figure(read: dict, title: str):
    activations = sorted({c["attrs"]["activation"] for c in read.values()})
    figure, axes = _figure(len(activations))
    labels, colours = _labels(read), _colours(read)
    for ax, activation in zip(axes[0], activations, strict=True):
        for name, curve in read.items():
            if curve["attrs"]["activation"] != activation:
                continue
            m = _values(curve, "batch_size")
            colour = colours[name]
            mc, sem = _values(curve, "mc_gap"), _values(curve, "mc_gap_sem")
            shown = mc > 0.0
            ax.errorbar(m[shown], mc[shown], yerr=np.minimum(sem[shown], 0.999 * mc[shown]), fmt="o", ms=4,
                        capsize=2, color=colour, label=labels[name], gid=f"monte_carlo:{name}")
            for field, style, kind in (("zeta_gamma2", "--", "zeta_gamma2"), ("analytic_gap", "-", "analytic")):
                y = _values(curve, field)
                ax.plot(m[y > 0.0], y[y > 0.0], style, color=colour, gid=f"{kind}:{name}")
        ax.plot([], [], "ko", ms=4, label="Monte Carlo ± SEM", gid="style")
        ax.plot([], [], "k--", label="ζγ²", gid="style")
        ax.plot([], [], "k-", label="ζγ² + first order (O(1/M))", gid="style")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("batch size M")
        ax.set_ylabel("BN − PN loss gap")
        ax.set_title(activation)
        ax.legend(fontsize=6)
    figure.suptitle(title)
    return figure


def dynamics_figure(read: dict, title: str):
    figure, axes = _figure(2, 2)
    (eps, eta_eff), (scan, limit) = axes
    trajectories = {n: c for n, c in read.items() if c["kind"] == "trajectory"}
    labels, colours = _labels(trajectories), _colours(trajectories)
    left_out = 0
    for name, curve in trajectories.items():
        ok = _ok(curve)
        left_out += int(np.sum(~ok))
        t = _values(curve, "t")
        shown = ok & (t > 0.0)
        colour = colours[name]
        if curve["attrs"].get("method") == "ode":
            for ax, field in ((eps, "eps_gen"), (eta_eff, "eta_eff")):
                ax.plot(t[shown], _values(curve, field)[shown], "-", color=colour, label=labels[name],
                        gid=f"ode:{name}")
        else:
            eps.errorbar(t[shown], _values(curve, "eps_gen")[shown], yerr=_values(curve, "eps_gen_sem")[shown],
                         fmt="o", ms=3, capsize=2, color=colour, label=labels[name], gid=f"simulation:{name}")
            eta_eff.plot(t[shown], _values(curve, "eta_eff")[shown], "o", ms=3, color=colour,
                         gid=f"simulation:{name}")
    _note_left_out(eps, left_out)
    for ax, ylabel in ((eps, "generalization error ε_g"), (eta_eff, "effective learning rate η_eff")):
        ax.set_xscale("log")
        ax.set_xlabel("time t = steps/N")
        ax.set_ylabel(ylabel)
    if trajectories:
        eps.legend(fontsize=6)
    scans = {n: c for n, c in read.items() if c["kind"] == "eta_scan"}
    scan_labels = _labels(scans)
    for name, curve in scans.items():
        reached = np.asarray(curve["fields"]["reached"][1], dtype=bool)
        scan.plot(_values(curve, "learning_rate")[reached], _values(curve, "t_target")[reached], "o-", ms=4,
                  label=scan_labels[name], gid=f"scan:{name}")
    scan.set_xscale("log")
    scan.set_yscale("log")
    scan.set_xlabel("learning rate η")
    scan.set_ylabel("time to the target error")
    if scans:
        scan.legend(fontsize=6)
    tables = {n: c for n, c in read.items() if c["kind"] == "thresholds"}
    table_labels = _labels(tables)
    missing = 0
    for name, curve in tables.items():
        m, value = _values(curve, "batch_size"), _values(curve, "threshold_stability")
        finite, unbounded = np.isfinite(value), np.isinf(value)
        missing += int(np.sum(np.isnan(value)))
        line, = limit.plot(m[finite], value[finite], "o-", ms=4, label=table_labels[name], gid=f"limit:{name}")
        if unbounded.any():
            limit.plot(m[unbounded], UNBOUNDED_CAP * m[unbounded], "^", ms=7, color=line.get_color(),
                       label=f"{table_labels[name]}: no limit below {UNBOUNDED_CAP:g} M", gid=f"unbounded:{name}")
    if missing:
        limit.plot([], [], " ", label=f"{missing} limit{'s' * (missing != 1)} not found, left out", gid="note")
    limit.set_xlabel("batch size M")
    limit.set_ylabel("maximal learning rate (η or η_eff)")
    if tables:
        limit.legend(fontsize=6)
    figure.suptitle(title)
    return figure


FIGURES = {SWEEP: sweep_figure, DECOMPOSE: decompose_figure, DYNAMICS: dynamics_figure}


def figure(path: str):
    """The standard figure of a file (a ``matplotlib.figure.Figure``); needs the ``analysis`` extra."""
    require("matplotlib", "plot")
    root, read = curves(path)
    return FIGURES[root["format"]](read, os.path.basename(path))


def output_name(path: str, output: str | None) -> str:
    """The figure's file: ``output`` (png, pdf or svg), or the data file's name with ``.png``."""
    target = output or os.path.splitext(path)[0] + ".png"
    if os.path.splitext(target)[1].lower() not in FORMATS:
        raise UserInputError(f"plot: {target!r} must end in one of {', '.join(FORMATS)}")
    folder = os.path.dirname(target) or "."
    if not os.path.isdir(folder):
        raise UserInputError(f"plot: folder {folder!r} of {target!r} does not exist")
    return target


def plot(path: str, output: str | None = None, dpi: int = 120) -> str:
    """Write the standard figure of ``path`` to ``output`` (see :func:`output_name`); return its name."""
    target = output_name(path, output)
    figure(path).savefig(target, dpi=dpi)
    return target

