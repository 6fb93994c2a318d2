"""``decompose``: BN = PN + gamma decay, the analytic zeta(M) gamma^2 against the exact Monte-Carlo gap over M.

A grid of PN states (activation, input law, R, gamma, beta, noise), each swept over the batch sizes. Without a
config file and without any ``[model]`` or ``[batch]`` key the embedded showcase
(``statmech_bn/default_decompose.toml``) runs; otherwise every key not given takes its default in :data:`SCHEMA`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import ClassVar

from ..errors import UserInputError
from ..model import DIFFERENTIABLE, GAP_STREAMS, INPUT_LAWS
from . import common
from .common import PhysicsKeyed, RunConfig, check_limit
from .schema import Key, Schema, get, merge_overrides

MIN_BATCHES = 100
"""Fewest Monte-Carlo batches of a point: ``samples // M`` is raised to it for large M."""

SCHEMA = Schema(
    "decompose",
    "BN = PN + gamma decay: the analytic zeta(M) gamma^2 and the full O(1/M) gap against the exact Monte-Carlo "
    "gap of the expected loss with batch statistics over the loss with population statistics",
    {
        "": "the output file",
        "run": common.RUN_SECTION,
        "model": "the grid of PN states: every combination of the lists below is one curve over the batch sizes",
        "batch": "the batch sizes and the Monte Carlo over batches",
        "limits": common.LIMITS_SECTION,
    },
    [
        common.output_key("statmech_bn_decompose.h5"),
        common.workers_key(),
        *common.executor_keys(),
        Key("model.activation", str, ["relu"], "activation g of teacher and student", many=True,
            choices=DIFFERENTIABLE, flag="--activation"),
        Key("model.input", str, ["gaussian"], "law of the normalized pre-activation z: gaussian (kurtosis 3) or "
            "laplace (kurtosis 6)", many=True, choices=tuple(INPUT_LAWS), flag="--input"),
        Key("model.overlap", float, [0.8], "teacher-student overlap R of the PN state", many=True, low=-1.0,
            high=1.0, flag="--overlap"),
        Key("model.gamma", float, [1.0], "gain gamma of the PN state", many=True, low=0.0, low_open=True,
            flag="--gamma"),
        Key("model.beta", float, [0.0], "shift beta of the PN state", many=True, flag="--beta"),
        Key("model.noise", float, [0.0], "teacher label-noise standard deviation (it cancels in the gap's mean)",
            many=True, low=0.0, flag="--noise"),
        Key("batch.sizes", int, [2, 4, 8, 16, 32, 64, 128, 256, 512, 1024], "batch sizes M", many=True, low=2,
            flag="--batch-sizes"),
        Key("batch.samples", int, 2_000_000, f"samples per point: batches = samples // M, at least {MIN_BATCHES}",
            low=1, flag="--samples"),
        Key("batch.seed", int, 20190101, "master seed; each point's seed derives from it, the curve's physics and "
            "M, and is stored", low=0, high=2**63 - 1, flag="--seed"),
        *common.limit_keys("max_curves", "max_points", "max_samples", "max_memory_gb"),
    ],
    showcase="default_decompose.toml",
    model_sections=("model", "batch"),
)


@dataclass(frozen=True)
class DecomposeCurve(PhysicsKeyed):
    """One (activation, input law, R, gamma, beta, noise) setting, swept over the batch sizes (``key``: each
    point's seed derives from it and M)."""

    name: str
    activation: str
    input: str
    overlap: float
    gamma: float
    beta: float
    noise: float

    def attributes(self) -> dict:
        return {"activation": self.activation, "input": self.input, "kurtosis": INPUT_LAWS[self.input][1],
                "overlap": self.overlap, "gamma": self.gamma, "beta": self.beta, "noise": self.noise,
                "loss": "squared"}


@dataclass(frozen=True)
class DecomposeConfig(RunConfig):
    schema: ClassVar[Schema] = SCHEMA
    batch_sizes: tuple[int, ...] = ()
    samples: int = 0
    seed: int = 0
    curves: tuple[DecomposeCurve, ...] = ()

    def batches(self, batch_size: int) -> int:
        return max(self.samples // batch_size, MIN_BATCHES)


def build_decompose_config(raw: dict, overrides: dict | None = None) -> DecomposeConfig:
    """Validate a ``decompose`` config: a grid of model settings, each swept over the batch sizes."""
    resolved = SCHEMA.resolve(merge_overrides(raw, overrides or {}))
    common.check_output(resolved["output"])
    model = resolved["model"]
    axes = [list(dict.fromkeys(model[k])) for k in ("activation", "input", "overlap", "gamma", "beta", "noise")]
    count = 1
    for axis in axes:
        count *= len(axis)
    check_limit("the number of curves", count, resolved, "max_curves")
    sizes = tuple(sorted(set(get(resolved, "batch.sizes"))))
    check_limit("the number of points (curves x batch sizes)", count * len(sizes), resolved, "max_points")
    samples = get(resolved, "batch.samples")
    drawn = count * sum(max(samples // m, MIN_BATCHES) * m for m in sizes)
    check_limit("the number of Monte-Carlo samples (curves x batch sizes x batches x M)", drawn, resolved,
                "max_samples")
    workers = common.resolve_workers(get(resolved, "run.workers"))
    memory = min(workers, count * len(sizes)) * GAP_STREAMS * 3 * 8.0 * max(sizes) / 1e9
    check_limit(f"the estimated memory of the Monte-Carlo scratch batches at M = {max(sizes)}", memory, resolved,
                "max_memory_gb", " GB")
    settings = list(itertools.product(*axes))
    names = common.distinguishing_names([f"{i:03d}-{a}-{law}" for i, (a, law, *_) in enumerate(settings)],
                                        [{"R": r, "gamma": g, "beta": b, "noise": n} for _, _, r, g, b, n in settings],
                                        ("R", "gamma", "beta", "noise"))
    curves = tuple(DecomposeCurve(name, *setting) for name, setting in zip(names, settings, strict=True))
    if not curves:
        raise UserInputError("config: the decompose grid is empty")
    return DecomposeConfig(resolved, resolved["output"], workers, sizes, samples, get(resolved, "batch.seed"),
                           curves)
