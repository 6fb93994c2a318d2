"""erf's ERM: the proximal map (global minimum of the Moreau objective, also where it is non-convex), the line-wise
solution of kernels/erf_erm.py against the per-node one, and the sums against the per-node kernel and adaptive
quadrature."""

import math

import naive
import numpy as np
import pytest
from scipy import special
from tolerances import (
    ERF_ERM_LINE_ATOL,
    ERF_ERM_MEMO_ATOL,
    ERF_ERM_REFERENCE_ATOL,
    ERF_NOISE_RULE_ATOL,
    ERF_SMOOTH_RULE_ATOL,
)

from statmech_bn.kernels import channels
from statmech_bn.kernels.channels import MAX_ERF_CURVATURE
from statmech_bn.kernels.codes import ERF, LINEAR
from statmech_bn.kernels.erf_erm import (
    BRANCH_SCRATCH,
    ERM_SMOOTH_SLOPE,
    ERM_SMOOTH_SLOPES,
    MAX_CUSPS,
    MAX_LINE_FEATURES,
    MEMO_NODES,
    SMOOTH_LINE_MARGIN,
    SMOOTH_LINE_SIZES,
    SMOOTH_LINE_W,
    SMOOTH_LINE_X,
    erf_erm_branches,
    erf_erm_cusps,
    erf_erm_line,
    erf_erm_walk,
    smooth_line,
    smooth_rule,
)
from statmech_bn.kernels.panels import (
    FEATURE_CUT,
    TAIL_ORDERS,
    feature_rule_capacity,
    graded_rule,
    graded_rule_capacity,
)
from statmech_bn.kernels.saddle import (
    ERM_LABEL_LEGENDRE,
    ERM_LABEL_MAX_SLOPE,
    ERM_LABEL_NOISE,
    ERM_LABEL_PIECE,
    ERM_NOISE_MEMO_LINES,
    N_SUMS,
    _label_sums,
    _label_z_rule,
    erf_erm_sums,
    erm_sums,
    erm_sums_by_quadrature,
    erm_sums_memo,
    label_path,
    label_rule_sizes,
)
from statmech_bn.quadrature import TAIL_CUT, gauss_hermite
from statmech_bn.theory.erm import ERMSaddle, erf_noise_rule
from statmech_bn.theory.problem import Problem

# (y, c, a) where the Moreau objective has two minima of nearly equal value, and refining only the lowest point of
# the 33-point grid around a kept the wrong one (its objective 3e-2, 7e-3, 4e-3, 6e-3 and 5e-3 above the minimum)
NEAR_JUMPS = [(0.3, 20.0, -5.65), (0.9, 6.0, -4.09), (1.5, 3.0, -3.46), (-1.2, 6.0, 4.54), (2.0, 3.0, -3.9)]


def _dense_minimum(y, a, c):
    """min over h of l(y, h) + (h - a)^2/(2c) on a grid of step 1e-4 across the window of the minimiser."""
    bound = c * (abs(y) + 1.0) * math.sqrt(2.0 / math.pi)
    h = np.linspace(a - bound, a + bound, int(2 * bound / 1e-4) + 1)
    values = 0.5 * (y - special.erf(h / math.sqrt(2.0))) ** 2 + (h - a) ** 2 / (2.0 * c)
    return values.min()


@pytest.mark.parametrize("y,c,a", NEAR_JUMPS)
def test_prox_is_the_global_minimum_near_its_jump(y, c, a):
    for shift in np.linspace(-0.02, 0.02, 9):
        envelope = channels.moreau(ERF, y, a + shift, c)[0]
        dense = _dense_minimum(y, a + shift, c)
        assert envelope <= dense + 1e-12  # the wrong basin is >= 1e-3 above
        assert envelope >= dense - 1e-7  # the dense grid's own error


@pytest.mark.parametrize("y,c", [(0.3, 0.2), (-0.8, 1.0), (0.3, 20.0), (0.9, 6.0), (1.5, 3.0), (-1.2, 6.0), (2.4, 1.5)])
@pytest.mark.parametrize("descending", [False, True])
def test_line_matches_the_per_node_prox(y, c, descending):
    a_x = np.linspace(-7.0, 7.0, 701)
    if descending:
        a_x = a_x[::-1].copy()
    order = np.argsort(a_x)
    h, dh, lh, env = (np.empty(a_x.size) for _ in range(4))
    erf_erm_line(y, c, a_x, order, h, dh, lh, env)
    want = np.array([channels.moreau(ERF, y, a, c) for a in a_x])
    np.testing.assert_allclose(env, want[:, 0], rtol=0.0, atol=ERF_ERM_LINE_ATOL)
    np.testing.assert_allclose(h, want[:, 1], rtol=0.0, atol=ERF_ERM_LINE_ATOL)
    np.testing.assert_allclose(dh, want[:, 2], rtol=ERF_ERM_LINE_ATOL, atol=ERF_ERM_LINE_ATOL)
    np.testing.assert_allclose(lh, want[:, 3], rtol=0.0, atol=ERF_ERM_LINE_ATOL)


