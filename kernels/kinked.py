"""The Gibbs averages of :func:`.saddle.gibbs_sums` for the kinked students (relu, sign), with rules built around the
narrow features of their tilted channel.

At large load the student's conditional variance v is small and the tilted channel Z(y, a, b) of :mod:`.channels`
(b = gamma^2 v, s = sqrt(b)) turns on a scale s in its pre-activation a, and at low temperature also on a scale
1/beta_T in the label y (where its two branches h < 0 and h > 0 trade dominance). Fixed Gauss rules in the teacher and
replica fields (tau, eta) cannot resolve features that narrow and oblique, so the average is taken in other coordinates:

- the outer variable is w = omega / sqrt(q) ~ N(0, 1) (omega = m tau + sqrt(q - m^2) eta, the student's field), in
  which a = gamma sqrt(q) w + beta and the band a ~ 0 sits at the fixed w* = -beta/(gamma sqrt q), width
  sqrt(v/q), and the teacher's kink tau = 0, smeared by tau | w, at w = 0 with width sqrt(q - m^2)/|m|;
- given w, tau ~ N(mu, sigma^2), mu = m w / sqrt(q), sigma^2 = 1 - m^2/q, and the label y = g*(tau) + noise xi is
  integrated in closed form where it takes few values (a sign teacher without noise: y = +-1 with probabilities
  Phi(+-mu/sigma); relu: y = 0 with Phi(-mu/sigma)) and otherwise by a rule in the label's own standard variable,
  split at the teacher's kink and refined at the channel's branch switch in y (:func:`_label_features`).

Every rule is a :func:`.panels.feature_rule`, graded only where a feature is narrow, so broad states cost a few dozen
nodes per axis; on the whole line, where the narrowest feature is only moderately narrow (HERMITE_WIDTHS), one
Gauss-Hermite rule of 16 to 64 nodes replaces the graded pieces (:func:`.panels.hermite_feature_rule` for the outer
rule, :func:`.panels.adaptive_feature_rule` for the labels). The tau-weighted slot uses E[tau; branch | w] in closed
form (truncated-normal means). The reference is the tensor Gauss rule of :func:`.saddle.gibbs_sums_by_quadrature` at
many nodes and nested adaptive quadrature in tests/test_kinked.py.
"""

import math

import numpy as np

from ._jit import jit
from .channels import kinked_prefix, kinked_tilted, tilted
from .codes import LINEAR, SIGN
from .panels import (
    FEATURE_CUT,
    FEATURE_PIECE,
    HERMITE_STEP_WIDTHS,
    TAIL_ORDERS,
    adaptive_feature_rule,
    hermite_feature_rule,
    hermite_table,
)
from .special import log_ndtr, mills, norm_cdf, norm_logpdf, norm_pdf

MAX_NODES = 4096
"""Room for one feature rule: two tail rules and the graded pieces of up to eight features down to width 1e-9."""
_MAX_FEATURES = 8
COARSE_MASS = 1e-10
"""A label average of smaller weight (outer weight times the branch's probability) takes the plain 16-node rule of the
normal density, without refinement: its error there (~1e-4 relative for sign's switch of width 0.5 in the label's
standard variable, singular 0.8 off the real axis) adds at most ~1e-12 to sums of order one (summands below ~1e2); on
the replayed benchmark states no sum moved by more than 1e-13 against the refined rule, and sign with noise is 7%
faster per call. relu's noisy labels above its kink (weight times P(tau > 0 | w)) take it too, whose normal step
P(tau > 0 | y) it leaves unrefined: on the 1,440 replayed states of the noise 0.5 benchmark curve the sums moved by at
most 2.2e-13 (1.4e-13 relative to 1 + |sum|), with 2.8% fewer label nodes."""
NEGLIGIBLE_MASS = 1e-18
"""A branch of the teacher's label given w (its sign) whose probability times the outer weight is below this is left
out: with summands below ~1e3 its share of the sums is below 1e-15 (it skips 8% of relu's and 14% of sign's label
averages on the noisy benchmark curves, where sigma = sqrt(1 - m^2/q) is small and the branch far from w certain)."""


