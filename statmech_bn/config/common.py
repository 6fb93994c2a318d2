"""What every command's config shares: the output file, the worker count, the resource limits.

None of these keys changes a number in the output (they are left out of the fingerprint). The limits are
checked before anything is allocated or created (:func:`check_limit`): a run whose estimate exceeds one is
refused with one line that states the estimate, the limit and the key that raises it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import ClassVar

from ..errors import UserInputError
from ..seeds import physics_key
from .schema import Key, Schema

RUN_SECTION = "where the results go and how many processes compute them (no effect on any number)"
LIMITS_SECTION = "resource limits checked before anything is allocated or written (no effect on any number)"


@dataclass(frozen=True)
class RunConfig:
    """What every command's validated config holds: the resolved table (provenance), the output and the workers."""

    schema: ClassVar[Schema]
    resolved: dict
    output: str
    workers: int

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the resolved settings that determine the numbers (run-only keys excluded)."""
        return self.schema.fingerprint(self.resolved)

    @property
    def executor(self) -> str:
        return self.resolved.get("run", {}).get("executor", "local")

    @property
    def scheduler(self) -> str | None:
        return self.resolved.get("run", {}).get("scheduler")


class PhysicsKeyed:
    """Mixin of a curve record with ``attributes()``: ``key`` is its physics as canonical text (seeds derive from
    it, :mod:`statmech_bn.seeds`)."""

    def attributes(self) -> dict:  # pragma: no cover (every record defines it)
        raise NotImplementedError

    @property
    def key(self) -> str:
        return physics_key(**self.attributes())


def distinguishing_names(bases: list[str], parameters: list[dict], order: tuple[str, ...]) -> list[str]:
    """Curve names that say what tells the curves of a file apart: each base name followed by ``-<key><value>``
    for every key of ``order`` whose values differ between the curves it acts on (a key a curve lacks does not act
    on it)."""
    varying = [key for key in order if len({repr(p[key]) for p in parameters if key in p}) > 1]
    return [base + "".join(f"-{key}{_short(p[key])}" for key in varying if key in p)
            for base, p in zip(bases, parameters, strict=True)]


def _short(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def output_key(default: str) -> Key:
    return Key("output", str, default, "HDF5 file written, or resumed when it holds finished points", flag="--output",
               physics=False)


def workers_key() -> Key:
    return Key("run.workers", int, 0, "worker processes (local, or of the Dask LocalCluster); 0: one per CPU this "
               "process may run on", low=0, high=1024, flag="--workers", physics=False)


def executor_keys() -> list[Key]:
    return [Key("run.executor", str, "local", "who computes the tasks: local worker processes, or a Dask cluster "
                "(needs the extra: pip install 'statmech_bn[dask]')", choices=("local", "dask"), flag="--executor",
                physics=False),
            Key("run.scheduler", str, None, "address of a running Dask scheduler (tcp://host:port); without it "
                "--executor dask starts a LocalCluster of run.workers processes", flag="--scheduler", physics=False,
                optional=True)]


def limit_keys(*names: str) -> list[Key]:
    """The resource limits a command uses, from :data:`LIMITS`."""
    return [LIMITS[name] for name in names]


LIMITS = {
    "max_curves": Key("limits.max_curves", int, 1000, "largest number of curves a grid may expand to", low=1,
                      physics=False),
    "max_points": Key("limits.max_points", int, 100_000,
                      "largest number of planned points, summed over the curves (loads, times, batch sizes, rates)",
                      low=1, physics=False),
    "max_memory_gb": Key("limits.max_memory_gb", float, 8.0,
                         "largest estimated memory of the tasks running at once", unit="GB", low=0.0, low_open=True,
                         physics=False),
    "max_steps": Key("limits.max_steps", int, 10_000_000_000,
                     "largest number of simulated SGD steps (t_max N per seed), summed over the simulated curves",
                     low=1, physics=False),
    "max_time": Key("limits.max_time", float, 100_000.0, "largest time t = steps/N an ODE is integrated to",
                    low=0.0, low_open=True, physics=False),
    "max_samples": Key("limits.max_samples", int, 100_000_000_000,
                       "largest number of Monte-Carlo samples (batch sizes x batches), summed over the points",
                       low=1, physics=False),
}


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the system has one)."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # pragma: no cover (no affinity on this platform)
        return os.cpu_count() or 1


def resolve_workers(requested: int) -> int:
    return requested if requested > 0 else available_cpus()


def check_limit(what: str, estimate: float, resolved: dict, name: str, unit: str = "") -> None:
    """Refuse (one line) when ``estimate`` exceeds ``limits.<name>``."""
    limit = resolved["limits"][name]
    if estimate > limit:
        raise UserInputError(f"limits: {what} is {_fmt(estimate)}{unit}, above limits.{name} = {_fmt(limit)}{unit} "
                             f"(reduce the run, or raise it with --set limits.{name}=...)")


def _fmt(x: float) -> str:
    if isinstance(x, int) or float(x).is_integer():
        return f"{int(x):,}".replace(",", "_") if abs(x) < 1e15 else f"{x:.3g}"
    return f"{x:.3g}"


def check_output(path: str) -> None:
    """The output must be a file name whose folder exists (checked before any file is created)."""
    if path.endswith(os.sep) or os.path.isdir(path):
        raise UserInputError(f"config: output {path!r} is a folder, not a file name")
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        raise UserInputError(f"config: output {path!r}: folder {folder!r} does not exist")
    if not os.access(folder, os.W_OK):
        raise UserInputError(f"config: output {path!r}: folder {folder!r} is not writable")