def _sums(kernel, m, chi, gamma, beta, noise):
    r = Problem("erf", "pn", "erm", noise=noise).rules(96)
    out = np.empty(N_SUMS)
    args = (ERF, ERF, m, 1.0, chi, gamma, beta, noise, r.tau_x, r.tau_w, r.eta_x, r.eta_w, r.xi_x, r.xi_w, r.piece_x,
            r.piece_w, TAIL_CUT)
    if kernel is erm_sums:
        _per_line(*args, r, out)
    else:
        kernel(*args, out)
    return out


def _per_line(student, teacher, m, q, chi, gamma, beta, noise, tau_x, tau_w, eta_x, eta_w, xi_x, xi_w, piece_x, piece_w,
              cut, r, out, memo=None, memo_line=None, split=False):
    """The per-line kernel erf_erm_sums (which erm_sums takes for erf but with an erf teacher and label noise >=
    ERM_LABEL_NOISE: erf_erm_label_sums) at the arguments of erm_sums, the rules ``r``."""
    assert student == ERF
    memo = np.empty((0, 3, 0)) if memo is None else memo
    memo_line = np.empty((0, 4)) if memo_line is None else memo_line
    erf_erm_sums(teacher, m, q, chi, gamma, beta, noise, tau_x, tau_w, eta_x, eta_w, xi_x, xi_w, r.feature_x,
                 r.feature_w, r.tail_x, r.tail_w, out, memo, memo_line, split)


# states of the benchmark curves (c = gamma^2 chi from 0.07, convex, to 6.3, non-convex on most lines), and gamma < 0;
# the slopes |gamma| sqrt(1 - m^2) of the first four take the smooth lines' rules of 24, 32, 48 and 64 nodes
SMOOTH_STATES = [(0.9973, 0.227, 0.546, 0.0), (0.96, 2.6, 0.52, 0.01), (0.93, 0.3, -0.5, 0.1), (0.9, 0.3, 0.55, -0.2)]
ROUGH_STATES = [(0.8, 1.5, 1.1, -0.05), (0.67, 34.0, 0.43, 0.0), (0.5, 3.0, -0.9, 0.2)]


@pytest.mark.parametrize("noise", [0.0, 0.5])
@pytest.mark.parametrize("state", SMOOTH_STATES)
def test_erm_sums_match_the_per_node_kernel(state, noise):
    """Where no line takes a feature rule the sums equal the per-node kernel's (ROUGH_STATES have lines where h*(a)
    jumps, which the per-node kernel's fixed rule integrates across: tests below against adaptive quadrature)."""
    got = _sums(erm_sums, *state, noise)
    want = _sums(erm_sums_by_quadrature, *state, noise)
    np.testing.assert_allclose(got, want, rtol=0.0, atol=ERF_SMOOTH_RULE_ATOL)


# single lines (m, chi, gamma, beta, tau, y) where h*(a) jumps or is steep inside |eta| < 4: a jump and a steep point
# (c = 6), a jump at |y| > 1, a steep point of width 0.003 in eta, a jump 8e-5 from its fold (near the cusp), a jump
# with gamma < 0 (decreasing a along eta), two steep points (y = 0, c = 3); the 96-node rule misses them by 6e-5 to
# 3e-3
JUMP_LINES = [(0.5, 6.0, 1.0, 0.0, 0.3, 0.3), (0.5, 2.5, 1.0, -1.5, 0.0, 1.5), (0.2, 1.0, 1.0, 0.26, 0.0, 1.625),
              (0.2, 1.0, 1.0, 0.08, 0.0, 1.699), (0.5, 3.0, -0.9, 0.2, 1.2, 0.5), (0.0, 3.0, 1.0, 0.1, 0.0, 0.0)]


def _line_features(m, chi, gamma, beta, tau, y):
    """(c, offset, slope, features in eta, their widths in eta, jumps in a) of one line."""
    c = gamma**2 * chi
    offset = gamma * m * tau + beta
    slope = gamma * math.sqrt(1.0 - m * m)
    centers, widths, jumps = np.empty(MAX_LINE_FEATURES), np.empty(MAX_LINE_FEATURES), np.empty(2)
    n, n_jumps = erf_erm_branches(y, c, centers, widths, jumps, np.empty(3), np.empty(3), np.empty(BRANCH_SCRATCH))
    return c, offset, slope, (centers[:n] - offset) / slope, widths[:n] / abs(slope), jumps[:n_jumps]