NOISE_ORDERS = (3, 4, 5, 6, 8, 10)
NOISE_WIDTHS = (59.0, 22.0, 11.1, 7.0, 4.2, 3.1)
"""relu's noisy labels above its kink, y = tau + noise xi with tau > 0, take the noise xi ~ N(0, 1) by the
Gauss-Hermite rule of NOISE_ORDERS[i] nodes and tau on its half-line by one rule of the noise-free label's kind (the
channel's features in tau's standard variable, centred at xi = 0: the nodes' shifts noise xi are at most 0.03 of the
narrowest feature's width at 3 nodes, 0.1 at 4, 1.6 at 10) where the channel's narrowest feature in y
(:func:`_label_features`) is at least NOISE_WIDTHS[i] times the noise wide (the lowest such order) and that takes fewer
nodes than the label's rule in y = mu + S u times the normal step P(tau > 0 | y) (width noise/sigma in u: graded pieces
for sigma > 2 noise).
NOISE_WIDTHS: the least width (bisection, rounded up) at which the order's worst error on softplus, log Phi, Phi and
the inverse Mills ratio of (xi - c)/width, 57 centres c in [-7, 7], against composite Gauss-Legendre quadrature,
relative to 1 + E|f|, is 1e-13 (2e-13 to 6.5e-13 at 0.9 times it). On the 7,738 replayed states of the relu
benchmark curves (pn_gd, T = 0.5, both branches, noise 0.1 to 1) the sums moved by at most 3.1e-11 relative to
1 + |sum| (noise 0.3; 0.2: 2.3e-11, 0.1: 9.9e-12, 0.5: 8.8e-12, 1: unused), mostly from the low-order tail rules of
tau's half-line (with 16-node tails: ~1e-12); the benchmark's eps_g moved by at most 5.6e-12; the kernel's time per
call on those states (back to back, CPU) fell from 0.65 ms to 0.26 (noise 0.1), 0.54 to 0.34 (0.2), 0.39 to 0.34 (0.3),
0.32 to 0.29 (0.5)."""
_NOISE_X, _NOISE_W = hermite_table(NOISE_ORDERS)
_NOISE_N = np.array(NOISE_ORDERS)
_NOISE_WIDTH = np.array(NOISE_WIDTHS)


GRADED_LEAST = 2 * TAIL_ORDERS[0]
"""Fewest nodes of a rule with graded pieces on the whole line (two tail rules of TAIL_ORDERS[0] nodes, or one and
two or more Legendre pieces where the graded stretch reaches the cut)."""


@jit
def _graded_step(center, width):
    """Whether :func:`.panels.adaptive_feature_rule` gives a normal step of this centre and width (in the standard
    variable) graded pieces: narrower than the last of HERMITE_STEP_WIDTHS and within reach of [-FEATURE_CUT,
    FEATURE_CUT]."""
    return width < HERMITE_STEP_WIDTHS[-1] and abs(center) < FEATURE_CUT + 1.5 * FEATURE_PIECE


@jit
def _noise_row(centers, widths, count, big_s, noise, t_centers, t_widths):
    """Row of the lowest order of NOISE_ORDERS whose width resolves the channel's narrowest feature (the features
    1:count of relu's noisy label above its kink, in u = (y - mu)/S, S = big_s) at this noise, or -1 where none does
    (or none is listed: a label average below COARSE_MASS). Copies those features into t_centers/t_widths in the
    teacher's own variable t = (y - mu)/sigma, as the rule for tau > 0 without noise lists them."""
    if count < 2:
        return -1
    sigma = math.sqrt(big_s * big_s - noise * noise)
    narrowest = math.inf
    for j in range(1, count):
        narrowest = min(narrowest, widths[j] * big_s)
        t_centers[j - 1] = centers[j] * big_s / sigma
        t_widths[j - 1] = widths[j] * big_s / sigma
    for row in range(_NOISE_N.shape[0]):
        if narrowest >= _NOISE_WIDTH[row] * noise:
            return row
    return -1


