"""A compiled adaptive Runge-Kutta integrator of the closed-form order-parameter ODE (analysis B).

Method: the Dormand-Prince 5(4) pair (J. R. Dormand and P. J. Prince, J. Comput. Appl. Math. 6, 19 (1980);
tableau and step control as in E. Hairer, S. P. Norsett and G. Wanner, *Solving Ordinary Differential Equations I*,
2nd ed., Sec. II.4-II.5, and as SciPy's ``solve_ivp(method="RK45")`` implements them): the step advances with the
fifth-order solution (local extrapolation), the embedded fourth-order one estimates the error, FSAL (the last
stage is the next step's first). Error norm: the root mean square over the components of
err_i/(atol + rtol max(|y_i|, |y_new_i|)); a step is accepted when it is below 1, and the next step is the current one
times min(10, 0.9 norm^(-1/5)) (at most 1 right after a rejection), a rejected one times max(0.2, 0.9 norm^(-1/5)).
The first step is Hairer's estimate (SciPy's ``select_initial_step``).

Output: the step is clamped so that it lands exactly on each requested output time (no interpolation), and the
state there is written to the preallocated ``states`` (k, 4). The run stops when the state is non-finite or
max |y| exceeds ``blowup`` after an accepted step (:data:`BLOWUP`), when the step falls below ten times the
floating-point spacing of t (:data:`STEP_TOO_SMALL`) or after ``max_steps`` accepted steps (:data:`TOO_MANY_STEPS`);
the rows it did not reach are left untouched. The right-hand side is :func:`.saad_solla.closed_form_drift`, called
inside the compiled loop: one call integrates the whole trajectory.
"""

import math

import numpy as np

from ._jit import jit
from .saad_solla import SAMPLE_SLOTS, closed_form_drift

SUCCESS = 0
"""Every output time was reached."""
BLOWUP = 1
"""The state became non-finite or max |y| exceeded the blow-up bound."""
STEP_TOO_SMALL = 2
"""The step size fell below ten times the spacing of floating-point numbers at t."""
TOO_MANY_STEPS = 3
"""max_steps accepted steps did not reach the last output time."""

_C = np.array([0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0])
_A = np.array([
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    [1 / 5, 0.0, 0.0, 0.0, 0.0, 0.0],
    [3 / 40, 9 / 40, 0.0, 0.0, 0.0, 0.0],
    [44 / 45, -56 / 15, 32 / 9, 0.0, 0.0, 0.0],
    [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729, 0.0, 0.0],
    [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656, 0.0],
])
_B = np.array([35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84])
_E = np.array([-71 / 57600, 0.0, 71 / 16695, -71 / 1920, 17253 / 339200, -22 / 525, 1 / 40])
"""Fifth- minus fourth-order weights over the 7 stages (the 7th is the drift at the new state)."""

SAFETY = 0.9
MIN_FACTOR = 0.2
MAX_FACTOR = 10.0
ERROR_EXPONENT = -1.0 / 5.0
"""-1/(q + 1) with q = 4 the order of the error estimator."""


@jit
def _rms(x, scale):
    total = 0.0
    for i in range(x.shape[0]):
        total += (x[i] / scale[i]) ** 2
    return math.sqrt(total / x.shape[0])


@jit
def _blown(y, blowup):
    for i in range(y.shape[0]):
        if not math.isfinite(y[i]) or abs(y[i]) > blowup:
            return True
    return False


