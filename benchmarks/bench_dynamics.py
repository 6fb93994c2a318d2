"""Benchmark: the finite-N simulation of online SGD (analysis B), Numba kernel against NumPy and the draw limit.

Per case (normalizer, batch size M), with time per SGD step:

- kernel: :func:`statmech_bn.kernels.online.online_steps` on pre-drawn inputs, one chunk of
  :func:`statmech_bn.dynamics.simulation.simulate_online` (<= 8 MB, cache-warm as right after its draw in the
  simulation) run over and over; and, apart, on 1024 rows (82 MB at N = 10^4) read from memory;
- numpy steps: a NumPy loop doing the same steps on the same chunk (labels, fields, the gradient in coefficient
  form, the updates of w, gamma and beta), on a fraction of the steps and scaled; its state after the chunk is
  checked against the kernel's (largest difference, relative to max |w|, and of gamma and beta);
- numpy sim: the straightforward NumPy simulation, i.e. the same loop drawing its inputs chunk by chunk with
  ``numpy.random.Generator.standard_normal`` (PCG64), as simulate_online is organized;
- draw: the simulation's own draw of the M N inputs of a step (:class:`statmech_bn.rng.NormalRows`, xoshiro256++
  and a compiled ziggurat, on the Numba threads) plus the M label noises: every input is used once, so drawing it
  is the limit of this simulation;
- full: simulate_online itself (draw + kernel + checks), per step, its fixed set-up (teacher, initial state,
  quadrature rules of eps_g, records) subtracted by timing a run to t = 0; on all Numba threads and on one.

Data: relu teacher and student, label noise 0.5, eta = 0.5, N = 10^4. ``bn`` has no M = 1 (no batch variance)
and at M = 2 its w does not move (z_j = +-1 whatever w): its small batch is M = 4. Times are the best of several
repeats, each after a short pause; the first calls (compilation or cache load of the kernels, and of the eps_g
quadrature used by the records) are timed apart.

The ODE with closed-form averages (:func:`ode_closed_forms_table`, last, or alone with ``--ode-closed-forms``): for
erf/none at M = 1 (the Saad & Solla case), erf/pn and linear/none, to t = 100 with 40 log-spaced outputs, the
package's integrate_ode (compiled Dormand-Prince 5(4) on the closed forms) against a pyscm-style NumPy Euler loop
(dt = 0.01) and SciPy's RK45 (rtol 1e-8) on the same closed forms written in NumPy, and against the package's
quadrature path; each timed (best of 5, first calls apart) and its largest error measured against DOP853 at rtol 1e-13
on the NumPy closed forms.

    python benchmarks/bench_dynamics.py [--n 10000] [--numpy-fraction 0.25] [--repeats 3] [--ode-closed-forms]

``--relu-drift`` prints only :func:`relu_drift_table` (the per-sample drift averages of relu, quadrature kernel
against closed form) and exits.
"""

from __future__ import annotations

import argparse
import math
import os
import time

import numba
import numpy as np
from timing import best_of

from statmech_bn.dynamics.problem import DynamicsProblem
from statmech_bn.dynamics.simulation import CHUNK_BYTES, INPUT_STREAM_KEY, simulate_online
from statmech_bn.kernels._jit import jit
from statmech_bn.kernels.codes import LINEAR, RELU
from statmech_bn.kernels.dynamics import SAMPLE_SLOTS, sample_averages
from statmech_bn.kernels.online import online_steps
from statmech_bn.kernels.relu_drift import relu_sample_averages
from statmech_bn.kernels.sgd import BATCH, PLAIN
from statmech_bn.model import ACTIVATIONS, NORMALIZERS
from statmech_bn.quadrature import DRIFT_NODES, TAIL_CUT, legendre
from statmech_bn.rng import NormalRows

CASES = [("pn", 1), ("none", 1), ("pn", 16), ("bn", 4), ("bn", 16)]
ROWS = 1024
THREADS = numba.get_num_threads()
LR, NOISE, ZETA, WEIGHT_DECAY = 0.5, 0.5, 0.0, 0.0


