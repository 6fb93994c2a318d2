"""Benchmark: a 50-point relu Gibbs-learning curve (finite T) from the Numba kernels against a
straightforward SciPy implementation of the same saddle-point equations, in one run.

The SciPy version evaluates the same disorder averages with nested ``scipy.integrate.quad`` (teacher field
split at its kink, replica field on the real line) and the same closed-form relu channel written with
``math``/``scipy.special``; it drives the very same fixed-point map, so both do identical iterations.
Compile time is measured apart, in a child process with an empty Numba cache.

    python benchmarks/bench_replica.py               # SciPy on 1 point of the curve (about a minute)
    python benchmarks/bench_replica.py --points 5    # SciPy on 5 points (each ~35 iterations, ~1 min)

Both implementations solve the same points from the same warm start (the Numba solution at the
previous alpha), so they do the same iterations; the ratio of their times is the speed-up.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from scipy import integrate, special

from statmech_bn.theory import Problem, SolverSettings, solve_curve
from statmech_bn.theory.replica import GibbsSaddle, SphereGibbs

ALPHAS = np.linspace(1.0, 10.0, 50)
PROBLEM = Problem("relu", "pn", "gibbs", temperature=0.5)
SOLVER = SolverSettings(branches="forward")


def _truncated(mean, std, above):
    z = mean / std
    if above:
        r = math.exp(-0.5 * z * z - 0.5 * math.log(2 * math.pi) - special.log_ndtr(z))
        return mean + std * r, std * std * max(1 - r * (z + r), 0.0)
    r = math.exp(-0.5 * z * z - 0.5 * math.log(2 * math.pi) - special.log_ndtr(-z))
    return mean - std * r, std * std * max(1 - r * (r - z), 0.0)


def relu_tilted(y, a, b, beta_t):
    """log Z, g_a, g_aa and <l> of the relu channel, written plainly."""
    s = math.sqrt(b)
    mean_neg, var_neg = _truncated(a, s, above=False)
    log_neg = -0.5 * beta_t * y * y + special.log_ndtr(-a / s)
    k = 1 + beta_t * b
    m_pos, s_pos = (a + beta_t * b * y) / k, s / math.sqrt(k)
    mean_pos, var_pos = _truncated(m_pos, s_pos, above=True)
    log_pos = -0.5 * math.log(k) - 0.5 * beta_t * (y - a) ** 2 / k + special.log_ndtr(m_pos / s_pos)
    top = max(log_neg, log_pos)
    p_neg, p_pos = math.exp(log_neg - top), math.exp(log_pos - top)
    total = p_neg + p_pos
    p_neg, p_pos = p_neg / total, p_pos / total
    mean = p_neg * mean_neg + p_pos * mean_pos
    var = p_neg * var_neg + p_pos * var_pos + p_neg * p_pos * (mean_neg - mean_pos) ** 2
    loss = p_neg * 0.5 * y * y + p_pos * 0.5 * ((y - mean_pos) ** 2 + var_pos)
    return top + math.log(total), (mean - a) / b, (var - b) / b**2, loss


def scipy_gibbs_sums(m, q, v, gamma, beta, beta_t):
    """The seven disorder averages by nested adaptive quadrature (quad_vec over tau, quad_vec over eta)."""
    cross = math.sqrt(max(q - m * m, 0.0))
    norm = 1 / math.sqrt(2 * math.pi)

    def integrand(tau, eta):
        omega = m * tau + cross * eta
        log_z, g_a, g_aa, loss = relu_tilted(max(tau, 0.0), gamma * omega + beta, gamma**2 * v, beta_t)
        fw = gamma * g_a
        return norm * math.exp(-0.5 * eta * eta) * np.array(
            [log_z, fw * fw, tau * fw, gamma**2 * g_aa, omega * g_a + gamma * v * (g_aa + g_a**2), g_a, loss])

    def over_eta(tau):
        inner = integrate.quad_vec(lambda eta: integrand(tau, eta), -12, 12, epsabs=1e-10, epsrel=1e-9)[0]
        return norm * math.exp(-0.5 * tau * tau) * inner

    return integrate.quad_vec(over_eta, -12, 12, epsabs=1e-10, epsrel=1e-9, points=(0.0,))[0]


class ScipyGibbsSaddle(SphereGibbs):
    """The same saddle-point map with the disorder averages of :func:`scipy_gibbs_sums`."""

    def _sums(self, x):
        m, q, gamma, beta = x
        return scipy_gibbs_sums(m, q, 1.0 - q, gamma, beta, self.beta_t)


def solve(method_cls, alphas):
    start = time.perf_counter()
    points = list(solve_curve(method_cls(PROBLEM), alphas, SOLVER))
    return time.perf_counter() - start, points


def compile_seconds() -> float:
    """Import plus first call in a child process with an empty Numba cache (cold compile)."""
    code = ("import time; t = time.perf_counter(); import numpy as np; "
            "from statmech_bn.theory import Problem, SolverSettings, solve_curve; "
            "from statmech_bn.theory.replica import GibbsSaddle, SphereGibbs; "
            "list(solve_curve(GibbsSaddle(Problem('relu', 'pn', 'gibbs', temperature=0.5)), np.array([2.0]), "
            "SolverSettings(max_iterations=1))); print(time.perf_counter() - t)")
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1, help="points of the curve solved by both (default 1)")
    args = parser.parse_args()
    print(f"cold compile (import + first call, empty cache): {compile_seconds():.2f} s")
    solve(GibbsSaddle, ALPHAS[:2])  # load the compiled kernels in this process
    numba_time, numba_points = solve(GibbsSaddle, ALPHAS)
    iterations = sum(p.iterations for p in numba_points)
    print(f"numba: 50-point relu curve (pn, T = 0.5, alpha 1..10, forward continuation): {numba_time:.3f} s, "
          f"{iterations} fixed-point iterations, {sum(p.converged for p in numba_points)}/50 converged")
    first = 25
    last = first + args.points
    warm = numba_points[first - 1].state
    timings = {}
    for label, cls in (("numba", GibbsSaddle), ("scipy", ScipyGibbsSaddle)):
        start = time.perf_counter()
        points = list(solve_curve(cls(PROBLEM), ALPHAS[:last], SOLVER, start_index=first, warm_state=warm))
        timings[label] = (time.perf_counter() - start, points)
    (t_numba, p_numba), (t_scipy, p_scipy) = timings["numba"], timings["scipy"]
    worst = max(abs(a.observables["eps_gen"] - b.observables["eps_gen"]) for a, b in zip(p_numba, p_scipy, strict=True))
    its = sum(p.iterations for p in p_scipy)
    print(f"points {first}..{last - 1} from the same warm start ({its} iterations): numba {t_numba:.4f} s, "
          f"scipy quad {t_scipy:.1f} s, speed-up {t_scipy / t_numba:.0f}x; max |eps_gen difference| {worst:.1e}")
    print(f"the 50-point curve with the SciPy implementation would take ~{numba_time * t_scipy / t_numba / 60:.0f} min")


if __name__ == "__main__":
    main()
