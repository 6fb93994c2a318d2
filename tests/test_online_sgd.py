"""Online SGD (analysis B): the kernel against a NumPy loop, reproducibility, and the linear perceptron's ODE."""

import math

import naive
import numpy as np
import pytest
from tolerances import MONTE_CARLO_SIGMAS

from statmech_bn.dynamics.problem import DynamicsProblem
from statmech_bn.dynamics.simulation import simulate_online
from statmech_bn.kernels import sgd
from statmech_bn.kernels.online import online_steps
from statmech_bn.model import ACTIVATIONS

EXACT_RTOL = 1e-10
"""Kernel against the reference doing the same arithmetic in another order: ~1e-15 per step, and 40 steps at
t <= 0.8 do not amplify it beyond 1e-10."""

KIND_NAMES = {sgd.BATCH: "batch", sgd.POPULATION: "population", sgd.PLAIN: "plain"}


def online_reference(activation, kind, x, noise, teacher, n_steps, m, lr, zeta, weight_decay, w, gamma, beta):
    """The steps of ``online_steps`` with whole-batch NumPy operations and the textbook gradients of
    :func:`naive.batch_gradient_reference` (its per-training-set weight decay off): (w, gamma, beta, labels,
    mean objective)."""
    name = KIND_NAMES[kind]
    n = x.shape[1]
    labels = naive._g(activation, x[:n_steps * m] @ teacher / math.sqrt(n)) + noise[:n_steps * m]
    w = np.array(w, dtype=float)
    objectives = []
    for s in range(n_steps):
        rows = slice(s * m, (s + 1) * m)
        objective, grad_w, d_gamma, d_beta = naive.batch_gradient_reference(name, activation, x[rows], labels[rows],
                                                                            w, gamma, beta, zeta, 0.0, 1)
        objectives.append(objective)
        w = w - lr * grad_w
        if name != "plain":
            gamma = gamma - lr / n * d_gamma
        beta = beta - lr / n * d_beta
        w = w * (1.0 - lr * weight_decay / n)
    return w, gamma, beta, labels, float(np.mean(objectives))


@pytest.mark.parametrize(("kind", "activation", "m", "zeta", "weight_decay"), [
    (sgd.BATCH, "relu", 4, 0.0, 0.0),
    (sgd.BATCH, "erf", 4, 0.0, 0.2),
    (sgd.POPULATION, "erf", 1, 0.05, 0.0),
    (sgd.POPULATION, "relu", 4, 0.05, 0.2),
    (sgd.PLAIN, "erf", 1, 0.0, 0.3),
    (sgd.PLAIN, "linear", 1, 0.0, 0.3),
])
def test_kernel_matches_numpy_loop(rng, kind, activation, m, zeta, weight_decay):
    n, n_steps, lr, noise_std = 50, 40, 1.0, 0.3
    teacher = rng.standard_normal(n)
    teacher *= math.sqrt(n) / np.linalg.norm(teacher)
    x = rng.standard_normal((n_steps * m + 3, n))  # spare rows: ignored by the kernel
    noise = noise_std * rng.standard_normal(x.shape[0])
    w0 = rng.standard_normal(n)
    gamma0, beta0 = 1.3, 0.2
    w, scalars, labels = w0.copy(), np.array([gamma0, beta0]), np.full(x.shape[0], -7.0)
    objective = online_steps(ACTIVATIONS[activation].code, kind, x, noise, teacher, n_steps, m, lr, zeta,
                             weight_decay, w, scalars, labels, np.empty(m), np.empty(m))
    w_ref, gamma_ref, beta_ref, labels_ref, objective_ref = online_reference(
        activation, kind, x, noise, teacher, n_steps, m, lr, zeta, weight_decay, w0, gamma0, beta0)
    assert np.max(np.abs(w_ref - w0)) > 0.1  # the steps did move w
    np.testing.assert_allclose(w, w_ref, rtol=EXACT_RTOL, atol=EXACT_RTOL * np.max(np.abs(w_ref)))
    np.testing.assert_allclose(labels[:n_steps * m], labels_ref, rtol=EXACT_RTOL, atol=EXACT_RTOL)
    assert np.all(labels[n_steps * m:] == -7.0)
    np.testing.assert_allclose(scalars, [gamma_ref, beta_ref], rtol=EXACT_RTOL, atol=EXACT_RTOL)
    if kind == sgd.PLAIN:
        assert scalars[0] == gamma0
    assert objective == pytest.approx(objective_ref, rel=EXACT_RTOL)


TIMES = np.array([0.0, 0.25, 0.5, 0.5, 1.3])


