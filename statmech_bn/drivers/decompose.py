"""The ``decompose`` driver: analytic zeta(M) gamma^2 against the exact Monte-Carlo BN-PN gap, over M.

For every curve of the grid and every batch size M, one point (one task): the analytic terms of
:mod:`statmech_bn.theory.decomposition` and a Monte-Carlo estimate over ``samples // M`` batches (at least
100) with its standard error. Each point's seed derives from the config's seed, the curve's physics and M
(:mod:`statmech_bn.seeds`) and is stored with the point, so any point can be reproduced alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config.decompose import DecomposeConfig, DecomposeCurve
from ..model import GAP_STREAMS
from ..records import DECOMPOSE_SCHEMA
from ..seeds import derive_seed
from ..theory.decomposition import expansion, monte_carlo_gap
from . import costs
from .loop import CurvePlan

MC_GENERATOR = (f"xoshiro256++, {GAP_STREAMS} streams from numpy.random.SeedSequence(seed), batch b from stream "
                f"b mod {GAP_STREAMS}; normals by the 256-layer ziggurat, Laplace inputs by inversion")
"""How the Monte-Carlo gap draws its numbers (stored on each curve: a file from another generator is not resumed)."""


def point_seed(master: int, curve: DecomposeCurve, batch_size: int) -> int:
    """The seed of one point: a function of the master seed, the curve's physics and M only."""
    return derive_seed(master, curve.key, int(batch_size))


def decompose_point(curve: DecomposeCurve, batch_size: int, n_batches: int, seed: int) -> dict:
    exp = expansion(curve.activation, curve.input, curve.overlap, curve.gamma, curve.beta, batch_size)
    mc, sem = monte_carlo_gap(curve.activation, curve.input, curve.overlap, curve.gamma, curve.beta, curve.noise,
                              batch_size, n_batches, seed)
    zg2 = exp.zeta * curve.gamma**2
    analytic = exp.gap(curve.gamma)
    return {"batch_size": batch_size, "zeta": exp.zeta, "zeta_gamma2": zg2, "first_order": exp.first_order,
            "analytic_gap": analytic, "mc_gap": mc, "mc_gap_sem": sem,
            "ratio_to_analytic": mc / analytic if analytic != 0.0 else float("nan"),
            "ratio_to_zeta_gamma2": mc / zg2 if zg2 != 0.0 else float("nan"),
            "n_batches": n_batches, "seed": seed}


@dataclass(frozen=True)
class DecomposePointTask:
    curve: DecomposeCurve
    index: int
    batch_size: int
    n_batches: int
    seed: int

    def run(self, emit) -> None:
        emit(self.curve.name, self.index, decompose_point(self.curve, self.batch_size, self.n_batches, self.seed))


def plans(config: DecomposeConfig) -> list[CurvePlan]:
    sizes = config.batch_sizes
    out = []
    for curve in config.curves:
        def tasks(start, last, curve=curve):
            return [DecomposePointTask(curve, i, m, config.batches(m), point_seed(config.seed, curve, m))
                    for i, m in enumerate(sizes) if i >= start]

        cost = sum(costs.decompose_point(config.batches(m), m) for m in sizes) / len(sizes)
        parameters = {"activation": curve.activation, "input": curve.input, "R": curve.overlap,
                      "gamma": curve.gamma, "beta": curve.beta, "noise": curve.noise}
        out.append(CurvePlan(curve.name, "decompose", parameters,
                             {"kind": "decompose", **curve.attributes(), "mc_generator": MC_GENERATOR},
                             DECOMPOSE_SCHEMA, len(sizes), tasks, cost, sequential=False))
    return out


__all__ = ["DecomposePointTask", "decompose_point", "plans", "point_seed"]
