"""Benchmark: seconds per 50-point theory curve for every (activation, method, noise), in this process on one core.

Each curve is pn_gd (zeta = 0.1) at T = 0.5 over 50 loads alpha = 0.5..20 (log), solved as `sweep` solves it
(both continuation branches unless --branches says otherwise). Per curve: seconds (best of --repeats, warm Numba
cache), the iterations (largest and total over both branches), the converged points, and the compile/cache-load
time of its first point, measured apart.

    python benchmarks/bench_curves.py                                # every curve (erf with noise: minutes)
    python benchmarks/bench_curves.py --activations relu,linear --noise 0.5   # those curves only
    python benchmarks/bench_curves.py --cpu          # CPU seconds (time.process_time): on a machine shared with others
    python benchmarks/bench_curves.py --ridge        # only the ridge comparison against a NumPy state evolution
    python benchmarks/bench_curves.py --quad         # only the per-activation ratio against SciPy quadrature

The ridge comparison: linear/none ERM (weight decay lambda, label-noise variance Delta = sigma^2), 50 loads
alpha = 0.2..5, solved by the package (in-process, the observables of every point included; the saddle point is
unique, so one continuation, and the whole branch is one kernel call, kernels/ridge.py: each point ERM's closed-form
ridge state, confirmed by one evaluation of the saddle-point map) and by a plain NumPy state-evolution fixed point
of the same problem as the Gaussian-covariate-model codes iterate it (identity covariance, teacher norm 1:
V = 1/(lambda + Vh), m = mh V, q = (mh^2 + qh) V^2 with Vh = mh = alpha/(1 + V), qh = alpha (1 - 2m + q + Delta)/
(1 + V)^2; eps_g = (1 - 2m + q)/2), each against the Marchenko-Pastur closed form.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from scipy import integrate
from timing import best_of

from statmech_bn.kernels.saddle import N_SUMS, gibbs_sums
from statmech_bn.theory import METHOD_TABLE, Problem, SolverSettings
from statmech_bn.theory.solver import backward_branch, forward_branch

ALPHAS = np.geomspace(0.5, 20.0, 50)
METHODS = ("gibbs", "erm", "high_temperature")
ACTIVATIONS = ("relu", "linear", "erf", "sign")


def problem(activation: str, method: str, noise: float) -> Problem:
    return Problem(activation, "pn_gd", method, temperature=0.5, zeta=0.1, noise=noise)


def solve(p: Problem, branches: str, alphas=ALPHAS) -> list:
    """Both branches (or one), as the sweep's tasks run them: a fresh method object per branch."""
    settings = SolverSettings(branches=branches)
    points = []
    if branches in ("forward", "both"):
        points += list(forward_branch(METHOD_TABLE[p.method](p), alphas, settings))
    if branches in ("backward", "both"):
        points += list(backward_branch(METHOD_TABLE[p.method](p), alphas, settings))
    return points


RIDGE_ALPHAS = np.geomspace(0.2, 5.0, 50)


def ridge_closed_form(alpha: float, ridge: float, variance: float) -> float:
    """eps_g of ridge regression from the Marchenko-Pastur Stieltjes transform m(-lambda) (Hastie et al. 2019)."""
    b = alpha - 1.0 + ridge
    m = (-b + math.sqrt(b * b + 4.0 * ridge)) / (2.0 * ridge)
    dm = m * (1.0 + m) / (alpha - 1.0 + ridge + 2.0 * ridge * m)
    return 0.5 * (ridge**2 * dm + variance * (m - ridge * dm))


def numpy_state_evolution(alphas: np.ndarray, ridge: float, variance: float, tolerance: float = 1e-10) -> np.ndarray:
    """The ridge fixed point iterated plainly (warm start from the previous load, as a curve is swept)."""
    eps = np.empty(alphas.size)
    v, m, q = 1.0, 0.0, 0.0
    for k, alpha in enumerate(alphas):
        for _ in range(100_000):
            hat_v = hat_m = alpha / (1.0 + v)
            hat_q = alpha * (1.0 - 2.0 * m + q + variance) / (1.0 + v) ** 2
            new_v = 1.0 / (ridge + hat_v)
            new_m, new_q = hat_m * new_v, (hat_m**2 + hat_q) * new_v**2
            change = max(abs(new_v - v), abs(new_m - m), abs(new_q - q))
            v, m, q = new_v, new_m, new_q
            if change < tolerance:
                break
        eps[k] = 0.5 * (1.0 - 2.0 * m + q)
    return eps