def _line_sums(kernel, m, chi, gamma, beta, tau, y):
    """The sums of the single line (tau, label y) at noise 1 (xi = y - g(tau)), unit weight."""
    r = Problem("erf", "pn", "erm", noise=1.0).rules(96)
    out = np.empty(N_SUMS)
    tau_x, xi_x, one = np.array([tau]), np.array([y - math.erf(tau / math.sqrt(2.0))]), np.ones(1)
    args = (ERF, ERF, m, 1.0, chi, gamma, beta, 1.0, tau_x, one, r.eta_x, r.eta_w, xi_x, one, r.piece_x, r.piece_w,
            TAIL_CUT)
    if kernel is erm_sums:
        _per_line(*args, r, out)
    else:
        kernel(*args, out)
    return out


def _line_reference(m, chi, gamma, beta, tau, y):
    c, offset, slope, points, _, _ = _line_features(m, chi, gamma, beta, tau, y)
    cross = math.sqrt(1.0 - m * m)
    env, g2, g1, eta_g, lh = naive.erf_erm_line_average(y, c, offset, slope, points)
    return np.array([-env, gamma**2 * g2, tau * gamma * g1, gamma * eta_g / cross, m * tau * g1 + cross * eta_g
                     + gamma * chi * g2, g1, lh])


@pytest.mark.parametrize("line", JUMP_LINES)
def test_erm_lines_against_adaptive_quadrature(line):
    """Lines with jumps and steep points: split at the jumps and graded, against adaptive quadrature split there
    (and the per-node kernel's fixed rule does miss them, else the test proves nothing)."""
    _, _, _, points, widths, _ = _line_features(*line)
    assert np.any((np.abs(points) < 4.0) & (widths < 0.7))
    want = _line_reference(*line)
    np.testing.assert_allclose(_line_sums(erm_sums, *line), want, rtol=0.0, atol=ERF_ERM_REFERENCE_ATOL)
    assert np.abs(_line_sums(erm_sums_by_quadrature, *line) - want).max() > 1e-5


@pytest.mark.parametrize("y,c", [(0.3, 6.0), (0.3, 8.0), (1.5, 2.5), (-1.2, 1.5), (0.0, 5.0), (0.5, 20.0),
                                 (1.699, 1.0)])
def test_jumps_are_where_two_minima_have_equal_objective(y, c):
    """At every jump of :func:`erf_erm_branches` the brute-force objective has two local minima of equal value, the
    lower one left of the jump below it and right of it above it (y = 0.5, c = 20: two jumps, the middle branch global
    between them; 1.699, 1.0: 1e-4 from the cusp)."""
    _, _, _, _, _, jumps = _line_features(0.0, c, 1.0, 0.0, 0.0, y)
    assert jumps.size >= 1
    for jump in jumps:
        minima = sorted(naive.erf_moreau_minima(y, jump, c, points=20001), key=lambda m: m[1])
        assert len(minima) >= 2
        assert abs(minima[0][1] - minima[1][1]) < 1e-12
        low, high = sorted([minima[0][0], minima[1][0]])
        below = naive.erf_prox(y, jump - 1e-9, c)
        above = naive.erf_prox(y, jump + 1e-9, c)
        assert abs(below - low) < abs(below - high)
        assert abs(above - high) < abs(above - low)


@pytest.mark.parametrize("state", SMOOTH_STATES)
def test_smooth_lines_take_a_smaller_rule(state):
    """The states above do use the smaller rules (else the test before proves nothing about them)."""
    m, chi, gamma, _ = state
    row = smooth_rule(gamma * math.sqrt(1.0 - m * m), ERM_SMOOTH_SLOPE, 96)
    assert row == SMOOTH_STATES.index(state) + 2  # rows of 24, 32, 48, 64 nodes
    assert smooth_line(0.0, gamma**2 * chi)


def test_erm_sums_against_adaptive_quadrature_where_convex():
    """A state whose Moreau objective is convex on every line (smooth integrand): the 96-node rule converges."""
    m, chi, gamma, beta = 0.9, 0.5, 1.1, -0.05
    cross = math.sqrt(1 - m * m)
    got = _sums(erm_sums, m, chi, gamma, beta, 0.0)

    def integrand(tau, eta, xi):
        omega = m * tau + cross * eta
        a = gamma * omega + beta
        c = gamma**2 * chi
        env, h, dh, lh = channels.moreau(ERF, naive.act("erf", tau), a, c)
        g_a = (h - a) / c
        return np.array([-env, (gamma * g_a) ** 2, tau * gamma * g_a, eta * gamma * g_a / cross,
                         omega * g_a + gamma * chi * g_a**2, g_a, lh])

    want = naive.outer_average(integrand, False, 0.0)
    np.testing.assert_allclose(got, want, rtol=0.0, atol=1e-9)


