"""Mini-batch SGD kernel of the block against the slow NumPy reference and finite differences."""

import naive
import numpy as np
import pytest
from tolerances import FINITE_DIFFERENCE_RTOL

from statmech_bn.kernels import sgd
from statmech_bn.model import ACTIVATIONS as RECORDS
from statmech_bn.model import DIFFERENTIABLE

N, P = 40, 120
EXACT_RTOL = 1e-10
"""Kernel against the reference doing the same arithmetic in another order: agreement ~1e-14 per step, and
one epoch (<= 120 steps at a small learning rate) does not amplify it beyond 1e-10."""

KIND_NAMES = {sgd.BATCH: "batch", sgd.POPULATION: "population", sgd.PLAIN: "plain"}
ACTIVATIONS = list(DIFFERENTIABLE)
ZETA, WEIGHT_DECAY = 0.05, 0.3


def _data(rng, activation, noise=0.3):
    teacher = rng.standard_normal(N)
    teacher *= np.sqrt(N) / np.linalg.norm(teacher)
    x = rng.standard_normal((P, N))
    y = naive._g(activation, x @ teacher / np.sqrt(N)) + noise * rng.standard_normal(P)
    return x, y


def _gradient(kind, activation, x, y, rows, w, gamma, beta):
    m = rows.shape[0]
    fields, deltas, grad_w = np.empty(m), np.empty(m), np.empty(w.shape[0])
    out = sgd.batch_gradient(RECORDS[activation].code, kind, x, y, rows, w, gamma, beta, ZETA, WEIGHT_DECAY,
                             fields, deltas, grad_w)
    return (*out, grad_w)


def _kink_free_beta(kind, x, w, gamma):
    """beta in the middle of the widest gap between consecutive -gamma*z_j, so no relu field sits near 0 (and
    samples on both sides of the kink)."""
    t = np.sort(naive.batch_fields(KIND_NAMES[kind], x, w, gamma, 0.0))
    i = int(np.argmax(np.diff(t)))
    return -0.5 * (t[i] + t[i + 1]), 0.5 * (t[i + 1] - t[i])


def _batch_sizes(kind):
    return (3, 7, 8) if kind == sgd.BATCH else (1, 7, 8)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("kind,m", [(k, m) for k in KIND_NAMES for m in _batch_sizes(k)])
def test_epoch_matches_the_reference(rng, kind, m, activation):
    """One epoch; M = 7 leaves P mod M = 1 sample out (skipped by both)."""
    x, y = _data(rng, activation)
    w0 = rng.standard_normal(N)
    gamma, beta = 1.2, 0.1
    permutation = rng.permutation(P).astype(np.int64)
    lr_w = 0.2
    w, scalars = w0.copy(), np.array([gamma, beta])
    got = sgd.sgd_epoch(RECORDS[activation].code, kind, x, y, permutation, m, lr_w, lr_w / N, ZETA,
                        WEIGHT_DECAY, w, scalars, np.empty(m), np.empty(m))
    want = naive.sgd_epoch_reference(activation, KIND_NAMES[kind], x, y, permutation, m, lr_w, lr_w / N, ZETA,
                                     WEIGHT_DECAY, w0, gamma, beta)
    assert np.linalg.norm(want[0] - w0) > 1e-3 * np.linalg.norm(w0)  # the epoch did move w
    np.testing.assert_allclose(w, want[0], rtol=EXACT_RTOL, atol=EXACT_RTOL * np.abs(want[0]).max())
    assert scalars[0] == pytest.approx(want[1], rel=EXACT_RTOL)
    assert scalars[1] == pytest.approx(want[2], rel=EXACT_RTOL, abs=EXACT_RTOL)
    assert got == pytest.approx(want[3], rel=EXACT_RTOL)
    if kind == sgd.PLAIN:
        assert scalars[0] == gamma


