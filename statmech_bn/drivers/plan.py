"""The plan a command prints before it computes: its curves, what tells them apart, its points and its cost."""

from __future__ import annotations

import math
import os

from ..store import existing_file_problem, read_curves
from .loop import CurvePlan


def differing(plans: list[CurvePlan]) -> tuple[dict, list[str]]:
    """(parameters shared by every curve with one value, names of the parameters that differ or are not shared)."""
    names = list(dict.fromkeys(k for plan in plans for k in plan.parameters))
    shared, varying = {}, []
    for name in names:
        values = {repr(plan.parameters.get(name, None)) for plan in plans}
        if len(values) == 1 and name in plans[0].parameters:
            shared[name] = plans[0].parameters[name]
        else:
            varying.append(name)
    return shared, varying


def estimate(plans: list[CurvePlan], workers: int, stored: dict[str, int]) -> tuple[float, float]:
    """(CPU seconds, wall seconds on ``workers``) of the points still to compute."""
    tasks = []
    for plan in plans:
        left = plan.planned - stored.get(plan.name, 0)
        if left <= 0:
            continue
        tasks += [left * plan.point_cost] if plan.sequential else [plan.point_cost] * left
    cpu = sum(tasks)
    return cpu, max(cpu / max(min(workers, len(tasks)), 1), max(tasks, default=0.0))


def stored_points(path: str, format_name: str, fingerprint: str, force: bool) -> tuple[str, dict[str, int]]:
    """What the output holds already: (a note, points per curve when it is resumed). An output that cannot be
    resumed nor replaced is refused here, before the plan is printed."""
    if not os.path.exists(path):
        return "new file", {}
    replaced = existing_file_problem(path, format_name, fingerprint, force)
    if replaced:
        return f"exists; --force: replaced ({replaced.removeprefix('store: ')})", {}
    curves = read_curves(path)
    points = {name: int(c["attrs"]["n_points"]) for name, c in curves.items()}
    return f"exists: {sum(points.values())} points stored, resumed", points


def _value(v) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    return "-" if v is None else str(v)


def _duration(seconds: float) -> str:
    if seconds < 1.0:
        return "< 1 s"
    if seconds < 120:
        return f"{math.ceil(seconds)} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def plan_lines(command: str, plans: list[CurvePlan], output: str, workers: int, base: str, note: str,
               stored: dict[str, int]) -> list[str]:
    total = sum(p.planned for p in plans)
    left = sum(p.planned - stored.get(p.name, 0) for p in plans)
    lines = [f"{command}: {len(plans)} curve{'s' * (len(plans) != 1)}, {total} points -> {output} ({note})",
             f"  config: {base}"]
    shared, varying = differing(plans)
    if shared:
        lines.append("  shared: " + ", ".join(f"{k} {_value(v)}" for k, v in shared.items()))
    header = ["curve", *varying, "points", "est. CPU"]
    rows = [[plan.name, *(_value(plan.parameters.get(k)) for k in varying),
             f"{plan.planned - stored.get(plan.name, 0)}/{plan.planned}",
             _duration((plan.planned - stored.get(plan.name, 0)) * plan.point_cost)] for plan in plans]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        lines.append("  " + "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    cpu, wall = estimate(plans, workers, stored)
    where = f"on {workers} worker{'s' * (workers != 1)}"
    lines.append(f"  to compute: {left} points; estimated {_duration(cpu)} of CPU, {_duration(wall)} {where} (rough)")
    return lines


def plan_json(command: str, plans: list[CurvePlan], output: str, workers: int, base: str, note: str,
              stored: dict[str, int], fingerprint: str) -> dict:
    cpu, wall = estimate(plans, workers, stored)
    return {"command": command, "output": output, "output_state": note, "config_base": base,
            "config_fingerprint": fingerprint, "workers": workers,
            "estimated_cpu_seconds": cpu, "estimated_wall_seconds": wall,
            "curves": [{"name": p.name, "kind": p.kind, "parameters": p.parameters, "planned": p.planned,
                        "stored": stored.get(p.name, 0), "estimated_seconds": (p.planned - stored.get(p.name, 0))
                        * p.point_cost} for p in plans]}
