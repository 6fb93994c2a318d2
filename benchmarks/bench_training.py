"""Benchmark: training the block on a fixed training set, Numba kernels against NumPy and the memory limit.

(a) Full-batch energy and gradient (:func:`statmech_bn.kernels.block.loss_and_gradient`, used by ERM) against a
    straightforward NumPy implementation of the same, and against the machine limit: the two BLAS matrix-vector
    products alone (np.dot(x, w) and np.dot(d, x)), each of which streams all of x once.
(c) One Hamiltonian Monte Carlo trajectory of 16 leapfrog steps (:func:`statmech_bn.kernels.sampling.leapfrog`,
    used by sim_gibbs) against the same trajectory in NumPy and against 16 times the BLAS pair.
(b) One epoch of mini-batch SGD (:func:`statmech_bn.kernels.sgd.sgd_epoch`) for ``bn``, ``pn`` and ``none``
    against a NumPy loop over the same batches (the same steps, batch rows gathered with fancy indexing), and
    against the same streaming limit (x read twice; the kernel reads each row once from memory and once more
    from cache, so it can come close to or beat it).

Data: Gaussian inputs, N = 2000, P = alpha N = 10000 (160 MB of float64), relu teacher with noise 0.5, relu
student. Times are the best of several repeats; the first call of each kernel (compilation or cache load) is
timed apart. The NumPy SGD loop runs on a fraction of an epoch and is scaled to a full epoch.

    python benchmarks/bench_training.py [--n 2000] [--alpha 5] [--activation relu] [--numpy-fraction 0.2]
"""

from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np
from scipy.special import erf
from timing import best_of

from statmech_bn.kernels._jit import jit
from statmech_bn.kernels.block import loss_and_gradient
from statmech_bn.kernels.sampling import leapfrog, potential_and_gradient
from statmech_bn.kernels.sgd import BATCH, PLAIN, POPULATION, sgd_epoch
from statmech_bn.model import ACTIVATIONS as ACTIVATION_RECORDS
from statmech_bn.model import NORMALIZERS

ACTIVATIONS = {
    "relu": (lambda z: np.maximum(z, 0.0), lambda z: (z > 0.0).astype(float)),
    "erf": (lambda z: erf(z / np.sqrt(2.0)), lambda z: np.sqrt(2.0 / np.pi) * np.exp(-0.5 * z * z)),
    "linear": (lambda z: z, np.ones_like),
}
SGD_CASES = [("bn", 4), ("bn", 16), ("bn", 64), ("pn", 1), ("pn", 16), ("none", 1), ("none", 16)]
ZETA, WEIGHT_DECAY, LR_W = 0.0, 0.1, 0.5


@jit
def row_pass(x, w):
    """One single-threaded pass over x, row by row (BLAS ddot of each row with w): the one-core read rate."""
    total = 0.0
    for j in range(x.shape[0]):
        total += np.dot(x[j], w)
    return total


def numpy_loss_and_gradient(activation, scale_invariant, x, y, w, gamma, beta, zeta, weight_decay):
    """(E, dE/dw, dE/dgamma, dE/dbeta) of the full training set, the energy of ``loss_and_gradient``."""
    g, g_prime = ACTIVATIONS[activation]
    p, n = x.shape
    h = x @ w / math.sqrt(n)
    if scale_invariant:
        norm = math.sqrt(w @ w / n)
        lam = h / norm
        a = gamma * lam + beta
    else:
        a = h + beta
    r = g(a) - y
    d = r * g_prime(a)
    energy = 0.5 * r @ r
    if scale_invariant:
        d_lam = gamma * d
        grad = (d_lam @ x) / (math.sqrt(n) * norm) - (d_lam @ lam) * w / (n * norm * norm)
        return energy + p * zeta * gamma**2, grad, d @ lam + 2 * p * zeta * gamma, d.sum()
    return energy + 0.5 * weight_decay * w @ w, (d @ x) / math.sqrt(n) + weight_decay * w, 0.0, d.sum()


def numpy_leapfrog(activation, x, y, theta, momentum, inverse_mass, step, n_steps, temperature, grad):
    """The trajectory of ``leapfrog`` for a pn student (U = E/T + |w|^2/2), with NumPy operations."""
    n = x.shape[1]

    def gradient(t):
        energy, g_w, g_gamma, g_beta = numpy_loss_and_gradient(activation, True, x, y, t[:n], t[n], t[n + 1],
                                                               ZETA, WEIGHT_DECAY)
        return energy / temperature + 0.5 * t[:n] @ t[:n], np.concatenate([g_w / temperature + t[:n],
                                                                          [g_gamma / temperature,
                                                                           g_beta / temperature]])

    theta, momentum, potential = theta.copy(), momentum.copy(), math.nan
    for _ in range(n_steps):
        momentum -= 0.5 * step * grad
        theta += step * inverse_mass * momentum
        potential, grad = gradient(theta)
        momentum -= 0.5 * step * grad
    return potential, 0.5 * np.sum(inverse_mass * momentum**2)