def _line_averages(y, c, offset, slope, x, w):
    """Averages over eta of the envelope, g_a^2, eta g_a/slope, the loss and g_a along a = offset + slope eta."""
    a = offset + slope * x
    h, dh, lh, env = (np.empty(x.size) for _ in range(4))
    erf_erm_line(y, c, a, np.argsort(a), h, dh, lh, env)
    g_a = (h - a) / c
    return np.array([w @ env, w @ (g_a * g_a), w @ (x * g_a) / slope, w @ lh, w @ g_a])


@pytest.mark.parametrize("row", [row for row, slope in enumerate(ERM_SMOOTH_SLOPES) if slope > 0.0])
@pytest.mark.parametrize("y,offset", [(0.0, 0.3), (-1.4, 2.0), (2.4, -4.0)])
def test_smooth_rules_at_their_largest_slope(row, y, offset):
    """Each smaller rule at the largest slope ERM uses it for, at the margin of convexity, against 300 nodes."""
    n = SMOOTH_LINE_SIZES[row]
    slope = ERM_SMOOTH_SLOPES[row]
    c = 1.0 / (SMOOTH_LINE_MARGIN * MAX_ERF_CURVATURE * (abs(y) + 1.0))
    fine = _line_averages(y, c, offset, slope, *gauss_hermite(300))
    got = _line_averages(y, c, offset, slope, SMOOTH_LINE_X[row, :n], SMOOTH_LINE_W[row, :n])
    np.testing.assert_allclose(got, fine, rtol=0.0, atol=ERF_SMOOTH_RULE_ATOL / 3)


@pytest.mark.parametrize("field", range(4))
def test_erm_sums_propagate_nan(field):
    """A non-finite state gives NaN sums, as the per-node kernel does (the line kernel would size its grid from it)."""
    state = [0.8, 1.5, 1.1, -0.05]
    state[field] = math.nan
    assert np.isnan(_sums(erm_sums, *state, 0.5)).any()


@pytest.mark.parametrize("state", ROUGH_STATES)
def test_rough_erm_sums_against_adaptive_quadrature(state):
    """The whole sums of states where many lines jump (noise 0, the kernel's teacher rule) against adaptive quadrature
    on every line (split at the jumps and steep points)."""
    m, chi, gamma, beta = state
    r = Problem("erf", "pn", "erm", noise=0.0).rules(96)
    want = np.zeros(N_SUMS)
    for tau, weight in zip(r.tau_x, r.tau_w, strict=True):
        if weight > 1e-16:
            want += weight * _line_reference(m, chi, gamma, beta, tau, math.erf(tau / math.sqrt(2.0)))
    np.testing.assert_allclose(_sums(erm_sums, *state, 0.0), want, rtol=0.0, atol=ERF_ERM_REFERENCE_ATOL)


# states (R, chi, gamma, beta) of the noise 0.5 benchmark curve (pn_gd zeta 0.1): alpha = 0.5 (c = 6.35, cusps at
# |y| = 0.31) and alpha = 0.91 (c = 2.68, cusps at |y| = 0.26)
NOISY_STATES = [(0.480255602, 19.1406688, 0.575797021, 0.0), (0.618796181, 7.04523057, 0.616452873, 0.0)]


def _noisy_sums(state, xi_rule=None, split=False):
    """erf's ERM sums at ``state`` of the noise 0.5 benchmark problem, the label noise per teacher node by
    ``xi_rule(xi_cusps)`` -> (nodes, weights) (xi_cusps: the standard noise at the cusps of erf_erm_cusps within
    |xi| < 9), else by the kernel's split rule (``split``) or 8 Gauss-Hermite nodes."""
    r = Problem("erf", "pn_gd", "erm", zeta=0.1, noise=0.5).rules(96)
    m, chi, gamma, beta = state
    cusps = np.empty(MAX_CUSPS)
    cusps = cusps[:erf_erm_cusps(gamma**2 * chi, cusps)]
    total, out = np.zeros(N_SUMS), np.empty(N_SUMS)
    for tau, weight in zip(r.tau_x, r.tau_w, strict=True):
        xi_x, xi_w = r.xi_x, r.xi_w
        if xi_rule is not None:
            xi = (cusps - math.erf(tau / math.sqrt(2.0))) / 0.5
            xi_x, xi_w = xi_rule(np.sort(xi[np.abs(xi) < 9.0]))
        _per_line(ERF, ERF, m, 1.0, chi, gamma, beta, 0.5, np.array([tau]), np.array([weight]), r.eta_x, r.eta_w,
                  xi_x, xi_w, r.piece_x, r.piece_w, TAIL_CUT, r, out, split=split)
        total += out
    return total