def numpy_online(kind, x, noise, teacher, n_steps, m, lr, zeta, weight_decay, w, gamma, beta):
    """The steps of ``online_steps`` (relu) as a NumPy loop over batches; returns (w, gamma, beta)."""
    n = x.shape[1]
    sqrt_n = math.sqrt(n)
    w = w.copy()
    for s in range(n_steps):
        xb = x[s * m:(s + 1) * m]
        y = np.maximum(xb @ teacher / sqrt_n, 0.0) + noise[s * m:(s + 1) * m]
        h = xb @ w / sqrt_n
        if kind == BATCH:
            centered = h - h.mean()
            std = math.sqrt(centered @ centered / m)
            z = centered / std
        elif kind == PLAIN:
            z = h
        else:
            norm = math.sqrt(w @ w / n)
            z = h / norm
        a = z + beta if kind == PLAIN else gamma * z + beta
        d = (np.maximum(a, 0.0) - y) * (a > 0.0) / m
        d_beta = d.sum()
        d_gamma = d @ z
        if kind == BATCH:
            w -= lr * (gamma / (std * sqrt_n) * (d - d_beta / m - z * d_gamma / m)) @ xb
        elif kind == PLAIN:
            w -= lr * (d @ xb) / sqrt_n
        else:
            w -= lr * gamma / (sqrt_n * norm) * ((d @ xb) - d_gamma * w / (sqrt_n * norm))
        if kind != PLAIN:
            gamma -= lr / n * (d_gamma + 2.0 * zeta * gamma)
        beta -= lr / n * d_beta
        w *= 1.0 - lr * weight_decay / n
    return w, gamma, beta


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--numpy-fraction", type=float, default=0.25, help="fraction of the steps run by NumPy")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--relu-drift", action="store_true",
                        help="only the relu drift averages: quadrature against closed form")
    parser.add_argument("--ode-closed-forms", action="store_true",
                        help="only the table of the closed-form ODE against Euler, RK45 and the quadrature path")
    args = parser.parse_args()
    if args.relu_drift:
        relu_drift_table(repeats=max(args.repeats, 5))
        return
    if args.ode_closed_forms:
        ode_closed_forms_table()
        return
    n, code = args.n, ACTIVATIONS["relu"].code
    print(f"load average before the run: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores "
          "(other processes slow every time below)")
    # first: the ODE's short threaded Monte-Carlo calls are slowed several-fold by BLAS threads still spinning
    # after the NumPy loops below
    ode_table()
    reduced_table()

    rng = np.random.default_rng(2026)
    teacher = rng.standard_normal(n)
    teacher *= math.sqrt(n) / np.linalg.norm(teacher)
    x = rng.standard_normal((ROWS, n))
    noise = NOISE * rng.standard_normal(ROWS)
    labels = np.empty(ROWS)
    w0 = rng.standard_normal(n)

    start = time.perf_counter()
    online_steps(code, BATCH, x, noise, teacher, 1, 2, LR, ZETA, WEIGHT_DECAY, w0.copy(), np.array([1.0, 0.0]),
                 labels, np.empty(2), np.empty(2))
    first_kernel = time.perf_counter() - start
    start = time.perf_counter()
    NormalRows([0, INPUT_STREAM_KEY]).fill(np.empty((2, 10)))
    first_draw = time.perf_counter() - start
    start = time.perf_counter()
    simulate_online(DynamicsProblem("relu", "pn", LR), 20, np.array([0.0, 1.0]), 0)
    first_sim = time.perf_counter() - start
    print(f"first call (compile or cache load): online_steps {first_kernel:.2f} s, NormalRows.fill {first_draw:.2f} s, "
          f"simulate_online (eps_g quadrature) {first_sim:.2f} s")

    table = []
    for name, m in CASES:
        kind = NORMALIZERS[name].training
        chunk = max(1, CHUNK_BYTES // (8 * m * n))
        x_chunk, noise_chunk = x[:chunk * m].copy(), noise[:chunk * m].copy()
        sweeps = max(1, ROWS // (chunk * m))
        steps = sweeps * chunk
        fields, deltas = np.empty(m), np.empty(m)

        def kernel(inputs, label_noise, count, w, kind=kind, m=m, fields=fields, deltas=deltas):
            scalars = np.array([1.0, 0.1])
            online_steps(code, kind, inputs, label_noise, teacher, count, m, LR, ZETA, WEIGHT_DECAY, w, scalars,
                         labels, fields, deltas)
            return w, scalars

        def kernel_chunks(kernel=kernel, x_chunk=x_chunk, noise_chunk=noise_chunk, chunk=chunk, sweeps=sweeps):
            w = w0.copy()
            for _ in range(sweeps):
                kernel(x_chunk, noise_chunk, chunk, w)

        kernel_time = best_of(kernel_chunks, args.repeats) / steps
        memory_time = best_of(lambda kernel=kernel, m=m: kernel(x, noise, ROWS // m, w0.copy()), args.repeats) / (
            ROWS // m)
        part = max(int(args.numpy_fraction * steps), 1)

        def numpy_chunks(kind=kind, m=m, x_chunk=x_chunk, noise_chunk=noise_chunk, chunk=chunk, part=part):
            w, gamma, beta = w0, 1.0, 0.1
            for first in range(0, part, chunk):
                w, gamma, beta = numpy_online(kind, x_chunk, noise_chunk, teacher, min(chunk, part - first), m, LR,
                                              ZETA, WEIGHT_DECAY, w, gamma, beta)
            return w, gamma, beta

        numpy_time = best_of(numpy_chunks, args.repeats) / part
        np_rng = np.random.Generator(np.random.PCG64(1))
        np_x, np_noise = np.empty((chunk * m, n)), np.empty(chunk * m)

        def numpy_simulation(kind=kind, m=m, chunk=chunk, part=part, np_rng=np_rng, np_x=np_x, np_noise=np_noise):
            w, gamma, beta = w0, 1.0, 0.1
            for first in range(0, part, chunk):
                count = min(chunk, part - first)
                np_rng.standard_normal(out=np_x[:count * m])
                np_rng.standard_normal(out=np_noise[:count * m])
                np_noise *= NOISE
                w, gamma, beta = numpy_online(kind, np_x, np_noise, teacher, count, m, LR, ZETA, WEIGHT_DECAY, w,
                                              gamma, beta)
            return w, gamma, beta

        numpy_sim_time = best_of(numpy_simulation, args.repeats) / part
        w_np, gamma_np, beta_np = numpy_online(kind, x_chunk, noise_chunk, teacher, chunk, m, LR, ZETA,
                                               WEIGHT_DECAY, w0, 1.0, 0.1)
        w_k, scalars_k = kernel(x_chunk, noise_chunk, chunk, w0.copy())
        mismatch = max(np.max(np.abs(w_k - w_np)) / np.max(np.abs(w_np)), abs(scalars_k[0] - gamma_np),
                       abs(scalars_k[1] - beta_np))

        buffer, noise_buffer = np.empty((chunk * m, n)), np.empty(chunk * m)
        rows, noise_rng = NormalRows([1, INPUT_STREAM_KEY]), np.random.Generator(np.random.PCG64(1))

        def draw(buffer=buffer, noise_buffer=noise_buffer, rows=rows, noise_rng=noise_rng, sweeps=sweeps):
            for _ in range(sweeps):
                rows.fill(buffer)
                noise_rng.standard_normal(out=noise_buffer)

        draw_time = best_of(draw, args.repeats) / steps
        problem = DynamicsProblem("relu", name, LR, batch_size=m, noise=NOISE)
        full = []
        for threads in (numba.get_num_threads(), 1):
            numba.set_num_threads(threads)
            setup = best_of(lambda problem=problem: simulate_online(problem, n, np.array([0.0]), 5), args.repeats)
            full.append((best_of(lambda problem=problem, steps=steps: simulate_online(
                problem, n, np.array([steps / n]), 5), args.repeats) - setup) / steps)
        numba.set_num_threads(THREADS)
        table.append((name, m, steps, chunk, kernel_time, memory_time, numpy_time, numpy_sim_time, draw_time, *full,
                      mismatch))

    print(f"\nonline SGD, relu teacher and student (noise {NOISE}), eta = {LR}, N = {n}; time per step, best of "
          f"{args.repeats}. kernel, numpy steps: on one cache-warm chunk of simulate_online (numpy: "
          f"{args.numpy_fraction:.0%} of the steps, scaled); kernel (mem): on {ROWS} rows from memory; numpy sim: "
          f"the NumPy loop drawing its inputs with NumPy; draw: the simulation's M N + M normals of a step, in chunks "
          f"({CHUNK_BYTES >> 20} MB), on {THREADS} threads; full: simulate_online minus its set-up, on {THREADS} "
          f"threads and on 1")
    print(f"  {'kind':<5}{'M':>4}{'steps':>7}{'chunk':>7}{'kernel':>8}{'kernel(mem)':>12}{'numpy steps':>12}"
          f"{'numpy sim':>10}{'draw':>7}{'full':>7}{'full 1t':>8}{'numpy sim/full':>15}{'(1 thread)':>11}"
          f"{'full/draw':>10}{'numpy steps/kernel':>19}{'|numpy-kernel|':>16}")
    for (name, m, steps, chunk, kernel_time, memory_time, numpy_time, numpy_sim_time, draw_time, full_time,
         full_one, mismatch) in table:
        print(f"  {name:<5}{m:4d}{steps:7d}{chunk:7d}{kernel_time * 1e6:8.1f}{memory_time * 1e6:12.1f}"
              f"{numpy_time * 1e6:12.1f}{numpy_sim_time * 1e6:10.1f}{draw_time * 1e6:7.1f}{full_time * 1e6:7.1f}"
              f"{full_one * 1e6:8.1f}"
              f"{numpy_sim_time / full_time:15.1f}{numpy_sim_time / full_one:11.1f}{full_time / draw_time:10.2f}"
              f"{numpy_time / kernel_time:19.1f}{mismatch:16.1e}")
    print("  (times in microseconds per step)")
    ode_closed_forms_table()


@jit
def _quadrature_loop(states, legendre_x, legendre_w, cut, z_nodes, z_weights, v_nodes, v_weights, out):
    """sample_averages(RELU, ...) of every row (R, scale, beta, noise) of states into the rows of out."""
    for i in range(states.shape[0]):
        sample_averages(RELU, states[i, 0], states[i, 1], states[i, 2], states[i, 3], legendre_x, legendre_w, cut,
                        z_nodes, z_weights, v_nodes, v_weights, out[i])


@jit
def _closed_form_loop(states, out):
    """relu_sample_averages of every row of states into the rows of out."""
    for i in range(states.shape[0]):
        relu_sample_averages(states[i, 0], states[i, 1], states[i, 2], states[i, 3], out[i])


def relu_drift_table(count: int = 2000, repeats: int = 5) -> None:
    """Microseconds per call of relu's per-sample drift averages: the quadrature kernel
    :func:`statmech_bn.kernels.dynamics.sample_averages` (DRIFT_NODES per panel, as the ODE's Drift calls it) against
    the closed form :func:`statmech_bn.kernels.relu_drift.relu_sample_averages`, called from Python one state at a
    time (dispatch included, as Drift does) and in a compiled loop over the states; best of ``repeats``, the first
    calls (compilation or cache load) timed apart. States: R uniform in (-1, 1), every fourth within 1e-2..1e-15 of
    +-1, scale uniform in (-3, 3), beta in (-2, 2), noise 0.3. Also the largest |difference| of the two."""
    rng = np.random.default_rng(7)
    states = np.column_stack([rng.uniform(-1.0, 1.0, count), rng.uniform(-3.0, 3.0, count),
                              rng.uniform(-2.0, 2.0, count), np.full(count, 0.3)])
    states[::4, 0] = np.sign(states[::4, 0]) * (1.0 - 10.0 ** rng.uniform(-15.0, -2.0, states[::4].shape[0]))
    x, w = legendre(DRIFT_NODES)
    rule = (x, w, TAIL_CUT, np.empty(5 * DRIFT_NODES), np.empty(5 * DRIFT_NODES), np.empty(2 * DRIFT_NODES),
            np.empty(2 * DRIFT_NODES))
    quadrature, closed = np.empty((count, SAMPLE_SLOTS)), np.empty((count, SAMPLE_SLOTS))
    first = []
    for call in (lambda: sample_averages(RELU, *states[0], *rule, quadrature[0]),
                 lambda: relu_sample_averages(*states[0], closed[0]),
                 lambda: _quadrature_loop(states[:1], *rule, quadrature),
                 lambda: _closed_form_loop(states[:1], closed)):
        start = time.perf_counter()
        call()
        first.append(time.perf_counter() - start)

    def python_quadrature():
        for i in range(count):
            r, scale, beta, noise = states[i]
            sample_averages(RELU, r, scale, beta, noise, *rule, quadrature[i])

    def python_closed():
        for i in range(count):
            r, scale, beta, noise = states[i]
            relu_sample_averages(r, scale, beta, noise, closed[i])

    times = [best_of(fn, repeats) / count * 1e6 for fn in (python_quadrature, python_closed)]
    difference = float(np.max(np.abs(quadrature - closed)))
    times += [best_of(lambda: _quadrature_loop(states, *rule, quadrature), repeats) / count * 1e6,
              best_of(lambda: _closed_form_loop(states, closed), repeats) / count * 1e6]
    difference = max(difference, float(np.max(np.abs(quadrature - closed))))
    print(f"\nrelu per-sample drift averages E[d], E[d lambda], E[d u], E[d^2] over {count} random states "
          f"(best of {repeats}); first calls apart: sample_averages {first[0]:.2f} s, relu_sample_averages "
          f"{first[1]:.2f} s, loops {first[2]:.2f} s and {first[3]:.2f} s")
    print(f"  {'':<28}{'quadrature':>12}{'closed form':>13}{'ratio':>8}")
    for label, slow, fast in (("us per call from Python", times[0], times[1]),
                              ("us per call, compiled loop", times[2], times[3])):
        print(f"  {label:<28}{slow:12.2f}{fast:13.3f}{slow / fast:8.0f}")
    print(f"  largest |quadrature - closed form| over the states and slots: {difference:.1e}")


def reduced_table() -> None:
    """The reduced simulation's time per step (draws included) at N = 10^3, 10^4, 10^5: independent of N."""
    from statmech_bn.dynamics.problem import DynamicsProblem
    from statmech_bn.dynamics.reduced import simulate_reduced

    simulate_reduced(DynamicsProblem("relu", "bn", 0.5, batch_size=4), 100, np.array([0.0, 1.0]), 0)
    print("\nreduced simulation (exact in law, O(M^2) per step), relu, eta 0.5: microseconds per step, draws included")
    print(f"  {'kind':<5}{'M':>4}" + "".join(f"{f'N = {n:g}':>12}" for n in (1e3, 1e4, 1e5)))
    for name, m in (("pn", 1), ("bn", 4), ("bn", 16)):
        row = []
        for n in (1000, 10_000, 100_000):
            steps = 200_000
            problem = DynamicsProblem("relu", name, 0.5, batch_size=m, noise=NOISE)
            start = time.perf_counter()
            simulate_reduced(problem, n, np.array([0.0, steps / n]), 1)
            row.append((time.perf_counter() - start) / steps)
        print(f"  {name:<5}{m:4d}" + "".join(f"{t * 1e6:12.2f}" for t in row))


def ode_table() -> None:
    """The N -> infinity ODE integrated to t = 100 (40 log-spaced outputs), relu, M = 8, noise 0.3: one call
    per normalizer after a first call (compilation or cache load) timed apart."""
    from statmech_bn.dynamics.ode import BN_BATCHES, integrate_ode
    from statmech_bn.dynamics.problem import DynamicsProblem, output_times

    times = output_times(100.0, 40)
    start = time.perf_counter()
    integrate_ode(DynamicsProblem("relu", "none", 0.5, batch_size=8), times[:3])
    first = time.perf_counter() - start
    print(f"\nODE to t = 100 (relu, eta 0.5, M = 8, noise 0.3, 40 outputs; first call {first:.2f} s apart)")
    for normalizer in ("none", "pn", "pn_gd", "bn"):
        problem = DynamicsProblem("relu", normalizer, 0.5, batch_size=8, zeta=0.05, noise=0.3)
        start = time.perf_counter()
        trajectory = integrate_ode(problem, times)
        elapsed = time.perf_counter() - start
        note = ""
        if problem.norm.batch_statistics:
            note = f" ({BN_BATCHES} fixed batches; largest SEM of a drift average {trajectory.drift_sem:.1e})"
        print(f"  {normalizer:<6} {elapsed:6.2f} s, eps_g(100) = {trajectory.eps_gen[-1]:.5f}{note}")


def numpy_averages(code: int, overlap, scale, beta, noise):
    """(E[d], E[d lambda], E[d u], E[d^2]) in NumPy, written out independently of the kernels
    (statmech_bn.kernels.saad_solla): linear (any beta), or erf at beta = 0 with Saad & Solla's I3, I4, J2 reduced by
    hand to the covariances Var(a) = s^2, Cov(a, u) = s R."""
    s, r = scale, overlap
    if code == LINEAR:
        return beta, s - r, s * r - 1.0, s * s - 2.0 * s * r + 1.0 + beta * beta + noise * noise
    wide, cross = np.sqrt(1.0 + 2.0 * s * s), np.sqrt(2.0 + 2.0 * s * s - s * s * r * r)
    lead, mixed = 2.0 / (np.pi * (1.0 + s * s)), 2.0 * (1.0 + 2.0 * s * s - s * s * r * r)
    square = 4.0 / (np.pi**2 * wide) * (np.arcsin(s * s / (1.0 + 3.0 * s * s))
                                        - 2.0 * np.arcsin(s * r / np.sqrt((1.0 + 3.0 * s * s) * mixed))
                                        + np.arcsin((1.0 + 2.0 * s * s * (1.0 - r * r)) / mixed))
    return (0.0, lead * (s / wide - r / cross), lead * (s * r / wide - (1.0 + s * s * (1.0 - r * r)) / cross),
            square + noise * noise * 2.0 / (np.pi * wide))


def numpy_drift(problem):
    """The closed-form right-hand side f(t, y) of the ODE (no weight decay, no gamma decay) in NumPy."""
    eta, size, code, noise, spherical = (problem.learning_rate, problem.batch_size, problem.code, problem.noise,
                                         problem.spherical)

    def f(t, y):
        norm = np.sqrt(y[1])
        overlap = np.clip(y[0] / norm, -1.0, 1.0)
        e_d, e_dl, e_du, e_dd = numpy_averages(code, overlap, y[2] if spherical else norm, y[3], noise)
        if spherical:
            kappa = y[2] / norm
            return np.array([-eta * kappa * (e_du - overlap * e_dl), (eta * kappa) ** 2 * e_dd / size,
                             -eta * e_dl, -eta * e_d])
        return np.array([-eta * e_du, -2.0 * eta * norm * e_dl + eta**2 * e_dd / size, 0.0, -eta * e_d])

    return f


def euler_loop(f, y0, times, dt):
    """pyscm-style fixed-step Euler: y += dt f(y), the state kept at the steps k = round(t/dt) of the output times;
    returns (states, the times k dt they belong to)."""
    marks = np.rint(times / dt).astype(int)
    states = np.empty((times.size, y0.size))
    y, j = y0.copy(), 0
    for k in range(marks[-1] + 1):
        while j < marks.size and marks[j] == k:
            states[j] = y
            j += 1
        y = y + dt * f(k * dt, y)
    return states, marks * dt


def trajectory_states(problem, trajectory) -> np.ndarray:
    """(m, Q, gamma, beta) at the output times of an integrate_ode Trajectory (none's gamma stays the initial one)."""
    gamma = trajectory.gamma if problem.spherical else np.full(trajectory.t.size, problem.initial_gamma)
    return np.column_stack([trajectory.overlap * trajectory.norm, trajectory.norm**2, gamma, trajectory.beta])


def ode_closed_forms_table(repeats: int = 5) -> None:
    """The closed-form ODE to t = 100 (40 log-spaced outputs) by four integrators: seconds (best of ``repeats``) and
    the largest error of the states (m, Q, gamma, beta), relative to max(1, |y|), at the output times against DOP853
    at rtol 1e-13, atol 1e-15 on the NumPy closed forms (at the Euler loop's own times k dt for it)."""
    from scipy import integrate

    from statmech_bn.dynamics.ode import CLOSED_FORM_TOLERANCES, closed_form_states, initial_state, integrate_ode
    from statmech_bn.dynamics.problem import DynamicsProblem, output_times

    times = output_times(100.0, 40)
    dt = 0.01
    cases = [("erf/none M=1", DynamicsProblem("erf", "none", 0.5)),
             ("erf/pn", DynamicsProblem("erf", "pn", 0.5, noise=0.3)),
             ("linear/none", DynamicsProblem("linear", "none", 0.5, noise=0.3))]
    first = {}
    for name, closed in (("closed-form", True), ("quadrature", False)):
        start = time.perf_counter()
        integrate_ode(cases[0][1], times[:3], closed_form=closed)
        first[name] = time.perf_counter() - start
    rows = []
    for name, problem in cases:
        f, y0 = numpy_drift(problem), initial_state(problem)
        reference = integrate.solve_ivp(f, (0.0, times[-1]), y0, method="DOP853", rtol=1e-13, atol=1e-15,
                                        dense_output=True).sol

        def error(states, at=times, reference=reference):
            exact = reference(at).T
            return float(np.max(np.abs(states - exact) / np.maximum(1.0, np.abs(exact))))

        def rk45(f=f, y0=y0):
            return integrate.solve_ivp(f, (0.0, times[-1]), y0, method="RK45", t_eval=times, rtol=1e-8,
                                       atol=1e-10).y.T

        package = best_of(lambda problem=problem: integrate_ode(problem, times), repeats)
        alone = best_of(lambda problem=problem: closed_form_states(problem, times), repeats)
        euler = best_of(lambda f=f, y0=y0: euler_loop(f, y0, times, dt), repeats)
        scipy_rk45 = best_of(rk45, repeats)
        quadrature = best_of(lambda problem=problem: integrate_ode(problem, times, closed_form=False), repeats)
        euler_states, euler_times = euler_loop(f, y0, times, dt)
        errors = (error(trajectory_states(problem, integrate_ode(problem, times))), error(euler_states, euler_times),
                  error(rk45()), error(trajectory_states(problem, integrate_ode(problem, times, closed_form=False))))
        rows.append((name, (package, euler, scipy_rk45, quadrature), errors, alone))
    rtol, atol = CLOSED_FORM_TOLERANCES
    print(f"\nODE with closed-form averages to t = 100 (40 log-spaced outputs), eta 0.5, M = 1, noise 0.3 (erf/none: "
          f"0): seconds, best of {repeats}, and the largest error of (m, Q, gamma, beta) relative to max(1, |y|) "
          "against DOP853 at rtol 1e-13 on the NumPy closed forms. package: integrate_ode, compiled Dormand-Prince "
          f"5(4) at rtol {rtol:g}, atol {atol:g}, eps_g of the outputs included; euler: pyscm-style NumPy loop, "
          f"dt = {dt}; rk45: solve_ivp at rtol 1e-8 on the NumPy closed forms; quadrature: integrate_ode's "
          f"quadrature drift (RK45, rtol 1e-8). First calls apart (compilation or cache load): closed-form path "
          f"{first['closed-form']:.2f} s, quadrature path {first['quadrature']:.2f} s. ode alone: the package's "
          "compiled integration without the eps_g of the outputs (closed_form_states)")
    print(f"  {'case':<14}" + "".join(f"{label:>22}" for label in ("package", "euler", "rk45", "quadrature"))
          + f"{'euler/package':>15}{'ode alone':>12}{'euler/ode':>11}")
    for name, seconds, errors, alone in rows:
        print(f"  {name:<14}" + "".join(f"{s:>11.5f} s {e:>8.1e}" for s, e in zip(seconds, errors, strict=True))
              + f"{seconds[1] / seconds[0]:>15.0f}{alone:>10.5f} s{seconds[1] / alone:>11.0f}")


if __name__ == "__main__":
    main()
