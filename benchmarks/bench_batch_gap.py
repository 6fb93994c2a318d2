"""Benchmark: the Monte-Carlo BN-PN gap (a Numba kernel that draws its own normals, xoshiro256++ and the ziggurat)
against a vectorised NumPy implementation of the same estimator, and against the cost of drawing its random numbers
alone: the package's compiled streams (the same 2 normals per sample, noise-free, or 3 with label noise, written to
memory) and NumPy's Generator. Label noise 0.2 unless --noise says otherwise; all on the threads Numba has.

    python benchmarks/bench_batch_gap.py [--activation erf|relu|linear] [--batch-size 32] [--samples 4000000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.special import erf
from timing import best_of

from statmech_bn.rng import NormalRows
from statmech_bn.theory.decomposition import monte_carlo_gap

ACTIVATIONS = {"erf": lambda x: erf(x / np.sqrt(2)), "relu": lambda x: np.maximum(x, 0.0), "linear": lambda x: x}


def numpy_gap(activation, batch_size, n_batches, seed, overlap=0.8, gamma=1.0, beta=0.1, noise=0.2):
    """The same estimator (Gaussian inputs) vectorised over batches with NumPy."""
    g = ACTIVATIONS[activation]
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n_batches, batch_size))
    u = overlap * z + np.sqrt(1 - overlap**2) * rng.standard_normal(z.shape)
    y = g(u) + noise * rng.standard_normal(z.shape)
    mean = z.mean(axis=1, keepdims=True)
    std = z.std(axis=1, keepdims=True)
    bn = y - g(gamma * (z - mean) / std + beta)
    pn = y - g(gamma * z + beta)
    gaps = 0.5 * (bn**2 - pn**2).mean(axis=1)
    return gaps.mean(), gaps.std(ddof=1) / np.sqrt(n_batches)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--activation", choices=sorted(ACTIVATIONS), default="erf")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--samples", type=int, default=4_000_000)
    parser.add_argument("--noise", type=float, default=0.2)
    args = parser.parse_args()
    act, m, n_batches, noise = args.activation, args.batch_size, args.samples // args.batch_size, args.noise
    n = m * n_batches
    per_sample = 3 if noise > 0.0 else 2

    start = time.perf_counter()
    monte_carlo_gap(act, "gaussian", 0.8, 1.0, 0.1, noise, m, 10, 1)
    print(f"first call (compile or cache load): {time.perf_counter() - start:.2f} s")

    kernel = best_of(lambda: monte_carlo_gap(act, "gaussian", 0.8, 1.0, 0.1, noise, m, n_batches, 1))
    chunk = 1 << 18
    buffer = np.empty((8, per_sample * chunk // 8))
    rows = NormalRows(1)
    rows.fill(buffer)
    compiled_draws = best_of(lambda: [rows.fill(buffer) for _ in range(n // chunk)])
    numpy_draws = best_of(lambda: [np.random.default_rng(1).standard_normal(per_sample * chunk)
                                   for _ in range(n // chunk)])
    numpy_time = best_of(lambda: numpy_gap(act, m, n_batches, 1, noise=noise))
    print(f"{act}, Gaussian inputs, M = {m}, noise {noise:g}, {n:.2e} samples per run (best of 3):")
    print(f"  kernel (draws inside)         {n / kernel / 1e6:7.1f} M samples/s")
    print(f"  numpy estimator               {n / numpy_time / 1e6:7.1f} M samples/s   "
          f"(the kernel is {numpy_time / kernel:.1f}x faster)")
    print(f"  drawing alone, compiled       {n / compiled_draws / 1e6:7.1f} M samples/s   "
          f"({per_sample} normals per sample; the kernel reaches {compiled_draws / kernel:.0%} of it)")
    print(f"  drawing alone, NumPy          {n / numpy_draws / 1e6:7.1f} M samples/s")


if __name__ == "__main__":
    main()