def _split_legendre(xi_cusps):
    """20-node Legendre pieces of at most 0.25 on [-9, 9] split at xi_cusps, normal density included."""
    x, w = np.polynomial.legendre.leggauss(20)
    edges = np.concatenate([[-9.0], xi_cusps, [9.0]])
    nodes, weights = [], []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        cuts = np.linspace(lo, hi, max(int(math.ceil((hi - lo) / 0.25)), 1) + 1)
        for a, b in zip(cuts[:-1], cuts[1:], strict=True):
            u = 0.5 * (a + b) + 0.5 * (b - a) * x
            nodes.append(u)
            weights.append(0.5 * (b - a) * w * np.exp(-0.5 * u * u) / math.sqrt(2.0 * math.pi))
    return np.concatenate(nodes), np.concatenate(weights)


def test_noise_rule_follows_c():
    """At large c = gamma^2 chi the line averages of erf's proximal map vary in the label on scales the default 8-node
    noise rule misses, and are not analytic where a jump is born: at the alpha = 0.5 solution of the noise 0.5
    benchmark curve (pn_gd zeta 0.1) the method's rule (split at the cusps there) agrees with Legendre pieces split at
    the cusps, the fixed 8-node rule does not."""
    problem = Problem("erf", "pn_gd", "erm", zeta=0.1, noise=0.5)
    method = ERMSaddle(problem)
    state = np.array(NOISY_STATES[0])
    m, big_q, chi, gamma, beta = method._fields(state)
    assert erf_noise_rule(gamma * gamma * chi, 8) == (12, True) and erf_noise_rule(0.5, 8) == (8, False)
    reference = _noisy_sums(NOISY_STATES[0], _split_legendre)
    assert np.max(np.abs(method._sums(state) - reference)) < ERF_NOISE_RULE_ATOL
    assert np.max(np.abs(_noisy_sums(NOISY_STATES[0]) - reference)) > 100 * ERF_NOISE_RULE_ATOL


@pytest.mark.parametrize("state", NOISY_STATES)
def test_noise_split_at_the_cusps(state):
    """Across a cusp (erf_erm_cusps) a Gauss-Hermite rule in the noise converges only algebraically: 32 and 64 nodes
    miss the reference split there, the kernel's split rule (29 to 34 nodes a teacher node) does not."""
    reference = _noisy_sums(state, _split_legendre)
    np.testing.assert_allclose(_noisy_sums(state, split=True), reference, rtol=0.0, atol=ERF_NOISE_RULE_ATOL)
    for nodes in (32, 64):  # measured 4.8e-9 and 9.8e-10 at alpha = 0.5, 8.4e-10 for 64 at alpha = 0.91
        hermite = _noisy_sums(state, lambda _, n=nodes: gauss_hermite(n))
        assert np.max(np.abs(hermite - reference)) > 4 * ERF_NOISE_RULE_ATOL


@pytest.mark.parametrize("c", [2.0, 3.7, 6.35, 20.0])
def test_cusps_are_where_a_jump_is_born(c):
    """erf_erm_cusps: where the number of jumps of h*(a) (erf_erm_branches) changes in the label, symmetric in y."""
    cusps = np.empty(MAX_CUSPS)
    cusps = cusps[:erf_erm_cusps(c, cusps)]
    assert cusps.size >= 2
    np.testing.assert_allclose(cusps, -cusps[::-1], rtol=0.0, atol=1e-15)
    for y in cusps:
        sides = [erf_erm_branches(y + d, c, np.empty(MAX_LINE_FEATURES), np.empty(MAX_LINE_FEATURES), np.empty(2),
                                  np.empty(3), np.empty(3), np.empty(BRANCH_SCRATCH))[1] for d in (-1e-7, 1e-7)]
        assert sides[0] != sides[1]
    assert erf_erm_cusps(0.3, np.empty(MAX_CUSPS)) == 0