def numpy_sgd(activation, kind, x, y, permutation, m, n_batches, lr_w, lr_scalar, zeta, weight_decay, w, gamma,
              beta):
    """The first ``n_batches`` steps of the epoch of ``sgd_epoch`` as a NumPy loop over batches."""
    g, g_prime = ACTIVATIONS[activation]
    p, n = x.shape
    sqrt_n = math.sqrt(n)
    for b in range(n_batches):
        rows = permutation[b * m:(b + 1) * m]
        xb = x[rows]
        h = xb @ w / sqrt_n
        if kind == BATCH:
            centered = h - h.mean()
            std = np.sqrt(np.mean(centered * centered))
            z = centered / std
        elif kind == POPULATION:
            norm = math.sqrt(w @ w / n)
            z = h / norm
        else:
            z = h
        a = gamma * z + beta if kind != PLAIN else z + beta
        d = (g(a) - y[rows]) * g_prime(a) / m
        d_beta = d.sum()
        d_gamma = d @ z
        if kind == BATCH:
            coefficients = gamma / (std * sqrt_n) * (d - d_beta / m - z * d_gamma / m)
            w = w - lr_w * (coefficients @ xb)
        elif kind == POPULATION:
            w = w - lr_w * gamma / (sqrt_n * norm) * ((d @ xb) - d_gamma * w / (sqrt_n * norm))
        else:
            w = w - lr_w * ((d @ xb) / sqrt_n + weight_decay / p * w)
        if kind != PLAIN:
            gamma -= lr_scalar * (d_gamma + 2.0 * zeta * gamma)
        beta -= lr_scalar * d_beta
    return w, gamma, beta


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--alpha", type=float, default=5.0)
    parser.add_argument("--activation", choices=sorted(ACTIVATIONS), default="relu")
    parser.add_argument("--numpy-fraction", type=float, default=0.2, help="fraction of an epoch run by NumPy")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    n, act, code = args.n, args.activation, ACTIVATION_RECORDS[args.activation].code
    p = int(round(args.alpha * n))

    rng = np.random.default_rng(2026)
    teacher = rng.standard_normal(n)
    teacher *= math.sqrt(n) / np.linalg.norm(teacher)
    x = rng.standard_normal((p, n))
    y = ACTIVATIONS[act][0](x @ teacher / math.sqrt(n)) + 0.5 * rng.standard_normal(p)
    w0 = rng.standard_normal(n)
    d = rng.standard_normal(p)
    permutation = rng.permutation(p).astype(np.int64)
    gamma, beta = 1.0, 0.1
    grad_w, work = np.empty(n), np.empty(p)
    print(f"load average before the run: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores "
          "(other processes slow every time below)")

    small_x, small_y = x[:64].copy(), y[:64].copy()
    start = time.perf_counter()
    loss_and_gradient(code, True, small_x, small_y, w0, gamma, beta, ZETA, WEIGHT_DECAY, grad_w, work[:64])
    first_block = time.perf_counter() - start
    start = time.perf_counter()
    sgd_epoch(code, BATCH, small_x, small_y, np.arange(64), 4, LR_W, LR_W / n, ZETA, WEIGHT_DECAY, w0.copy(),
              np.array([gamma, beta]), np.empty(4), np.empty(4))
    first_sgd = time.perf_counter() - start
    print(f"first call (compile or cache load): loss_and_gradient {first_block:.2f} s, sgd_epoch {first_sgd:.2f} s")
    row_pass(small_x, w0)

    limits = [math.inf, math.inf]

    def measure_limits():
        """x streamed twice: np.dot(x, w) + np.dot(d, x) (BLAS, all cores) and 2 x row_pass (one core);
        re-measured around each part and the best kept, to shed transient load of other processes."""
        limits[0] = min(limits[0], best_of(lambda: (np.dot(x, w0), np.dot(d, x)), args.repeats))
        limits[1] = min(limits[1], 2.0 * best_of(lambda: row_pass(x, w0), args.repeats))

    measure_limits()
    table_a = []
    for name, scale_invariant in (("pn", True), ("none", False)):
        kernel = best_of(lambda si=scale_invariant: loss_and_gradient(code, si, x, y, w0, gamma, beta, ZETA,
                                                                      WEIGHT_DECAY, grad_w, work), args.repeats)
        numpy_time = best_of(lambda si=scale_invariant: numpy_loss_and_gradient(act, si, x, y, w0, gamma, beta,
                                                                                ZETA, WEIGHT_DECAY), args.repeats)
        table_a.append((name, kernel, numpy_time))
    measure_limits()

    table_b = []
    for name, m in SGD_CASES:
        kind = NORMALIZERS[name].training
        fields, deltas = np.empty(m), np.empty(m)

        def kernel_epoch(kind=kind, m=m, fields=fields, deltas=deltas):
            sgd_epoch(code, kind, x, y, permutation, m, LR_W, LR_W / n, ZETA, WEIGHT_DECAY, w0.copy(),
                      np.array([gamma, beta]), fields, deltas)

        kernel = best_of(kernel_epoch, 3)
        n_batches = p // m
        part = max(int(args.numpy_fraction * n_batches), 1)
        numpy_time = best_of(lambda name=name, m=m, part=part: numpy_sgd(
            act, name, x, y, permutation, m, part, LR_W, LR_W / n, ZETA, WEIGHT_DECAY, w0.copy(), gamma, beta),
            3) * n_batches / part
        table_b.append((name, m, n_batches, kernel, numpy_time))
    measure_limits()

    leap_steps, temperature = 16, 0.5
    theta0 = np.concatenate([w0, [gamma, beta]])
    inverse_mass = np.concatenate([np.ones(n), [1.0 / n, 1.0 / n]])
    momentum0 = rng.standard_normal(n + 2) / np.sqrt(inverse_mass)
    grad0 = np.empty(n + 2)
    potential_and_gradient(code, True, x, y, theta0, temperature, ZETA, WEIGHT_DECAY, grad0, work)

    def kernel_trajectory():
        leapfrog(code, True, x, y, theta0.copy(), momentum0.copy(), inverse_mass, 1e-3, leap_steps, temperature,
                 ZETA, WEIGHT_DECAY, grad0.copy(), work)

    kernel_hmc = best_of(kernel_trajectory, 3)
    numpy_hmc = best_of(lambda: numpy_leapfrog(act, x, y, theta0, momentum0, inverse_mass, 1e-3, leap_steps,
                                               temperature, grad0), 3)
    measure_limits()

    limit, limit_one = limits
    print(f"\n{act} student and teacher (noise 0.5), Gaussian inputs, N = {n}, P = {p} "
          f"(x: {x.nbytes / 1e6:.0f} MB), best of {args.repeats} (SGD: best of 3)")
    print(f"streaming limit, x read twice: BLAS np.dot(x, w) + np.dot(d, x) {limit * 1e3:.1f} ms "
          f"({2 * x.nbytes / limit / 1e9:.1f} GB/s); one core (row-wise ddot) {limit_one * 1e3:.1f} ms "
          f"({2 * x.nbytes / limit_one / 1e9:.1f} GB/s)")

    print("\n(a) full-batch energy + gradient (limit: the BLAS pair)")
    print(f"  {'normalizer':<11}{'kernel [ms]':>12}{'numpy [ms]':>12}{'limit [ms]':>12}{'kernel/limit':>14}"
          f"{'numpy/kernel':>14}")
    for name, kernel, numpy_time in table_a:
        print(f"  {name:<11}{kernel * 1e3:12.1f}{numpy_time * 1e3:12.1f}{limit * 1e3:12.1f}{kernel / limit:14.2f}"
              f"{numpy_time / kernel:14.1f}")

    print(f"\n(c) one HMC trajectory, {leap_steps} leapfrog steps (pn, T = {temperature}; both receive the "
          "start's gradient)")
    print(f"  kernel {kernel_hmc * 1e3:.1f} ms, numpy {numpy_hmc * 1e3:.1f} ms (numpy/kernel "
          f"{numpy_hmc / kernel_hmc:.2f}), limit {leap_steps} x BLAS pair {leap_steps * limit * 1e3:.1f} ms "
          f"(kernel/limit {kernel_hmc / (leap_steps * limit):.2f})")

    print(f"\n(b) one SGD epoch (P // M steps, lr_w = {LR_W}, lr_scalar = lr_w/N; the kernel runs on one core); numpy: "
          f"the first {args.numpy_fraction:.0%} of the epoch, time scaled to a full epoch")
    print(f"  {'kind':<6}{'M':>4}{'kernel [ms]':>13}{'numpy [ms]':>12}{'numpy/kernel':>14}{'limit/kernel':>14}"
          f"{'1-core limit/kernel':>21}{'us/step':>9}")
    for name, m, n_batches, kernel, numpy_time in table_b:
        print(f"  {name:<6}{m:4d}{kernel * 1e3:13.1f}{numpy_time * 1e3:12.1f}{numpy_time / kernel:14.1f}"
              f"{limit / kernel:14.2f}{limit_one / kernel:21.2f}{kernel / n_batches * 1e6:9.1f}")


if __name__ == "__main__":
    main()
