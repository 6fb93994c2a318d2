"""Finite-N simulation of online SGD (analysis B of SCIENCE.md): full weight vectors, one fresh batch per step.

The SGD is that of :class:`.problem.DynamicsProblem` (kernel :func:`statmech_bn.kernels.online.online_steps`):
learning rate eta for w, eta/N for gamma and beta, weight decay as the factor (1 - eta lambda/N) per step, so that
R, L, gamma and beta move on the time t = steps/N and approach the ODEs of the N -> infinity limit with
fluctuations of order 1/sqrt(N).

Conventions:

- Teacher w* with i.i.d. N(0, 1) components rescaled to |w*|^2 = N; inputs with i.i.d. N(0, 1) components; labels
  y = g(u) + noise xi, u = w*.x/sqrt(N), xi ~ N(0, 1), g the student's activation.
- Initial student w = L0 sqrt(N) (R0 e* + sqrt(1 - R0^2) e_perp), e* = w*/|w*| and e_perp a random unit vector
  orthogonal to e* (so R = R0 and L = L0 exactly); gamma = gamma0 and beta = beta0 of the problem. ``none`` has no
  gamma: its gain is L, the recorded gamma is 1 and ``initial_gamma`` is ignored.
- Random numbers: ``numpy.random.Generator(PCG64(seed))`` draws the teacher, then e_perp; the label noise comes
  from an independent stream of the same seed (the PCG64 state jumped once, taken before any draw); the inputs,
  which are the cost of this simulation (M N per step), come from :class:`statmech_bn.rng.NormalRows` seeded by
  (seed, :data:`INPUT_STREAM_KEY`): xoshiro256++ streams and a compiled ziggurat, input row r from stream
  r mod 8, the streams filled on threads. Consecutive draws of a stream continue one another, so the trajectory of
  a seed depends neither on the chunk size, nor on the recording times, nor on the number of threads: a seed
  reproduces its run bit for bit, and recording at more times only adds points to the same trajectory.
- Inputs are drawn in chunks of at most ``chunk_steps`` steps and at most :data:`CHUNK_BYTES` bytes (a chunk that
  fits in cache is consumed by the kernel right after being drawn), split at the recording steps.
- Records at step round(t N) of every requested t (``t`` in the result is that step over N): R = w.w*/(|w||w*|)
  and gamma as they are (signed: the pair (gamma, w) and (-gamma, -w) is the same normalized student, but the
  trajectory of the SGD is recorded as it runs), L = |w|/sqrt(N), beta, and eps_g of the student deployed with
  population statistics (for ``bn`` the exact population mean 0 and std |w|/sqrt(N) of h, exact for Gaussian
  inputs), from :func:`statmech_bn.theory.problem.generalization_error` with gain |gamma| and the overlap of the
  sign with gamma >= 0 (normalized students) or gain L (``none``); label noise excluded.
- A diverged run (a non-finite batch objective, w, gamma or beta) stops; its remaining records are NaN.
"""

from __future__ import annotations

import math

import numpy as np

from ..kernels.online import online_steps
from ..model import ACTIVATIONS, NORMALIZERS
from ..rng import NormalRows
from ..theory.problem import Problem, generalization_error
from .problem import DynamicsProblem

CHUNK_BYTES = 1 << 23
"""Largest input chunk, in bytes (8 MB: fits a last-level cache, and drawing it takes ~1 ms, far more than a
kernel call costs)."""
MIN_SIZE = 10
INPUT_STREAM_KEY = 1
"""Second word of the seed of the input streams, (seed, INPUT_STREAM_KEY)."""
RECORD_KEYS = ("t", "R", "L", "gamma", "beta", "eps_gen")


def _check_finite(name: str, value: float) -> None:
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")


def validate(problem: DynamicsProblem, n: int, times, chunk_steps: int) -> np.ndarray:
    """The recording times as a float64 array, after checking the problem, N, the times and the chunk size."""
    if problem.activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {problem.activation!r}")
    if not problem.act.differentiable:
        raise ValueError(f"activation {problem.activation!r} has no useful gradient: no SGD")
    if problem.normalizer not in NORMALIZERS:
        raise ValueError(f"unknown normalizer {problem.normalizer!r}; expected one of {sorted(NORMALIZERS)}")
    m = problem.batch_size
    if int(m) != m or m < 1:
        raise ValueError(f"batch size must be a positive integer, got {m!r}")
    if m < problem.norm.min_batch:
        raise ValueError(f"{problem.normalizer} needs a batch size M >= {problem.norm.min_batch} (a single sample has "
                         f"no batch variance), got {m}")
    if int(n) != n or n < MIN_SIZE:
        raise ValueError(f"N must be an integer >= {MIN_SIZE}, got {n!r}")
    for name in ("learning_rate", "zeta", "weight_decay", "noise", "initial_overlap", "initial_norm",
                 "initial_gamma", "initial_beta"):
        _check_finite(name, getattr(problem, name))
    if problem.learning_rate <= 0.0:
        raise ValueError(f"learning rate must be > 0, got {problem.learning_rate}")
    if problem.noise < 0.0:
        raise ValueError(f"noise must be >= 0, got {problem.noise}")
    if problem.weight_decay < 0.0:
        raise ValueError(f"weight decay must be >= 0, got {problem.weight_decay}")
    if not -1.0 <= problem.initial_overlap <= 1.0:
        raise ValueError(f"initial overlap must lie in [-1, 1], got {problem.initial_overlap}")
    if problem.initial_norm <= 0.0:
        raise ValueError(f"initial norm must be > 0, got {problem.initial_norm}")
    if int(chunk_steps) != chunk_steps or chunk_steps < 1:
        raise ValueError(f"chunk_steps must be a positive integer, got {chunk_steps!r}")
    t = np.asarray(times, dtype=np.float64)
    if t.ndim != 1 or t.size == 0:
        raise ValueError("times must be a non-empty 1-D sequence")
    if not np.all(np.isfinite(t)) or np.any(t < 0.0):
        raise ValueError("times must be finite and >= 0")
    if np.any(np.diff(t) < 0.0):
        raise ValueError("times must be sorted in increasing order")
    return t