def ridge_comparison(repeats: int) -> None:
    print("\nridge (linear/none ERM), 50 loads alpha = 0.2..5, in-process, best of", repeats)
    print(f"{'lambda':>6s} {'Delta':>5s} {'package (ms)':>12s} {'NumPy SE (ms)':>13s} {'ratio':>7s} "
          f"{'package err':>11s} {'NumPy SE err':>12s}")
    for ridge in (0.01, 0.1, 1.0):
        for variance in (0.0, 0.25):
            p = Problem("linear", "none", "erm", weight_decay=ridge, noise=math.sqrt(variance))
            exact = np.array([ridge_closed_form(a, ridge, variance) for a in RIDGE_ALPHAS])
            points: list = []
            ours = best_of(lambda p=p, out=points: out.append(solve(p, "forward", RIDGE_ALPHAS)), repeats)
            eps = np.array([q.observables["eps_gen"] for q in points[-1]])
            numpy_eps: list = []
            theirs = best_of(lambda r=ridge, d=variance, out=numpy_eps: out.append(
                numpy_state_evolution(RIDGE_ALPHAS, r, d)), repeats)
            print(f"{ridge:6g} {variance:5g} {1e3 * ours:12.3f} {1e3 * theirs:13.3f} {theirs / ours:6.2f}x "
                  f"{np.max(np.abs(eps - exact)):11.1e} {np.max(np.abs(numpy_eps[-1] - exact)):12.1e}")


QUAD_STATE = {"m": 0.6, "q": 0.7, "gamma": 1.2, "beta": 0.1, "beta_t": 2.0}
"""The state at which one evaluation of the Gibbs averages is timed against SciPy (v = 1 - q, noise-free)."""


def _g(name: str, h: float) -> float:
    if name == "linear":
        return h
    if name == "relu":
        return max(h, 0.0)
    if name == "erf":
        return math.erf(h / math.sqrt(2.0))
    return float(np.sign(h))


def _phi(z: float) -> float:
    return math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)


def scipy_gibbs_sums(name: str, m: float, q: float, gamma: float, beta: float, beta_t: float) -> np.ndarray:
    """The seven Gibbs averages of :func:`statmech_bn.kernels.saddle.gibbs_sums` (noise-free, v = 1 - q), written
    plainly with scipy.integrate: for each outer (tau, eta), Z(y, a, b) = E_z[exp(-beta_t (y - g(a + sqrt(b) z))^2/2)]
    and its a-derivatives by Stein's lemma (d/da log Z = E[z e]/(sqrt(b) Z), d^2/da^2 log Z = E[(z^2 - 1) e]/(b Z)
    - (d/da log Z)^2), each by quad split at the kink; the outer average by nested quad_vec (tau split at 0)."""
    v = 1.0 - q
    b = gamma * gamma * v
    s = math.sqrt(b)
    cross = math.sqrt(q - m * m)

    def inner(y: float, a: float) -> np.ndarray:
        def part(z):
            h = a + s * z
            loss = 0.5 * (y - _g(name, h)) ** 2
            e = _phi(z) * math.exp(-beta_t * loss)
            return np.array([e, z * e, (z * z - 1.0) * e, loss * e])

        points = (-a / s,) if name in ("relu", "sign") and abs(a / s) < 12 else None
        return integrate.quad_vec(part, -12.0, 12.0, epsabs=1e-13, epsrel=1e-11, points=points)[0]

    def integrand(tau: float, eta: float) -> np.ndarray:
        y = _g(name, tau)
        omega = m * tau + cross * eta
        z0, z1, z2, lz = inner(y, gamma * omega + beta)
        g_a = z1 / (s * z0)
        g_aa = z2 / (b * z0) - g_a * g_a
        f_w = gamma * g_a
        return _phi(tau) * _phi(eta) * np.array([math.log(z0), f_w * f_w, tau * f_w, gamma * gamma * g_aa,
                                                 omega * g_a + gamma * v * (g_aa + g_a * g_a), g_a, lz / z0])

    def over_eta(tau: float) -> np.ndarray:
        return integrate.quad_vec(lambda eta: integrand(tau, eta), -10.0, 10.0, epsabs=1e-11, epsrel=1e-10)[0]

    points = (0.0,) if name in ("relu", "sign") else None
    return integrate.quad_vec(over_eta, -10.0, 10.0, epsabs=1e-11, epsrel=1e-10, points=points)[0]


