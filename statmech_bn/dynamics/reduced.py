"""Exact reduced simulation of online SGD: the finite-N law of (R, L, gamma, beta) at a cost independent of N.

Isotropic Gaussian inputs enter the SGD of the block only through each batch's fields along the teacher and
along the student and through the Gram matrix of the rest (:func:`statmech_bn.kernels.online.reduced_steps`),
so drawing 2M normals, M chi-square variables and M(M-1)/2 normals per step (Bartlett's decomposition of a
Wishart(N - 2) matrix) reproduces the full simulation of :mod:`.simulation` in distribution, not approximately.
Same conventions, output and validation as :func:`.simulation.simulate_online`; the random numbers are drawn
from ``numpy.random.Generator(PCG64(seed))`` chunk by chunk (u, v, noise, chi, lower normals), so a seed
reproduces its run but is not the same sample path as the full simulation's.
"""

from __future__ import annotations

import math

import numpy as np

from ..kernels.online import reduced_steps
from .problem import DynamicsProblem
from .simulation import empty_records, record_state, validate

CHUNK_STEPS = 4096


def simulate_reduced(problem: DynamicsProblem, n: int, times: np.ndarray, seed: int,
                     chunk_steps: int = CHUNK_STEPS) -> dict:
    """One seed of the reduced simulation; returns the dict of :func:`.simulation.simulate_online`."""
    t_requested = validate(problem, n, times, chunk_steps)
    n = int(n)
    m = int(problem.batch_size)
    if n - 2 < m:
        raise ValueError(f"the reduced simulation needs N - 2 >= M (got N = {n}, M = {m})")
    steps = np.rint(t_requested * n).astype(np.int64)
    theory = problem.deployed()
    rules = theory.rules()
    rng = np.random.Generator(np.random.PCG64(seed))
    state = np.array([problem.initial_overlap * problem.initial_norm, problem.initial_norm**2,
                      problem.initial_gamma if problem.spherical else 1.0, problem.initial_beta])
    dof = n - 2 - np.arange(m)
    fields, labels, deltas = np.empty(m), np.empty(m), np.empty(m)
    rows, lower = np.arange(m, dtype=np.int64), np.zeros((m, m))
    records = empty_records(steps, n)
    done = 0
    for k, target in enumerate(steps):
        while done < target:
            count = int(min(chunk_steps, target - done))
            u = rng.standard_normal((count, m))
            v = rng.standard_normal((count, m))
            noise = problem.noise * rng.standard_normal((count, m))
            chi = np.sqrt(rng.chisquare(dof, size=(count, m)))
            below = rng.standard_normal((count, m, m))
            objective = reduced_steps(problem.code, problem.norm.training, state, n, u, v, noise, chi, below,
                                      problem.learning_rate, problem.penalty, problem.weight_decay, fields, labels,
                                      rows, deltas, lower)
            done += count
            if not (math.isfinite(objective) and np.all(np.isfinite(state)) and state[1] > 0.0):
                return records
        norm = math.sqrt(state[1])
        record_state(records, k, problem, theory, rules, state[0] / norm, norm, float(state[2]), float(state[3]))
    return records