@pytest.mark.parametrize("split", [False, True])
def test_memo_leaves_the_sums_unchanged(split):
    """The memo from call to call (erm_sums_memo, as the solver passes it) changes only where Newton starts: along a
    sequence of states (a rough one, near-repeats 1e-7 and 1e-4 away as difference quotients and late iterations
    are, a jump in c that changes the lines' rules, a smooth state, back) the sums equal those without a memo to
    round-off, and the memo is written (so the later calls did start from it); also with the label noise split at the
    cusps (``split``: the labels move with c, the memo's start moves with them), whose rules differ by teacher node."""
    r = Problem("erf", "pn", "erm", noise=0.5).rules(96)
    lines = r.tau_x.size * (ERM_NOISE_MEMO_LINES if split else r.xi_x.size)
    memo, memo_line = np.zeros((lines, 3, MEMO_NODES)), np.full((lines, 4), math.nan)
    rough, smooth = (0.8, 1.5, 1.1, -0.05), SMOOTH_STATES[0]
    states = [rough, (0.8, 1.5, 1.1 + 1e-7, -0.05), (0.8, 1.5001, 1.1, -0.0501), (0.8, 3.0, 1.1, -0.05), smooth,
              rough, (0.8 + 1e-7, 1.5, 1.1, -0.05)]
    for m, chi, gamma, beta in states:
        args = (ERF, ERF, m, 1.0, chi, gamma, beta, 0.5, r.tau_x, r.tau_w, r.eta_x, r.eta_w, r.xi_x, r.xi_w,
                r.piece_x, r.piece_w, TAIL_CUT, r)
        got, want = np.empty(N_SUMS), np.empty(N_SUMS)
        _per_line(*args, got, memo, memo_line, split)
        _per_line(*args, want, split=split)
        np.testing.assert_allclose(got, want, rtol=0.0, atol=ERF_ERM_MEMO_ATOL)
        assert split or np.all(memo_line[~np.isnan(memo_line[:, 1]), 1] == gamma**2 * chi)
    assert np.count_nonzero(~np.isnan(memo_line[:, 0])) > lines // 2


@pytest.mark.parametrize("y,c", [(0.3, 6.0), (0.5, 20.0), (1.5, 3.0), (-0.8, 1.0)])
def test_walk_from_a_wrong_memo(y, c):
    """A memo whose h* is wrong (shifted by +-3 into other branches, dh*/da = 0 so that every node takes it) only
    costs Newton steps: the walk still finds each node's global minimiser (clipped into its piece's stretch)."""
    a_x = np.linspace(-7.0, 7.0, 201)
    order = np.arange(a_x.size)
    want = [np.empty(a_x.size) for _ in range(4)]
    erf_erm_line(y, c, a_x, order, *want)
    centers, widths, jumps = np.empty(MAX_LINE_FEATURES), np.empty(MAX_LINE_FEATURES), np.empty(2)
    stretch_lo, stretch_hi = np.empty(3), np.empty(3)
    n_jumps = erf_erm_branches(y, c, centers, widths, jumps, stretch_lo, stretch_hi, np.empty(BRANCH_SCRATCH))[1]
    for shift in (-3.0, 3.0):
        memo = np.stack([a_x, want[0] + shift, np.zeros(a_x.size)])
        got = [np.empty(a_x.size) for _ in range(4)]
        erf_erm_walk(y, c, a_x, order, jumps, n_jumps, stretch_lo, stretch_hi, *got, memo, True, c, y)
        for g, w in zip(got, want, strict=True):
            np.testing.assert_allclose(g, w, rtol=ERF_ERM_LINE_ATOL, atol=ERF_ERM_LINE_ATOL)


def test_sums_are_the_sums_of_their_lines():
    """One call over all lines equals the lines' calls one by one (each line's rule is chosen afresh: the scratch
    shared between lines, the smooth rule's row and the feature rule's piece length by the line's weight, must not
    leak from one line into the next). At a state where lines of every kind (feature rule, smooth, 96-node) occur."""
    m, chi, gamma, beta = 0.79, 2.63, 0.6, 0.0
    r = Problem("erf", "pn", "erm", noise=0.5).rules(96)
    common = (r.eta_x, r.eta_w)
    rest = (r.piece_x, r.piece_w, TAIL_CUT, r)
    whole, line, want = np.empty(N_SUMS), np.empty(N_SUMS), np.zeros(N_SUMS)
    _per_line(ERF, ERF, m, 1.0, chi, gamma, beta, 0.5, r.tau_x, r.tau_w, *common, r.xi_x, r.xi_w, *rest, whole)
    for i in range(r.tau_x.size):
        for k in range(r.xi_x.size):
            _per_line(ERF, ERF, m, 1.0, chi, gamma, beta, 0.5, r.tau_x[i:i + 1], np.array([r.tau_w[i] * r.xi_w[k]]),
                      *common, r.xi_x[k:k + 1], np.ones(1), *rest, line)
            want += line
    np.testing.assert_allclose(whole, want, rtol=0.0, atol=ERF_ERM_MEMO_ATOL)


# states (m, q, chi, gamma, beta) of erf_erm_label_sums: the noise 0.5 benchmark curve's alpha = 0.5 and 0.91 (c = 6.35
# and 2.68, cusps at |y| = 0.31 and 0.26), c = 0.94 (no cusp within reach at noise 0.3), m near sqrt(q) (s = 0.2 and
# 0.1, c = 0.08), q != 1 (flat geometry), gamma < 0 with c = 2.4
LABEL_STATES = [(0.480255602, 1.0, 19.1406688, 0.575797021, 0.0), (0.618796181, 1.0, 7.04523057, 0.616452873, 0.0),
                (0.79, 1.0, 3.0, 0.56, 0.0), (0.98, 1.0, 0.25, 0.55, 0.02), (0.995, 1.0, 0.3, 0.5, 0.0),
                (1.2, 1.7, 1.0, 1.0, -0.1), (0.5, 1.0, 3.0, -0.9, 0.2)]