def quad_ratio_table(repeats: int) -> None:
    """Per activation: one evaluation of the Gibbs averages (the work of one saddle-point iteration) by the package's
    kernel and by the SciPy implementation above, at QUAD_STATE; seconds, ratio and largest difference."""
    print("\none evaluation of the Gibbs averages (pn, T = 0.5, noise-free) at m = 0.6, q = 0.7, gamma = 1.2, "
          "beta = 0.1:\npackage kernel (best of", repeats, ") against nested SciPy quad_vec (one run)")
    print(f"{'activation':10s} {'compile (s)':>11s} {'package (s)':>11s} {'SciPy (s)':>9s} {'ratio':>9s} "
          f"{'max |diff|':>10s}")
    st = QUAD_STATE
    for name in ACTIVATIONS:
        p = Problem(name, "pn", "gibbs", temperature=0.5)
        r = p.rules()
        out = np.empty(N_SUMS)

        def ours(p=p, r=r, out=out):
            gibbs_sums(p.code, p.code, st["m"], st["q"], 1.0 - st["q"], st["gamma"], st["beta"], st["beta_t"], 0.0,
                       r.tau_x, r.tau_w, r.eta_x, r.eta_w, r.xi_x, r.xi_w, r.feature_x, r.feature_w, r.tail_x,
                       r.tail_w, out)

        start = time.perf_counter()
        ours()
        compile_time = time.perf_counter() - start
        package = best_of(ours, repeats)
        start = time.perf_counter()
        want = scipy_gibbs_sums(name, st["m"], st["q"], st["gamma"], st["beta"], st["beta_t"])
        reference = time.perf_counter() - start
        print(f"{name:10s} {compile_time:11.2f} {package:11.2e} {reference:9.2f} {reference / package:8.0f}x "
              f"{np.max(np.abs(out - want)):10.1e}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--activations", default=",".join(ACTIVATIONS))
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--noise", default="0.5,0")
    parser.add_argument("--branches", default="both", choices=("forward", "backward", "both"))
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--cpu", action="store_true", help="time the curves in CPU seconds of this process "
                        "(time.process_time) instead of wall time: for a machine shared with other jobs")
    parser.add_argument("--ridge", action="store_true", help="only the ridge comparison")
    parser.add_argument("--quad", action="store_true", help="only the per-activation ratio against SciPy quadrature")
    parser.add_argument("--save", metavar="FILE.npz", help="store every curve's eps_g, converged and branch, to "
                        "compare two versions with --compare")
    parser.add_argument("--compare", metavar="FILE.npz", help="print the largest |change| of eps_g against a saved run")
    args = parser.parse_args()
    saved: dict[str, np.ndarray] = {}
    before = dict(np.load(args.compare)) if args.compare else {}
    if args.ridge:
        ridge_comparison(max(args.repeats, 3))
        return
    if args.quad:
        quad_ratio_table(max(args.repeats, 3))
        return
    clock = time.process_time if args.cpu else time.perf_counter
    print(f"50 loads alpha = 0.5..20 (log), pn_gd zeta 0.1, T 0.5, branches {args.branches}; one core, warm cache; "
          f"{'CPU' if args.cpu else 'wall'} seconds")
    print(f"{'activation':10s} {'method':16s} {'noise':>5s} {'first (s)':>9s} {'curve (s)':>9s} {'iter max':>8s} "
          f"{'iter sum':>8s} {'converged':>9s}")
    for activation in args.activations.split(","):
        for method in args.methods.split(","):
            for noise in (float(s) for s in args.noise.split(",")):
                p = problem(activation, method, noise)
                if activation == "sign" and method == "erm":
                    continue  # sign has no ERM (a zero-gradient loss; the sweep refuses it)
                start = time.perf_counter()
                solve(p, "forward", ALPHAS[:1])
                first = time.perf_counter() - start
                points: list = []
                seconds = best_of(lambda p=p, out=points: out.append(solve(p, args.branches)), args.repeats,
                                  clock=clock)
                last = points[-1]
                iterations = [q.iterations for q in last]
                converged = sum(q.converged for q in last)
                key = f"{activation}-{method}-{noise:g}"
                eps = np.array([q.observables["eps_gen"] for q in last])
                ok = np.array([q.converged for q in last])
                saved[key] = np.stack([eps, ok.astype(float)])
                change = ""
                if key in before:
                    old_eps, old_ok = before[key]
                    both_ok = ok & (old_ok > 0)
                    change = (f"  max |d eps_g| {np.max(np.abs(eps - old_eps)[both_ok], initial=0.0):.1e} over "
                              f"{both_ok.sum()} points")
                print(f"{activation:10s} {method:16s} {noise:5g} {first:9.2f} {seconds:9.3f} {max(iterations):8d} "
                      f"{sum(iterations):8d} {converged:5d}/{len(last)}{change}", flush=True)
    if args.save:
        np.savez(args.save, **saved)
    if args.activations == parser.get_default("activations"):  # the full benchmark; a subset prints its curves only
        ridge_comparison(max(args.repeats, 3))
        quad_ratio_table(max(args.repeats, 3))


if __name__ == "__main__":
    main()
