"""The ``decompose`` driver: analytic zeta(M) gamma^2 against the exact Monte-Carlo BN-PN gap, over M.

For every curve of the grid and every batch size M, one point: the analytic terms of
:mod:`statmech_bn.theory.decomposition` and a Monte-Carlo estimate over ``samples // M`` batches (at least
100) with its standard error. Each point's seed is derived from the config's seed, the curve index and
M (``numpy.random.SeedSequence``) and stored with the point, so any point can be reproduced alone.
"""

from __future__ import annotations

import numpy as np
from tqdm import tqdm

from .config import DecomposeConfig
from .store import SweepStore
from .theory.decomposition import expansion, monte_carlo_gap

MIN_BATCHES = 100


def point_seed(seed: int, curve_index: int, batch_size: int) -> int:
    return int(np.random.SeedSequence([seed, curve_index, batch_size]).generate_state(1)[0])


def decompose_point(curve, batch_size: int, samples: int, seed: int) -> dict:
    exp = expansion(curve.activation, curve.input, curve.overlap, curve.gamma, curve.beta, batch_size)
    n_batches = max(samples // batch_size, MIN_BATCHES)
    mc, sem = monte_carlo_gap(curve.activation, curve.input, curve.overlap, curve.gamma, curve.beta, curve.noise,
                              batch_size, n_batches, seed)
    zg2 = exp.zeta * curve.gamma**2
    analytic = exp.gap(curve.gamma)
    return {"batch_size": batch_size, "zeta": exp.zeta, "zeta_gamma2": zg2, "first_order": exp.first_order,
            "analytic_gap": analytic, "mc_gap": mc, "mc_gap_sem": sem,
            "ratio_to_analytic": mc / analytic if analytic != 0.0 else float("nan"),
            "ratio_to_zeta_gamma2": mc / zg2 if zg2 != 0.0 else float("nan"),
            "n_batches": n_batches, "seed": seed}


def run_decompose(config: DecomposeConfig, store: SweepStore, progress: bool = True) -> None:
    sizes = config.batch_sizes
    todo = []
    done = 0
    for index, curve in enumerate(config.curves):
        n, _ = store.prepare_curve(curve.name, curve.attributes(), len(sizes))
        done += n
        todo.extend((index, curve, m) for m in sizes[n:])
    with tqdm(total=len(sizes) * len(config.curves), initial=done, unit="pt", desc="decompose",
              disable=not progress, dynamic_ncols=True) as bar:
        for index, curve, m in todo:
            record = decompose_point(curve, m, config.samples, point_seed(config.seed, index, m))
            store.append(curve.name, record)
            bar.update(1)