def _label(state, noise, refine=1.0):
    """erf_erm_label_sums at ``state`` (through erm_sums_memo), or with every rule ``refine`` times finer (8 Legendre
    nodes a piece of the label, 16-node tails, the student field by Legendre pieces out to FEATURE_CUT)."""
    m, q, chi, gamma, beta = state
    r = Problem("erf", "pn", "erm", noise=noise).rules(96)
    out = np.empty(N_SUMS)
    if refine == 1.0:
        erm_sums_memo(ERF, ERF, m, q, chi, gamma, beta, noise, r.tau_x, r.tau_w, r.eta_x, r.eta_w, r.xi_x, r.xi_w,
                      r.piece_x, r.piece_w, TAIL_CUT, r.feature_x, r.feature_w, r.tail_x, r.tail_w, out,
                      np.empty((0, 3, 0)), np.empty((0, 4)), False)
        return out
    y_piece, step, z_piece = label_rule_sizes(m, q, gamma, noise)
    label_x, label_w = np.polynomial.legendre.leggauss(8)
    _label_sums(m, q, chi, gamma, beta, noise, r.feature_x, r.feature_w, r.tail_x, r.tail_w, out, np.empty((0, 3, 0)),
                np.empty((0, 4)), y_piece / refine, step / refine, z_piece / refine, label_x, label_w, 0,
                TAIL_ORDERS[0], FEATURE_CUT)
    return out


@pytest.mark.parametrize("noise", [0.5, 0.3, 0.2, 0.1])
@pytest.mark.parametrize("state", LABEL_STATES)
def test_label_sums_match_the_per_line_kernel(state, noise):
    """The sums with the label as the outer variable (one line of omega per label) against the per-line kernel (a
    line per teacher field and noise node; tested against adaptive quadrature above) with 24 Gauss-Hermite noise
    nodes, split at the cusps where there are any, and against themselves with every rule 4 times finer; from the
    wide noise 0.5 down to ERM_LABEL_NOISE (0.1), where the label's pieces and the teacher field's step stop scaling
    with sigma (ERM_LABEL_Y_MIN, ERM_LABEL_STEP_MIN)."""
    assert label_path(ERF, state[0], state[1], state[3], noise)
    m, q, chi, gamma, beta = state
    r = Problem("erf", "pn", "erm", noise=noise).rules(96)
    want = np.empty(N_SUMS)
    xi_x, xi_w = gauss_hermite(24)
    _per_line(ERF, ERF, m, q, chi, gamma, beta, noise, r.tau_x, r.tau_w, r.eta_x, r.eta_w, xi_x, xi_w, r.piece_x,
              r.piece_w, TAIL_CUT, r, want, split=True)
    got = _label(state, noise)
    np.testing.assert_allclose(got, want, rtol=0.0, atol=ERF_ERM_REFERENCE_ATOL)
    np.testing.assert_allclose(got, _label(state, noise, 4.0), rtol=0.0, atol=ERF_ERM_REFERENCE_ATOL)


def test_label_path_where():
    """erf_erm_label_sums only for an erf teacher with noise >= ERM_LABEL_NOISE and s = sqrt(1 - m^2/q) not tiny."""
    assert label_path(ERF, 0.5, 1.0, 1.0, 0.5) and label_path(ERF, 0.5, 1.0, 1.0, ERM_LABEL_NOISE)
    assert not label_path(ERF, 0.5, 1.0, 1.0, 0.0) and not label_path(ERF, 0.5, 1.0, 1.0, 0.9 * ERM_LABEL_NOISE)
    assert not label_path(ERF, 0.9999, 1.0, 1.0, 0.5) and not label_path(LINEAR, 0.5, 1.0, 1.0, 0.5)
    assert label_path(ERF, 0.5, 4.0, -0.5 * ERM_LABEL_MAX_SLOPE, 0.5)
    assert not label_path(ERF, 0.5, 4.0, -0.51 * ERM_LABEL_MAX_SLOPE, 0.5)