@jit
def _noise_rule_average(student, a, omega, gamma, v, b, beta_t, prefix, weight, mu, sigma, noise, row, t_nodes,
                        t_weights, n_tau, out):
    """Add weight E[summands(y); tau > 0] for relu's noisy label above its kink, y = tau + noise xi, tau = mu + sigma t:
    xi by the Gauss-Hermite rule of row ``row`` of NOISE_ORDERS and t by the rule t_nodes[:n_tau] (weights with the
    normal density, on t > -mu/sigma) at every node in xi."""
    for k in range(_NOISE_N[row]):
        y0 = mu + noise * _NOISE_X[row, k]
        for j in range(n_tau):
            w = weight * _NOISE_W[row, k] * t_weights[j]
            _kinked_add(student, y0 + sigma * t_nodes[j], a, omega, gamma, v, b, beta_t, prefix, w,
                        w * (mu + sigma * t_nodes[j]), out)


@jit
def gibbs_add(student, y, a, omega, gamma, v, b, beta_t, weight, tau_weight, out):
    """Add the seven Gibbs summands of label y at pre-activation mean a (field omega) with ``weight`` (and
    ``tau_weight`` = weight times tau for slot 2) to ``out``: f_w = gamma g_a, f_ww = gamma^2 g_aa,
    d/dgamma log Z = omega g_a + gamma v (g_aa + g_a^2), d/dbeta log Z = g_a."""
    add_channel(tilted(student, y, a, b, beta_t), omega, gamma, v, weight, tau_weight, out)


@jit
def _kinked_add(student, y, a, omega, gamma, v, b, beta_t, prefix, weight, tau_weight, out):
    """:func:`gibbs_add` for relu and sign with the label-free part of the channel, ``prefix`` =
    :func:`.channels.kinked_prefix` (student, a, b, beta_t), computed once per pre-activation."""
    add_channel(kinked_tilted(student, y, a, b, beta_t, prefix), omega, gamma, v, weight, tau_weight, out)


@jit
def add_channel(channel, omega, gamma, v, weight, tau_weight, out):
    """Add the Gibbs summands of one tilted channel ``channel`` = (log Z, g_a, g_aa, mean loss) to ``out``, as
    :func:`gibbs_add` describes."""
    log_z, g_a, g_aa, mean_loss = channel
    f = gamma * g_a
    out[0] += weight * log_z
    out[1] += weight * f * f
    out[2] += tau_weight * f
    out[3] += weight * gamma * gamma * g_aa
    out[4] += weight * (omega * g_a + gamma * v * (g_aa + g_a * g_a))
    out[5] += weight * g_a
    out[6] += weight * mean_loss


@jit
def sign_switch(d):
    """The x > 0 where log Phi(x) - log Phi(-x) = d > 0, and the slope mills(x) + mills(-x) there (Newton; the left
    side is increasing and convex for x > 0)."""
    x = math.sqrt(2.0 * d) if d > 2.0 else d / 1.6
    for _ in range(60):
        slope = mills(x) + mills(-x)
        step = (log_ndtr(x) - log_ndtr(-x) - d) / slope
        x -= step
        if abs(step) < 1e-12 * (1.0 + x):
            break
    return x, mills(x) + mills(-x)