@pytest.mark.parametrize("kind", list(KIND_NAMES))
def test_incomplete_last_batch_is_skipped(rng, kind):
    x, y = _data(rng, "erf")
    permutation = rng.permutation(P).astype(np.int64)
    m = 7
    results = []
    for label in (0.0, 5.0):
        y = y.copy()
        y[permutation[-(P % m):]] = label
        w, scalars = np.ones(N), np.array([1.0, 0.0])
        loss = sgd.sgd_epoch(RECORDS["erf"].code, kind, x, y, permutation, m, 0.2, 0.2 / N, ZETA, WEIGHT_DECAY,
                             w, scalars, np.empty(m), np.empty(m))
        results.append((loss, w, scalars))
    assert results[0][0] == results[1][0]
    np.testing.assert_array_equal(results[0][1], results[1][1])
    np.testing.assert_array_equal(results[0][2], results[1][2])


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("kind", list(KIND_NAMES))
def test_batch_gradient_matches_finite_differences(rng, kind, activation):
    x, y = _data(rng, activation)
    m = 8
    rows = np.arange(m, dtype=np.int64)
    xb, yb = x[:m], y[:m]
    w = rng.standard_normal(N)
    gamma, beta = 1.3, 0.2
    if activation == "relu":
        beta, margin = _kink_free_beta(kind, xb, w, gamma)
        assert margin > 1e-2  # steps of 1e-4 move a field by < 1e-3
    objective, d_gamma, d_beta, grad_w = _gradient(kind, activation, x, y, rows, w, gamma, beta)

    def f(w_, gamma_, beta_):
        return naive.batch_objective(KIND_NAMES[kind], activation, xb, yb, w_, gamma_, beta_, ZETA, WEIGHT_DECAY, P)

    assert objective == pytest.approx(f(w, gamma, beta), rel=1e-12)
    step = 1e-4
    numeric = np.empty(N)
    for i in range(N):
        up, down = w.copy(), w.copy()
        up[i] += step
        down[i] -= step
        numeric[i] = (f(up, gamma, beta) - f(down, gamma, beta)) / (2 * step)
    np.testing.assert_allclose(grad_w, numeric, rtol=FINITE_DIFFERENCE_RTOL,
                               atol=FINITE_DIFFERENCE_RTOL * np.abs(numeric).max())
    numeric_gamma = (f(w, gamma + step, beta) - f(w, gamma - step, beta)) / (2 * step)
    numeric_beta = (f(w, gamma, beta + step) - f(w, gamma, beta - step)) / (2 * step)
    assert d_gamma == pytest.approx(numeric_gamma, rel=FINITE_DIFFERENCE_RTOL, abs=1e-10)
    assert d_beta == pytest.approx(numeric_beta, rel=FINITE_DIFFERENCE_RTOL, abs=1e-10)
    if kind == sgd.PLAIN:
        assert d_gamma == 0.0


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("kind", [sgd.BATCH, sgd.POPULATION])
def test_scale_invariant_gradient_is_orthogonal_to_w(rng, kind, activation):
    x, y = _data(rng, activation)
    rows = rng.permutation(P)[:16].astype(np.int64)
    w = rng.standard_normal(N)
    grad_w = _gradient(kind, activation, x, y, rows, w, 0.9, 0.3)[3]
    assert abs(grad_w @ w) <= 1e-12 * np.linalg.norm(grad_w) * np.linalg.norm(w)
    if kind == sgd.BATCH:
        # the fields only see w through h_j - mu_B, so dF/dw lies in the span of the centered batch rows:
        # orthogonal to every v with v.(x_j - mean x) = 0 (25 such directions at N = 40, M = 16)
        centered = x[rows] - x[rows].mean(axis=0)
        basis = np.linalg.svd(centered)[2][15:]  # rank 15: the null space of the centered rows
        assert np.abs(basis @ grad_w).max() <= 1e-12 * np.linalg.norm(grad_w)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_batch_norm_of_two_samples_does_not_train_w(rng, activation):
    """M = 2: z = +-1 whatever w is, so dF/dw = 0 (only gamma and beta learn)."""
    x, y = _data(rng, activation)
    w = rng.standard_normal(N)
    objective, d_gamma, d_beta, grad_w = _gradient(sgd.BATCH, activation, x, y, np.array([3, 11]), w, 0.9, 0.3)
    assert np.abs(grad_w).max() <= 1e-14 * (abs(d_gamma) + abs(d_beta))
    assert abs(d_gamma) + abs(d_beta) > 1e-3


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("kind", [sgd.BATCH, sgd.POPULATION])
def test_scale_invariance(rng, kind, activation):
    """w -> c w leaves the objective and the scalar gradients unchanged and divides dF/dw by c."""
    x, y = _data(rng, activation)
    rows = np.arange(8, dtype=np.int64)
    w = rng.standard_normal(N)
    base = _gradient(kind, activation, x, y, rows, w, 0.9, 0.3)
    c = 3.7
    scaled = _gradient(kind, activation, x, y, rows, c * w, 0.9, 0.3)
    assert scaled[:3] == pytest.approx(base[:3], rel=1e-12, abs=1e-14)
    np.testing.assert_allclose(c * scaled[3], base[3], rtol=1e-10, atol=1e-12 * np.abs(base[3]).max())


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_batch_norm_is_invariant_to_a_shift_of_the_inputs(rng, activation):
    """x -> x + s (every component): every field moves by s sum(w)/sqrt(N), which BN removes; since
    sum_j dF/dh_j = 0 the w-gradient is unchanged as well."""
    x, y = _data(rng, activation)
    rows = np.arange(8, dtype=np.int64)
    w = rng.standard_normal(N)
    base = _gradient(sgd.BATCH, activation, x, y, rows, w, 0.9, 0.3)
    shifted = _gradient(sgd.BATCH, activation, x + 0.8, y, rows, w, 0.9, 0.3)
    assert shifted[:3] == pytest.approx(base[:3], rel=1e-10, abs=1e-13)
    np.testing.assert_allclose(shifted[3], base[3], rtol=1e-9, atol=1e-10 * np.abs(base[3]).max())


def test_batch_of_one_sample_diverges_to_nan(rng):
    """BATCH without epsilon: M = 1 has zero batch variance; the kernel reports NaN instead of raising."""
    x, y = _data(rng, "linear")
    w, scalars = np.ones(N), np.array([1.0, 0.0])
    loss = sgd.sgd_epoch(RECORDS["linear"].code, sgd.BATCH, x, y, np.arange(P, dtype=np.int64), 1, 0.1,
                         0.1 / N, 0.0, 0.0, w, scalars, np.empty(1), np.empty(1))
    assert np.isnan(loss)
    assert np.isnan(w).all()