def test_graded_rule_capacity_holds_short_pieces():
    """The label path grades pieces down to ~0.81/slope in z (ERM_LABEL_PIECE): at the largest slope it takes
    (ERM_LABEL_MAX_SLOPE) with MAX_LINE_FEATURES narrow features the rule has more nodes than feature_rule_capacity
    (pieces of FEATURE_PIECE) holds (found as a heap corruption at gamma = 12.9 on pn ERM, erf, noise 0.5, alpha = 1),
    and never more than graded_rule_capacity."""
    legendre_x, legendre_w = np.polynomial.legendre.leggauss(ERM_LABEL_LEGENDRE)
    longest = ERM_LABEL_PIECE[1] / ERM_LABEL_MAX_SLOPE
    centers = np.linspace(-7.0, 7.0, MAX_LINE_FEATURES)
    widths = np.full(MAX_LINE_FEATURES, 1e-9)
    capacity = graded_rule_capacity(MAX_LINE_FEATURES, ERM_LABEL_LEGENDRE, longest)
    nodes, weights = np.empty(2 * capacity), np.empty(2 * capacity)
    count = graded_rule(-FEATURE_CUT, FEATURE_CUT, centers, widths, MAX_LINE_FEATURES, legendre_x, legendre_w, nodes,
                        weights, longest)
    assert feature_rule_capacity(MAX_LINE_FEATURES, ERM_LABEL_LEGENDRE) < count <= capacity
    np.testing.assert_allclose(weights[:count].sum(), math.erf(FEATURE_CUT / math.sqrt(2.0)), rtol=1e-12)


def test_label_memo_leaves_the_sums_unchanged():
    """The memo (one row per label) changes only where Newton starts: along states near-repeating as a solver's
    difference quotients do, a jump in c (the labels move with the cusps) and back, the sums equal those without."""
    r = Problem("erf", "pn", "erm", noise=0.5).rules(96)
    lines = r.tau_x.size * r.xi_x.size
    memo, memo_line = np.zeros((lines, 3, MEMO_NODES)), np.full((lines, 4), math.nan)
    base = LABEL_STATES[1]
    states = [base, (base[0] + 1e-7, *base[1:]), (*base[:2], base[2] * 1.0001, base[3], 1e-4), LABEL_STATES[0],
              LABEL_STATES[3], base]
    for m, q, chi, gamma, beta in states:
        args = (ERF, ERF, m, q, chi, gamma, beta, 0.5, r.tau_x, r.tau_w, r.eta_x, r.eta_w, r.xi_x, r.xi_w,
                r.piece_x, r.piece_w, TAIL_CUT, r.feature_x, r.feature_w, r.tail_x, r.tail_w)
        got, want = np.empty(N_SUMS), np.empty(N_SUMS)
        erm_sums_memo(*args, got, memo, memo_line, False)
        erm_sums_memo(*args, want, np.empty((0, 3, 0)), np.empty((0, 4)), False)
        np.testing.assert_allclose(got, want, rtol=0.0, atol=ERF_ERM_MEMO_ATOL)
    assert np.count_nonzero(memo_line[:, 3] == -3.0) > 30


@pytest.mark.parametrize("cut", [4.5, 6.0, FEATURE_CUT])
def test_label_z_rule(cut):
    """The student field's rule of a label's line: ascending nodes (the walk needs increasing a), the normal density's
    mass and second moment, pieces out to a narrow feature beyond the cut (no tail rule across it)."""
    r = Problem("erf", "pn", "erm", noise=0.5).rules(96)
    nodes, weights = np.empty(1000), np.empty(1000)
    centers, widths = np.array([0.3, 5.5, 5.5]), np.array([0.8, 0.0, 0.05])
    for count in (0, 1, 3):
        n = _label_z_rule(centers, widths, count, cut, 1.5, r.feature_x, r.feature_w, r.tail_x, r.tail_w, nodes,
                          weights)
        x, w = nodes[:n], weights[:n]
        assert np.all(np.diff(x) > 0.0)
        assert abs(w.sum() - 1.0) < 1e-14 and abs(w @ (x * x) - 1.0) < 1e-13
        if count == 3:
            assert np.any(np.abs(x - 5.5) < 0.05) and np.count_nonzero((x > 5.0) & (x < 7.0)) > 20


def test_erm_keeps_the_sums_of_recent_states(monkeypatch):
    """ERMSaddle returns the kept sums of a repeated (state, noise rule) without calling the kernel, the same bits;
    a new state calls it."""
    import statmech_bn.theory.erm as erm

    method = ERMSaddle(Problem("erf", "pn_gd", "erm", zeta=0.1, noise=0.5))
    state = np.array(NOISY_STATES[0])
    first = method._sums(state)
    calls = []
    real = erm.erm_sums_memo
    monkeypatch.setattr(erm, "erm_sums_memo", lambda *args: calls.append(1) or real(*args))
    np.testing.assert_array_equal(method._sums(state.copy()), first)
    assert not calls
    moved = state.copy()
    moved[0] += 1e-6
    assert not np.array_equal(method._sums(moved), first) and len(calls) == 1