@jit
def relu_switch(a, s, b, beta_t):
    """Label y where the two branches of relu's tilted channel at pre-activation a weigh the same, and the slope D'(y).

    D(y) = log Z_pos - log Z_neg = -log(k)/2 + beta_T (beta_T b y^2 + 2 a y - a^2)/(2k) + log Phi(z) - log Phi(-a/s),
    z = (a + beta_T b y)/(s sqrt k), k = 1 + beta_T b, has D' = beta_T s (z + mills(z))/sqrt(k) > 0 and D'' > 0, so
    Newton finds its one root; only where it is (to D within 1e-3) matters here, for placing the refinement."""
    k = 1.0 + beta_t * b
    root_k = math.sqrt(k)
    half_log_k = 0.5 * math.log(k)
    sk = s * root_k
    log_neg = log_ndtr(-a / s)
    y = -a / (beta_t * b)
    slope = 1.0
    for _ in range(60):
        z = (a + beta_t * b * y) / sk
        log_phi_z = log_ndtr(z)  # once for D and for mills(z) = exp(log phi(z) - log Phi(z))
        d = -half_log_k + beta_t * (beta_t * b * y * y + 2.0 * a * y - a * a) / (2.0 * k) + log_phi_z - log_neg
        slope = beta_t * s * (z + math.exp(norm_logpdf(z) - log_phi_z)) / root_k
        step = d / slope
        y -= step
        if abs(d) < 1e-3 or abs(step) < 1e-9 * (1.0 + abs(y)):
            break
    return y, slope


@jit
def _label_features(student, a, s, b, beta_t, switch, y0, y_scale, centers, widths, count):
    """Append the smoothness scales of the channel at pre-activation a in the label as features of the label's standard
    variable u (y = y0 + y_scale u), broad ones included (:func:`.panels.adaptive_feature_rule` chooses its tail order
    by them). sign: the branch switch at y = -(log Phi(a/s) - log Phi(-a/s))/(2 beta_T), width 1/(2 beta_T) (log Z is
    a log cosh there, singular pi/(4 beta_T) off the real axis). relu: the switch at the root of :func:`relu_switch`,
    width 1/D'; and the positive branch's log Phi(z), z = (a + beta_T b y)/(s sqrt k), and its truncated moments, on
    the scale sqrt(k)/(beta_T s) in y about z = 0 (the zeros of Phi nearest the real axis lie 2.8 off it in z), listed
    at that scale (it was listed at least FEATURE_BROAD wide, for the order of the tail rules only; with the
    Gauss-Hermite orders of :data:`.panels.HERMITE_ORDERS` chosen by the narrowest feature that missed relu's sums
    with noise 1 by 3e-8, and the 16-node rules alone missed them by 4e-10). ``switch``: relu's (y, D'(y), known) at
    this pre-activation, computed on the first call (known = 0) and kept for the other label averages of the same a.
    Returns the new count."""
    if student == SIGN:
        x = a / s
        centers[count] = (-(log_ndtr(x) - log_ndtr(-x)) / (2.0 * beta_t) - y0) / y_scale
        widths[count] = 1.0 / (2.0 * beta_t * y_scale)
        return count + 1
    if switch[2] == 0.0:
        switch[0], switch[1] = relu_switch(a, s, b, beta_t)
        switch[2] = 1.0
    y, slope = switch[0], switch[1]
    if math.isfinite(y):
        centers[count] = (y - y0) / y_scale
        widths[count] = 1.0 / (slope * y_scale)
        count += 1
    k = 1.0 + beta_t * b
    centers[count] = (-a / (beta_t * b) - y0) / y_scale
    widths[count] = math.sqrt(k) / (beta_t * s * y_scale)
    return count + 1


@jit
def _label_average(student, a, s, omega, gamma, v, b, beta_t, prefix, switch, weight, tau0, tau_scale, y0, y_scale,
                   lower, legendre_x, legendre_w, tail_x, tail_w, centers, widths, nodes, node_w, out):
    """Add weight E_u[summands(y0 + y_scale u); u > lower] over u ~ N(0, 1), with the teacher field tau = tau0 +
    tau_scale u (tau_scale = 0: a constant; relu's teacher above its kink: tau = mu + sigma u), refined at the
    channel's switch."""
    count = 0 if weight < COARSE_MASS else _label_features(student, a, s, b, beta_t, switch, y0, y_scale, centers,
                                                           widths, 0)
    n = adaptive_feature_rule(lower, math.inf, centers, widths, count, 0, legendre_x, legendre_w, tail_x, tail_w,
                              nodes, node_w)
    for j in range(n):
        y = y0 + y_scale * nodes[j]
        w = weight * node_w[j]
        _kinked_add(student, y, a, omega, gamma, v, b, beta_t, prefix, w, w * (tau0 + tau_scale * nodes[j]),
                    out)