@pytest.mark.parametrize(("normalizer", "m"), [("bn", 4), ("pn_gd", 2), ("none", 1)])
def test_seed_reproduces_bit_for_bit(normalizer, m):
    problem = DynamicsProblem("relu", normalizer, 0.7, batch_size=m, zeta=0.1, weight_decay=0.2, noise=0.4,
                              initial_overlap=0.3, initial_norm=1.5, initial_gamma=0.8, initial_beta=0.1)
    n = 200
    first = simulate_online(problem, n, TIMES, seed=11)
    again = simulate_online(problem, n, TIMES, seed=11)
    chunked = simulate_online(problem, n, TIMES, seed=11, chunk_steps=7)
    fewer = simulate_online(problem, n, TIMES[[1, 4]], seed=11)
    other = simulate_online(problem, n, TIMES, seed=12)
    for key in ("t", "R", "L", "gamma", "beta", "eps_gen"):
        assert np.all(np.isfinite(first[key]))
        np.testing.assert_array_equal(first[key], again[key])
        np.testing.assert_array_equal(first[key], chunked[key])  # independent of the chunk size
        np.testing.assert_array_equal(first[key][[1, 4]], fewer[key])  # and of the recording times
    assert not np.array_equal(first["R"][1:], other["R"][1:])
    np.testing.assert_array_equal(first["steps"], [0, 50, 100, 100, 260])
    # t = 0 is the initial state, exactly as prescribed
    assert first["R"][0] == pytest.approx(0.3, abs=1e-12)
    assert first["L"][0] == pytest.approx(1.5, abs=1e-12)
    assert first["beta"][0] == 0.1
    assert first["gamma"][0] == (0.8 if normalizer != "none" else 1.0)
    if normalizer == "none":
        assert np.all(first["gamma"] == 1.0)


def test_divergence_fills_nan():
    problem = DynamicsProblem("linear", "none", 6.0, noise=0.1)  # beyond eta_max = 2: |w| grows exponentially
    out = simulate_online(problem, 50, np.array([0.0, 0.1, 1000.0, 2000.0]), seed=3)
    assert np.isfinite(out["eps_gen"][:2]).all()
    assert np.isnan(out["eps_gen"][2:]).all() and np.isnan(out["R"][2:]).all()
    np.testing.assert_array_equal(out["t"], [0.0, 0.1, 1000.0, 2000.0])


@pytest.mark.parametrize(("changes", "n", "times", "message"), [
    ({"normalizer": "bn", "batch_size": 1}, 100, [1.0], "M >= 2"),
    ({}, 5, [1.0], "N must be"),
    ({}, 100, [1.0, np.inf], "finite"),
    ({}, 100, [-1.0], ">= 0"),
    ({}, 100, [2.0, 1.0], "sorted"),
    ({"learning_rate": 0.0}, 100, [1.0], "learning rate"),
    ({"normalizer": "xx"}, 100, [1.0], "normalizer"),
    ({"activation": "sign"}, 100, [1.0], "gradient"),
])
def test_invalid_inputs(changes, n, times, message):
    settings = {"activation": "relu", "normalizer": "pn", "learning_rate": 0.5, **changes}
    with pytest.raises(ValueError, match=message):
        simulate_online(DynamicsProblem(**settings), n, np.array(times), seed=0)


def test_linear_none_follows_its_ode():
    """Online linear perceptron, ``none``, M = 1, against the closed form of its ODE.

    With m = w.w*/N, Q = w.w/N and d = h + beta - u - sigma xi, one step changes w.w* by -eta d u and w.w by
    -2 eta d h + (eta^2/N) d^2 |x|^2; averaging over the fresh input (E[d u] = m - 1, E[d h] = Q - m,
    E[d^2] = Q - 2m + 1 + beta^2 + sigma^2, |x|^2 ~ N) and with t = steps/N:
    dm/dt = -eta (m - 1), dQ/dt = -2 eta (Q - m) + eta^2 (Q - 2m + 1 + beta^2 + sigma^2) / M, and
    dbeta/dt = -eta E[d] = -eta beta, so beta stays 0 from beta0 = 0. Hence e = Q - 2m + 1 = 2 eps_g obeys
    de/dt = -2 eta e + (eta^2/M) (e + sigma^2) = -eta (2 - eta/M) e + eta^2 sigma^2/M, i.e.
    e(t) = e_inf + (e0 - e_inf) exp(-eta (2 - eta/M) t), e_inf = eta sigma^2/(2M - eta), e0 = 1 + L0^2 - 2 R0 L0.

    Tolerance: 4 standard errors over the seeds (eps_g of one seed fluctuates by O(1/sqrt(N))) plus 2/N relative
    for the bias of finite N. The linear model's mean dynamics is closed at finite N, and its exact averages differ
    from the ODE by: E[d^2 |x|^2] = N E[d^2] + 2 (Q - 2m + 1), a relative 2/N on the eta^2 e term (~ eta^2 t 2/N
    = 1/N relative on e(2)); the Euler steps against the exponential, eta^2 (2 - eta)^2 t/(2N) ~ 0.6/N relative;
    and E[beta^2] ~ eta (e + sigma^2)/(2N), which adds ~ 0.3/N relative to eps_g. Together < 2/N.
    """
    eta, sigma, r0, l0, m, n, t = 0.5, 0.3, 0.0, 1.0, 1, 2000, 2.0
    problem = DynamicsProblem("linear", "none", eta, batch_size=m, noise=sigma, initial_overlap=r0,
                              initial_norm=l0)
    seeds = range(8)
    eps = np.array([simulate_online(problem, n, np.array([t]), seed)["eps_gen"][0] for seed in seeds])
    e_inf = eta * sigma**2 / (2 * m - eta)
    e0 = 1.0 + l0**2 - 2.0 * r0 * l0
    theory = 0.5 * (e_inf + (e0 - e_inf) * math.exp(-eta * (2.0 - eta / m) * t))
    sem = eps.std(ddof=1) / math.sqrt(len(eps))
    assert abs(eps.mean() - theory) < MONTE_CARLO_SIGMAS * sem + 2.0 / n * theory