def initial_state(problem: DynamicsProblem, n: int, rng: np.random.Generator):
    """(teacher, w, [gamma, beta]) at t = 0, drawn from ``rng`` in that order (teacher, then e_perp)."""
    teacher = rng.standard_normal(n)
    teacher *= math.sqrt(n) / np.linalg.norm(teacher)
    e_star = teacher / math.sqrt(n)
    perp = rng.standard_normal(n)
    perp -= (perp @ e_star) * e_star
    perp /= np.linalg.norm(perp)
    r0 = problem.initial_overlap
    w = problem.initial_norm * math.sqrt(n) * (r0 * e_star + math.sqrt(1.0 - r0 * r0) * perp)
    gamma = problem.initial_gamma if problem.spherical else 1.0
    return teacher, w, np.array([gamma, problem.initial_beta])


def simulate_online(problem: DynamicsProblem, n: int, times: np.ndarray, seed: int, chunk_steps: int = 2048) -> dict:
    """One seed of online SGD at width N, recorded at the requested times (module docstring for conventions).

    Parameters
    ----------
    problem : DynamicsProblem
        Block, normalizer, learning rate, batch size M, zeta (pn_gd), weight decay, label noise, initial state.
    n : int
        Width N (>= 10).
    times : (K,) array_like
        Recording times t >= 0, sorted; t = 0 records the initial state. Step counts are round(t N).
    seed : int
        Seed of the PCG64 generator (teacher, initial student, label noise) and of the input streams.
    chunk_steps : int
        Most steps whose inputs are drawn at once (memory is also capped by :data:`CHUNK_BYTES`); the result does
        not depend on it.

    Returns
    -------
    dict
        float64 arrays of length K: ``t`` (steps/N), ``R``, ``L``, ``gamma``, ``beta``, ``eps_gen``; and
        ``steps`` (int64). After a divergence the records are NaN.
    """
    t_requested = validate(problem, n, times, chunk_steps)
    n = int(n)
    m = int(problem.batch_size)
    steps = np.rint(t_requested * n).astype(np.int64)
    kind = problem.norm.training
    theory = problem.deployed()
    rules = theory.rules()

    rng = np.random.Generator(np.random.PCG64(seed))
    noise_rng = np.random.Generator(rng.bit_generator.jumped())
    inputs = NormalRows([int(seed), INPUT_STREAM_KEY])
    teacher, w, scalars = initial_state(problem, n, rng)

    chunk = int(min(chunk_steps, max(1, CHUNK_BYTES // (8 * m * n)), max(1, int(steps[-1]))))
    x = np.empty((chunk * m, n))
    noise = np.empty(chunk * m)
    labels = np.empty(chunk * m)
    fields, deltas = np.empty(m), np.empty(m)

    records = empty_records(steps, n)
    done = 0
    for k, target in enumerate(steps):
        while done < target:
            count = int(min(chunk, target - done))
            rows = count * m
            inputs.fill(x[:rows])
            noise_rng.standard_normal(out=noise[:rows])
            noise[:rows] *= problem.noise
            objective = online_steps(problem.code, kind, x, noise, teacher, count, m, problem.learning_rate,
                                     problem.penalty, problem.weight_decay, w, scalars, labels, fields, deltas)
            done += count
            if not (math.isfinite(objective) and np.all(np.isfinite(scalars)) and np.all(np.isfinite(w))):
                return records
        _record(records, k, problem, theory, rules, w, teacher, scalars)
    return records


def _record(records: dict, k: int, problem: DynamicsProblem, theory: Problem, rules, w: np.ndarray,
            teacher: np.ndarray, scalars: np.ndarray) -> None:
    """Fill record k from the state; a state whose norm overflows or vanishes leaves it NaN."""
    n = w.shape[0]
    with np.errstate(over="ignore", invalid="ignore"):
        norm_square = float(w @ w)
        projection = float(w @ teacher)
    if not (math.isfinite(norm_square) and norm_square > 0.0 and math.isfinite(projection)):
        return
    norm = math.sqrt(norm_square / n)
    record_state(records, k, problem, theory, rules, projection / (norm * n), norm, float(scalars[0]),
                 float(scalars[1]))


def empty_records(steps: np.ndarray, n: int) -> dict:
    """NaN records at the recording steps, with their times t = steps/N (filled as the run reaches them)."""
    records = {key: np.full(steps.size, math.nan) for key in RECORD_KEYS}
    records["t"] = steps / n
    records["steps"] = steps
    return records


def record_state(records: dict, k: int, problem: DynamicsProblem, theory: Problem, rules, overlap: float,
                 norm: float, gamma: float, beta: float) -> None:
    """Fill record k from the order parameters (eps_g with the sign convention of the module docstring)."""
    if problem.spherical:
        sign = -1.0 if gamma < 0.0 else 1.0
        eps = generalization_error(theory, rules, sign * overlap, sign * gamma, beta)
    else:
        eps = generalization_error(theory, rules, overlap, norm, beta)
    records["R"][k], records["L"][k], records["gamma"][k], records["beta"][k] = overlap, norm, gamma, beta
    records["eps_gen"][k] = eps