@jit
def kinked_gibbs_sums(student, teacher, m, q, v, gamma, beta, beta_t, noise, legendre_x, legendre_w, tail_x, tail_w,
                      out):
    """:func:`.saddle.gibbs_sums_by_quadrature` for student relu or sign and teacher linear, relu or sign, with
    gamma != 0 and q > 0 (see the module docstring)."""
    for i in range(out.shape[0]):
        out[i] = 0.0
    sq = math.sqrt(q)
    sigma = math.sqrt(max(1.0 - m * m / q, 0.0))
    b = gamma * gamma * v
    s = math.sqrt(b)
    centers = np.empty(_MAX_FEATURES)
    widths = np.empty(_MAX_FEATURES)
    count = 0
    centers[count] = -beta / (gamma * sq)  # the band a ~ 0
    widths[count] = s / (abs(gamma) * sq)
    count += 1
    if teacher != LINEAR and m != 0.0:  # the teacher's kink tau = 0 seen through tau | w
        centers[count] = 0.0
        widths[count] = sigma * sq / abs(m)
        count += 1
    if student == SIGN and teacher == SIGN:  # the switches of the labels y = +-1 (with noise, of their centres)
        x0, slope = sign_switch(2.0 * beta_t)
        for side in (-1.0, 1.0):
            centers[count] = (side * s * x0 - beta) / (gamma * sq)
            widths[count] = (1.0 + 2.0 * beta_t * noise) * s / (slope * abs(gamma) * sq)
            count += 1
    outer_x = np.empty(MAX_NODES)
    outer_w = np.empty(MAX_NODES)
    n_outer = hermite_feature_rule(-math.inf, math.inf, centers, widths, count, 0, legendre_x, legendre_w, tail_x,
                                   tail_w, outer_x, outer_w)
    nodes = np.empty(MAX_NODES)
    node_w = np.empty(MAX_NODES)
    big_s = math.sqrt(sigma * sigma + noise * noise)
    switch = np.zeros(3)
    spare_c = np.empty(_MAX_FEATURES)
    spare_w = np.empty(_MAX_FEATURES)
    spare_x = np.empty(MAX_NODES)
    spare_n = np.empty(MAX_NODES)
    for i in range(n_outer):
        omega = sq * outer_x[i]
        a = gamma * omega + beta
        prefix = kinked_prefix(student, a, b, beta_t)
        switch[2] = 0.0  # relu's branch switch in y at this a: not yet computed
        mu = m * outer_x[i] / sq
        weight = outer_w[i]
        if teacher == LINEAR:  # y = tau + noise xi ~ N(mu, sigma^2 + noise^2); E[tau | y] = mu + sigma^2 (y - mu)/S^2
            if big_s == 0.0:
                _kinked_add(student, mu, a, omega, gamma, v, b, beta_t, prefix, weight, weight * mu, out)
                continue
            count = _label_features(student, a, s, b, beta_t, switch, mu, big_s, centers, widths, 0)
            n = adaptive_feature_rule(-math.inf, math.inf, centers, widths, count, 0, legendre_x, legendre_w, tail_x,
                                      tail_w, nodes, node_w)
            for j in range(n):
                y = mu + big_s * nodes[j]
                w = weight * node_w[j]
                tau = mu + sigma * sigma * (y - mu) / big_s**2
                _kinked_add(student, y, a, omega, gamma, v, b, beta_t, prefix, w, w * tau, out)
            continue
        if sigma > 0.0:  # the teacher's sign given w: probabilities and E[tau; sign]
            r = mu / sigma
            p_pos = norm_cdf(r)
            p_neg = norm_cdf(-r)
            t_pos = mu * p_pos + sigma * norm_pdf(r)
            t_neg = mu * p_neg - sigma * norm_pdf(r)
        else:
            p_pos = 1.0 if mu > 0.0 else 0.0
            p_neg = 1.0 - p_pos
            t_pos = mu * p_pos
            t_neg = mu * p_neg
        for side in (-1.0, 1.0):
            p = p_pos if side > 0.0 else p_neg
            t = t_pos if side > 0.0 else t_neg
            if weight * p < NEGLIGIBLE_MASS:
                continue
            if teacher == SIGN or side < 0.0:  # y = side (sign) or 0 (relu below its kink), plus noise
                y0 = side if teacher == SIGN else 0.0
                if noise == 0.0:
                    _kinked_add(student, y0, a, omega, gamma, v, b, beta_t, prefix, weight * p, weight * t, out)
                else:
                    _label_average(student, a, s, omega, gamma, v, b, beta_t, prefix, switch, weight * p, t / p, 0.0,
                                   y0, noise, -math.inf, legendre_x, legendre_w, tail_x, tail_w, centers, widths, nodes,
                                   node_w, out)
            elif sigma == 0.0 or noise == 0.0:  # relu above its kink: y = tau (+ noise xi), tau > 0
                if sigma == 0.0 and noise == 0.0:
                    _kinked_add(student, mu, a, omega, gamma, v, b, beta_t, prefix, weight, weight * mu, out)
                elif sigma == 0.0:
                    _label_average(student, a, s, omega, gamma, v, b, beta_t, prefix, switch, weight, mu, 0.0, mu,
                                   noise, -math.inf, legendre_x, legendre_w, tail_x, tail_w, centers, widths, nodes,
                                   node_w, out)
                else:
                    _label_average(student, a, s, omega, gamma, v, b, beta_t, prefix, switch, weight, mu, sigma,
                                   mu, sigma, -mu / sigma, legendre_x, legendre_w, tail_x, tail_w, centers, widths,
                                   nodes, node_w, out)
            else:  # relu above its kink with noise: y ~ N(mu, S^2) times P(tau > 0 | y), tau | y ~ N(mc, sc^2)
                centers[0] = -mu * big_s / (sigma * sigma)  # P(tau > 0 | y) = Phi(mc/sc), a normal step at mc = 0,
                widths[0] = noise / sigma  # width noise/sigma
                count = 0  # below COARSE_MASS: the plain rule, as the labels below the kink
                if weight * p >= COARSE_MASS:
                    count = _label_features(student, a, s, b, beta_t, switch, mu, big_s, centers, widths, 1)
                n_tau = 0
                row = _noise_row(centers, widths, count, big_s, noise, spare_c, spare_w)
                if row >= 0:  # xi by a Gauss-Hermite rule and tau > 0 as without noise, where that takes fewer nodes
                    n_tau = adaptive_feature_rule(-mu / sigma, math.inf, spare_c, spare_w, count - 1, 0, legendre_x,
                                                  legendre_w, tail_x, tail_w, spare_x, spare_n)
                n = 0  # the rule in y, not built where the noise rule certainly takes fewer nodes (it is graded)
                if row < 0 or _NOISE_N[row] * n_tau >= GRADED_LEAST or not _graded_step(centers[0], widths[0]):
                    n = adaptive_feature_rule(-math.inf, math.inf, centers, widths, count, 1, legendre_x, legendre_w,
                                              tail_x, tail_w, nodes, node_w)
                if row >= 0 and (n == 0 or _NOISE_N[row] * n_tau < n):
                    _noise_rule_average(student, a, omega, gamma, v, b, beta_t, prefix, weight, mu, sigma, noise, row,
                                        spare_x, spare_n, n_tau, out)
                    continue
                sc = sigma * noise / big_s
                for j in range(n):
                    y = mu + big_s * nodes[j]
                    mc = (mu * noise * noise + sigma * sigma * y) / (big_s * big_s)
                    pc = norm_cdf(mc / sc)
                    w = weight * node_w[j]
                    _kinked_add(student, y, a, omega, gamma, v, b, beta_t, prefix, w * pc,
                                w * (mc * pc + sc * norm_pdf(mc / sc)), out)