@jit
def dopri5_closed_form(y0, t0, times, eta, decay, size, penalty, spherical, code, noise, rtol, atol, blowup,
                       max_steps, states):
    """Integrate dy/dt = closed_form_drift(y) (y = (m, Q, gamma, beta); the scalars are those of
    :func:`.saad_solla.closed_form_drift`) from y0 at t0 to the sorted output ``times`` (all >= t0), writing the
    state at times[i] to states[i].

    Returns (status, filled, steps, t): the status code (SUCCESS, BLOWUP, STEP_TOO_SMALL, TOO_MANY_STEPS), the
    number of leading rows of states written, the number of accepted steps and the time reached.
    """
    n = y0.shape[0]
    n_out = times.shape[0]
    y = y0.copy()
    y_new = np.empty(n)
    y_stage = np.empty(n)
    k = np.empty((7, n))
    err = np.empty(n)
    scale = np.empty(n)
    averages = np.empty(SAMPLE_SLOTS)
    t = t0
    filled = 0
    while filled < n_out and times[filled] <= t:
        states[filled, :] = y
        filled += 1
    if filled == n_out:
        return SUCCESS, filled, 0, t
    closed_form_drift(y, eta, decay, size, penalty, spherical, code, noise, averages, k[0])

    # Hairer's initial step (SciPy select_initial_step, error order 4)
    interval = times[n_out - 1] - t0
    for i in range(n):
        scale[i] = atol + abs(y[i]) * rtol
    d0 = _rms(y, scale)
    d1 = _rms(k[0], scale)
    h0 = 1e-6 if d0 < 1e-5 or d1 < 1e-5 else 0.01 * d0 / d1
    h0 = min(h0, interval)
    for i in range(n):
        y_stage[i] = y[i] + h0 * k[0, i]
    closed_form_drift(y_stage, eta, decay, size, penalty, spherical, code, noise, averages, k[1])
    for i in range(n):
        err[i] = k[1, i] - k[0, i]
    d2 = _rms(err, scale) / h0
    if d1 <= 1e-15 and d2 <= 1e-15:
        h1 = max(1e-6, h0 * 1e-3)
    else:
        h1 = (0.01 / max(d1, d2)) ** (1.0 / 5.0)
    h = min(100.0 * h0, h1, interval)

    steps = 0
    while True:
        if steps >= max_steps:
            return TOO_MANY_STEPS, filled, steps, t
        target = times[filled]
        min_step = 10.0 * abs(np.nextafter(t, np.inf) - t)
        h = max(h, min_step)
        rejected = False
        while True:
            if h < min_step:
                return STEP_TOO_SMALL, filled, steps, t
            clamped = t + h >= target
            step = target - t if clamped else h
            for s in range(1, 6):
                for i in range(n):
                    acc = 0.0
                    for j in range(s):
                        acc += _A[s, j] * k[j, i]
                    y_stage[i] = y[i] + step * acc
                closed_form_drift(y_stage, eta, decay, size, penalty, spherical, code, noise, averages, k[s])
            for i in range(n):
                acc = 0.0
                for j in range(6):
                    acc += _B[j] * k[j, i]
                y_new[i] = y[i] + step * acc
            closed_form_drift(y_new, eta, decay, size, penalty, spherical, code, noise, averages, k[6])
            for i in range(n):
                acc = 0.0
                for j in range(7):
                    acc += _E[j] * k[j, i]
                err[i] = step * acc
                scale[i] = atol + max(abs(y[i]), abs(y_new[i])) * rtol
            error = _rms(err, scale)
            if error < 1.0:
                factor = MAX_FACTOR if error == 0.0 else min(MAX_FACTOR, SAFETY * error**ERROR_EXPONENT)
                if rejected:
                    factor = min(1.0, factor)
                proposed = h
                h = step * factor
                if clamped and not rejected:  # a step shortened to land on an output says nothing about h
                    h = max(h, proposed)
                break
            factor = MIN_FACTOR if not error >= 0.0 else max(MIN_FACTOR, SAFETY * error**ERROR_EXPONENT)
            h = step * factor
            rejected = True
        steps += 1
        t = target if clamped else t + step
        for i in range(n):
            y[i] = y_new[i]
            k[0, i] = k[6, i]
        if _blown(y, blowup):
            return BLOWUP, filled, steps, t
        while filled < n_out and times[filled] <= t:
            states[filled, :] = y
            filled += 1
        if filled == n_out:
            return SUCCESS, filled, steps, t
