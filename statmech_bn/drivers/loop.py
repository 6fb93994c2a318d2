"""The one loop that runs any command's curves into the store.

A driver turns its config into :class:`CurvePlan` records: a curve's name, its stored attributes and schema, the
number of points planned, an estimated cost per point, and a function that makes the tasks computing the points
not yet stored. :func:`run_plans` prepares every curve in the store (creating it or reading how far it got), hands
the tasks to an executor (:mod:`statmech_bn.executors`) and appends each record as soon as every earlier point of
its curve is stored, under the progress bar. Tasks may finish in any order; points are stored in order.

A point may be computed in parts by several tasks (the two continuation branches of a theory curve, the seeds of a
simulation): a task emits ``(curve, index, payload, part)``, and once every part of a point has arrived the plan's
``merge`` turns them into the point's record, in the parent, so the record is the same whichever worker or executor
computed which part.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tqdm import tqdm

from ..executors import make_executor
from ..records import Schema
from ..signals import critical


@dataclass(frozen=True)
class CurvePlan:
    """One curve of a run.

    ``parameters`` are its physical parameters as shown in the plan (the ones that differ between the curves of a
    run tell them apart); ``attributes`` what the store writes on the curve. ``tasks(start, last)`` returns the
    picklable tasks that compute points ``start`` to ``planned - 1``, given the last stored converged record
    (``None`` if none). ``point_cost`` is the estimated CPU time of one point, in seconds.
    """

    name: str
    kind: str
    parameters: dict
    attributes: dict
    schema: Schema
    planned: int
    tasks: Callable[[int, dict | None], list]
    point_cost: float
    n_seeds: int = 0
    parts: int = 1
    """Tasks' payloads that make one point (1: the payload is the record)."""
    merge: Callable[[int, list], dict] | None = None
    """(index, payloads ordered by part) -> the point's record, when ``parts`` > 1."""
    descriptions: dict = field(default_factory=dict)
    """What some fields mean for this curve (replacing the schema's descriptions: e.g. its method's free energy)."""
    sequential: bool = True
    """Whether the curve's points are computed by one task in sequence (continuation) or each by its own task."""


class Progress:
    """A progress bar in points whose ETA comes from the work done since the first point finished.

    The first point's time includes process start-up and compilation, so it does not enter the rate; after it,
    the rate is the estimated cost of the points finished over the time they took, and the ETA is the estimated
    cost still to do over that rate (hidden until two points have finished).
    """

    def __init__(self, total: int, done: int, remaining_cost: float, desc: str, enabled: bool,
                 clock=time.monotonic):
        self.bar = tqdm(total=total, initial=done, desc=desc, unit="pt", disable=not enabled, dynamic_ncols=True,
                        mininterval=0.5, smoothing=0.0,
                        bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]")
        self.enabled = enabled
        self.clock = clock
        self.remaining = remaining_cost
        self.start: float | None = None
        self.measured = 0.0
        if enabled:
            self.bar.set_postfix_str(", eta ?", refresh=False)

    def eta(self) -> float | None:
        """Seconds still to go: the cost left over the rate measured since the first point (None before)."""
        if self.start is None or self.measured <= 0.0:
            return None
        elapsed = self.clock() - self.start
        return self.remaining * elapsed / self.measured if elapsed > 0.0 else None

    def advance(self, cost: float) -> None:
        self.remaining = max(self.remaining - cost, 0.0)
        if self.start is None:
            self.start = self.clock()
        else:
            self.measured += cost
        eta = self.eta()
        if self.enabled and eta is not None:
            self.bar.set_postfix_str(f", eta {tqdm.format_interval(math.ceil(eta))}", refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


def run_plans(plans: list[CurvePlan], store, workers: int, progress: bool, desc: str, executor: str = "local",
              scheduler: str | None = None) -> dict[str, int]:
    """Compute every point of ``plans`` not yet in ``store``; return the points written per curve."""
    by_name = {plan.name: plan for plan in plans}
    next_index: dict[str, int] = {}
    buffers: dict[str, dict[int, dict]] = {}
    partial: dict[str, dict[int, dict[int, object]]] = {plan.name: {} for plan in plans}
    tasks = []
    done = remaining_cost = 0.0
    for plan in plans:
        stored, last = store.prepare_curve(plan.name, plan.attributes, plan.planned, plan.schema, plan.n_seeds,
                                           plan.descriptions)
        next_index[plan.name], buffers[plan.name] = stored, {}
        done += stored
        remaining_cost += (plan.planned - stored) * plan.point_cost
        if stored < plan.planned:
            tasks.extend(plan.tasks(stored, last))
    written = {plan.name: 0 for plan in plans}
    bar = Progress(sum(p.planned for p in plans), int(done), remaining_cost, desc, progress)

    def emit(name: str, index: int, payload, part: int = 0) -> None:
        plan = by_name[name]
        if plan.parts > 1:
            parts = partial[name].setdefault(index, {})
            parts[part] = payload
            if len(parts) < plan.parts:
                return
            del partial[name][index]
            record = plan.merge(index, [parts[k] for k in range(plan.parts)])
        else:
            record = payload
        buffer = buffers[name]
        buffer[index] = record
        while next_index[name] in buffer:
            with critical():
                store.append(name, buffer.pop(next_index[name]))
            next_index[name] += 1
            written[name] += 1
            bar.advance(by_name[name].point_cost)

    try:
        make_executor(workers, len(tasks), executor, scheduler).run(tasks, emit)
    finally:
        bar.close()
    return written
