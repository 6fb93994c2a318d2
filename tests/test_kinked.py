"""The averages of the kinked students (relu, sign) at large load, where their channel turns on a scale sqrt(v) << 1:
the Gibbs sums (kernels/kinked.py) against nested adaptive quadrature with breakpoints at the features, eps_g
(loss_sums) against its closed forms up to R = 0.9999, and relu ERM's sums (kernels/relu_erm.py; the kinks of the
proximal map cross the teacher direction at width sqrt(q - m^2)/|m|) against adaptive quadrature in the teacher field.
The 32-node tensor rules they replace miss these by up to O(1) (sign, R = 0.95, q = 0.999), eps_g by 4e-5 relative
(sign, R = 0.999) and relu ERM's sums by up to 0.2 (R = 0.9999, noise 1)."""

import math

import naive
import numpy as np
import pytest
from scipy import integrate, special, stats
from tolerances import KINKED_RTOL

from statmech_bn.kernels import channels, kinked, panels
from statmech_bn.kernels.relu_erm import relu_erm_noisy_average, relu_erm_replica_average
from statmech_bn.kernels.saddle import N_SUMS, erm_sums, gibbs_sums, gibbs_sums_by_quadrature
from statmech_bn.model import ACTIVATIONS
from statmech_bn.quadrature import NORMAL_TAIL_ORDERS, TAIL_CUT, build_rules
from statmech_bn.theory.problem import Problem, generalization_error


def _gibbs_sums(name, m, q, gamma, beta, beta_t, noise=0.0):
    r = Problem(name, "pn", "gibbs", noise=noise).rules()
    out = np.empty(N_SUMS)
    code = ACTIVATIONS[name].code
    gibbs_sums(code, code, m, q, 1.0 - q, gamma, beta, beta_t, noise, r.tau_x, r.tau_w, r.eta_x, r.eta_w, r.xi_x,
               r.xi_w, r.feature_x, r.feature_w, r.tail_x, r.tail_w, out)
    return out


def _nested_reference(name, m, q, gamma, beta, beta_t):
    """The seven noise-free Gibbs sums by nested quad_vec in (tau, eta): eta split around the student's smoothed kink
    c(tau) = -(beta/gamma + m tau)/sqrt(q - m^2) (width sqrt(v)/sqrt(q - m^2)), tau at the teacher's kink and around
    tau* = -beta/(gamma m) (width sqrt(1 - m^2)/|m|), so that every piece is smooth on its own scale."""
    code = ACTIVATIONS[name].code
    v = 1.0 - q
    cross = math.sqrt(q - m * m)
    b = gamma * gamma * v
    offsets = np.array([-12.0, -6.0, -3.0, -1.5, -0.5, 0.0, 0.5, 1.5, 3.0, 6.0, 12.0])

    def integrand(tau, eta):
        y = naive.act(name, tau)
        omega = m * tau + cross * eta
        log_z, g_a, g_aa, mean_loss = channels.tilted(code, y, gamma * omega + beta, b, beta_t)
        f = gamma * g_a
        return naive.phi(eta) * np.array([log_z, f * f, tau * f, gamma**2 * g_aa,
                                          omega * g_a + gamma * v * (g_aa + g_a**2), g_a, mean_loss])

    def over_eta(tau):
        centre = -(beta / gamma + m * tau) / cross
        points = [p for p in centre + offsets * math.sqrt(v) / cross if -11.0 < p < 11.0]
        return naive.phi(tau) * integrate.quad_vec(lambda eta: integrand(tau, eta), -11.0, 11.0, epsabs=1e-13,
                                                   epsrel=1e-12, points=points, limit=400)[0]

    centre = -beta / (gamma * m)
    points = sorted({0.0, *(p for p in centre + offsets * math.sqrt(1.0 - m * m) / abs(m) if -11.0 < p < 11.0)})
    return integrate.quad_vec(over_eta, -11.0, 11.0, epsabs=1e-12, epsrel=1e-11, points=points, limit=400)[0]


def _assert_close(got, want, rtol):
    error = np.max(np.abs(got - want) / (1.0 + np.abs(want)))
    assert error < rtol, f"max |got - want|/(1 + |want|) = {error:.1e}\ngot  {got}\nwant {want}"


KINKED_STATES = [  # (name, m, q, gamma, beta, beta_t): error of the old 32-node tensor rule
    ("sign", 0.9, 0.95, 1.0, -0.2, 2.0),  # 2e-4
    ("sign", 0.95, 0.999, 1.5, 0.0, 2.0),  # 2
    ("sign", 0.99, 0.994, 1.0, 0.0, 2.0),  # 4e-4
    ("sign", 0.8, 0.9, 1.5, 0.2, 20.0),  # 4e-7, low temperature: the branch switches of y = +-1
    ("relu", 0.3, 0.99, 2.0, 0.3, 4.0),  # 4e-3
    ("relu", 0.95, 0.999, 1.5, 0.0, 2.0),  # 2e-2
    ("relu", 0.5, 0.75, 1.0, 0.0, 20.0),  # 2e-4, low temperature: the branch switch in the label
    ("relu", 0.8, 0.9, 1.5, 0.2, 20.0),  # 5e-5
    ("relu", -0.7, 0.8, -0.3, -1.0, 0.1),  # negative gain and overlap
]


@pytest.mark.parametrize("name,m,q,gamma,beta,beta_t", KINKED_STATES)
def test_gibbs_sums_against_nested_quadrature(name, m, q, gamma, beta, beta_t):
    _assert_close(_gibbs_sums(name, m, q, gamma, beta, beta_t), _nested_reference(name, m, q, gamma, beta, beta_t),
                  KINKED_RTOL)


@pytest.mark.parametrize("name,noise", [("relu", 0.3), ("sign", 0.3), ("relu", 1.0)])
def test_gibbs_sums_with_noise_against_fine_tensor_rules(name, noise):
    """With label noise, at a state whose features are broad enough for the tensor rule at 160 teacher, 96 replica
    and 40 noise nodes (converged to ~1e-12 there) to serve as the reference."""
    m, q, gamma, beta, beta_t = 0.6, 0.7, 1.2, 0.1, 2.0
    code = ACTIVATIONS[name].code
    r = build_rules(160, 96, 40, noise)
    want = np.empty(N_SUMS)
    gibbs_sums_by_quadrature(code, code, m, q, 1.0 - q, gamma, beta, beta_t, noise, r.tau_x, r.tau_w, r.eta_x,
                             r.eta_w, r.xi_x, r.xi_w, want)
    _assert_close(_gibbs_sums(name, m, q, gamma, beta, beta_t, noise), want, KINKED_RTOL)


def _sign_eps_exact(overlap, gamma, beta):
    """2 P(sign u != sign(gamma lambda + beta)), gamma > 0, (u, lambda) standard bivariate normal with correlation R:
    P(u < 0, lambda < t) = int_{-inf}^t phi(lambda) Phi(-R lambda / sqrt(1 - R^2)) d lambda, t = -beta/gamma (adaptive
    quadrature split where the conditional probability steps, at lambda = 0)."""
    t = -beta / gamma
    slope = overlap / math.sqrt(1.0 - overlap**2)
    points = sorted({0.0, t})
    edges = [-np.inf, *points]
    pieces = [(lo, hi) for lo, hi in zip(edges[:-1], edges[1:], strict=True) if hi <= t]
    both_below = sum(integrate.quad(lambda x: stats.norm.pdf(x) * stats.norm.cdf(-slope * x), lo, hi, epsabs=1e-15,
                                    epsrel=1e-13, limit=200)[0] for lo, hi in pieces)
    return 2.0 * ((stats.norm.cdf(t) - both_below) + (0.5 - both_below))


@pytest.mark.parametrize("overlap", [0.9, 0.99, 0.999, 0.9999])
@pytest.mark.parametrize("beta", [0.0, 0.05, -0.3])
def test_sign_generalization_error_closed_form(overlap, beta):
    p = Problem("sign", "pn", "high_temperature")
    got = generalization_error(p, p.rules(), overlap, 1.3, beta)
    want = _sign_eps_exact(overlap, 1.3, beta)
    assert abs(got - want) < KINKED_RTOL * want + 1e-13


@pytest.mark.parametrize("overlap", [0.9, 0.99, 0.999, 0.9999])
def test_relu_generalization_error_closed_form(overlap):
    """gamma = 1, beta = 0: eps_g = (1/2)(1 - (sqrt(1 - R^2) + R (pi - arccos R))/pi)."""
    p = Problem("relu", "pn", "high_temperature")
    got = generalization_error(p, p.rules(), overlap, 1.0, 0.0)
    want = 0.5 * (1.0 - (math.sqrt(1.0 - overlap**2) + overlap * (math.pi - math.acos(overlap))) / math.pi)
    assert got == pytest.approx(want, rel=KINKED_RTOL)


RELU = ACTIVATIONS["relu"].code
TEACHERS = {ACTIVATIONS[name].code: name for name in ("linear", "relu", "sign")}
RELU_ERM_STATES = [  # (m, q, chi, gamma, beta, noise): sphere (q = 1, m = R) and none (m = R sqrt(q)) geometries
    (0.9, 1.0, 73.76, 2.063, -0.8068, 0.3),
    (-0.99, 1.0, 0.0102, -2.124, -0.3349, 0.0),
    (-0.99, 1.0, 68.21, -1.831, 1.097, 1.0),
    (0.999, 1.0, 0.0187, 1.388, 1.064, 0.0),
    (0.999, 1.0, 0.0217, -1.056, -1.869, 0.3),
    (-0.9999, 1.0, 14.43, -2.104, -1.489, 0.0),
    (-0.9999, 1.0, 0.0132, 0.4163, 1.862, 0.3),
    (0.9999, 1.0, 0.219, 1.558, -1.169, 1.0),
    (-0.9 * math.sqrt(1.357), 1.357, 31.51, 1.11, -1.162, 0.0),
    (-0.9 * math.sqrt(0.4642), 0.4642, 0.9385, -2.192, -1.088, 1.0),
    (-0.99 * math.sqrt(0.2697), 0.2697, 2.544, -1.932, -0.0341, 0.3),
    (-0.999 * math.sqrt(0.2923), 0.2923, 0.7799, -2.091, 1.279, 0.0),
    (-0.999 * math.sqrt(4.446), 4.446, 0.2956, -0.8846, -1.545, 1.0),
    (-0.9999 * math.sqrt(2.016), 2.016, 0.1265, -2.597, 1.919, 0.0),
    (-0.9999 * math.sqrt(1.511), 1.511, 0.1932, -0.515, 0.6518, 0.3),
    (-0.9999 * math.sqrt(0.9957), 0.9957, 0.1429, -2.744, -1.288, 1.0),
]


def _relu_erm_tau_reference(m, q, chi, gamma, beta, noise, teacher=RELU):
    """The relu ERM sums by adaptive quadrature (quad_vec) over the teacher field of the closed-form average over the
    replica field (and the noise; tests/test_relu_erm.py checks both closed forms), split at the teacher's kink and
    around the points -(beta + k y)/(gamma m) and -(beta + k y)/(gamma m + k) (k = 0, c, sqrt(1 + c) - 1; y = 0, +-1)
    where the kinks of the proximal map cross the teacher direction, at multiples of the width sqrt(q - m^2)/|m|."""
    cross, cuts, moments = math.sqrt(q - m * m), np.empty(3), np.empty(24)
    c = gamma**2 * chi

    def integrand(tau):
        out, clean = np.zeros(N_SUMS), naive.act(TEACHERS[teacher], tau)
        if noise == 0.0:
            relu_erm_replica_average(clean, tau, m, cross, gamma, beta, chi, stats.norm.pdf(tau), cuts, out)
        else:
            relu_erm_noisy_average(clean, tau, m, cross, gamma, beta, chi, noise, stats.norm.pdf(tau), moments, out)
        return out

    width = cross / abs(m)
    offsets = (0.0, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0)
    points = {0.0}
    for k in (0.0, c, math.sqrt(1.0 + c) - 1.0):
        for centre in (*(-(beta + k * y) / (gamma * m) for y in (-1.0, 0.0, 1.0)), -beta / (gamma * m + k)):
            points |= {centre + side * f * width for f in offsets for side in (-1.0, 1.0)}
    return integrate.quad_vec(integrand, -12.0, 12.0, points=sorted(p for p in points if -12.0 < p < 12.0),
                              epsabs=1e-14, epsrel=1e-13, limit=4000)[0]


@pytest.mark.parametrize("m,q,chi,gamma,beta,noise", RELU_ERM_STATES)
def test_relu_erm_sums_against_adaptive_quadrature_in_the_teacher_field(m, q, chi, gamma, beta, noise):
    """relu ERM (erm_sums) up to R = 0.9999, any gain sign, chi 0.01 to 100, noise 0, 0.3, 1: the teacher field's
    feature rule (kernels/relu_erm.py) against adaptive quadrature. The fixed 64-node teacher rule with 8 noise nodes
    it replaces missed these states by 7e-7 to 0.2 (measured now: 2e-10 at most with noise, 4e-15 without: the
    noise-free sums are wholly in closed form)."""
    r = Problem("relu", "pn", "erm", noise=noise).rules(96)
    got = np.empty(N_SUMS)
    erm_sums(RELU, RELU, m, q, chi, gamma, beta, noise, r.tau_x, r.tau_w, r.eta_x, r.eta_w, r.xi_x, r.xi_w, r.piece_x,
             r.piece_w, TAIL_CUT, r.feature_x, r.feature_w, r.tail_x, r.tail_w, got)
    _assert_close(got, _relu_erm_tau_reference(m, q, chi, gamma, beta, noise), KINKED_RTOL)


@pytest.mark.parametrize("order,width", [(10, 3.0), (8, 4.0), (6, 8.0)])
def test_adaptive_feature_rule_orders(order, width):
    """Where every feature is broad, the label averages' rule takes a lower-order Gauss rule of the normal tails
    (panels.TAIL_ORDERS, chosen by the narrowest width): at each order's smallest width, softplus, log Phi and Phi of
    (u - c)/width on the whole line and above a random lower bound (c in [-5, 5] above it), within 1e-12 of adaptive
    quadrature relative to 1 + E|f|."""
    assert panels.TAIL_ORDERS == NORMAL_TAIL_ORDERS
    r = Problem("relu", "pn", "gibbs").rules()
    rng = np.random.default_rng(order)
    functions = (lambda u: np.logaddexp(0.0, u), special.log_ndtr, special.ndtr)
    nodes, weights = np.empty(64), np.empty(64)
    for _ in range(12):
        lower = rng.choice([-np.inf, rng.uniform(-4.0, 3.0)])
        centre = rng.uniform(max(lower, -5.0), 5.0)  # inside: a feature away from the interval counts as wider
        n = panels.adaptive_feature_rule(lower, np.inf, np.array([centre]), np.array([width]), 1, 0, r.feature_x,
                                         r.feature_w, r.tail_x, r.tail_w, nodes, weights)
        assert n == order
        for f in functions:
            got = weights[:n] @ f((nodes[:n] - centre) / width)
            lo = max(lower, -12.0)
            want, size = (integrate.quad(lambda u, g=g, f=f, c=centre: g(f((u - c) / width)) * stats.norm.pdf(u), lo,
                                         12.0, epsabs=1e-14, epsrel=1e-13, limit=200)[0] for g in (lambda z: z, abs))
            assert abs(got - want) < 1e-12 * (1.0 + size)


HERMITE_CASES = [(order, width, 0) for order, width in zip(panels.HERMITE_ORDERS, panels.HERMITE_WIDTHS, strict=True)]
HERMITE_CASES += [(order, width, 1) for order, width in zip(panels.HERMITE_ORDERS, panels.HERMITE_STEP_WIDTHS,
                                                             strict=True)]


def _softplus(u):
    return np.logaddexp(0.0, u)


def _inverse_mills(u):
    return np.exp(stats.norm.logpdf(u) - special.log_ndtr(u))


def _step_integral(u):
    return u * special.ndtr(u) + stats.norm.pdf(u)


@pytest.mark.parametrize("order,width,steps", HERMITE_CASES)
def test_hermite_orders_for_moderately_narrow_features(order, width, steps):
    """On the whole line with the narrowest feature between the last width of panels.HERMITE_WIDTHS and FEATURE_BROAD,
    the feature rules of the kinked students take one Gauss-Hermite rule (panels.HERMITE_ORDERS, chosen by the
    narrowest width; a normal step listed among the first ``steps`` features by HERMITE_STEP_WIDTHS): at each order's
    smallest width, softplus, log Phi, Phi and the inverse Mills ratio of (u - c)/width (a step: Phi and its integral)
    within 1e-12 of adaptive quadrature relative to 1 + E|f| (c in [-7, 7]); a narrower feature gets graded pieces."""
    r = Problem("relu", "pn", "gibbs").rules()
    functions = (special.ndtr, _step_integral) if steps else (_softplus, special.log_ndtr, special.ndtr,
                                                              _inverse_mills)
    last = (panels.HERMITE_STEP_WIDTHS if steps else panels.HERMITE_WIDTHS)[-1]
    nodes, weights = np.empty(4096), np.empty(4096)
    for centre in np.linspace(-7.0, 7.0, 8):
        for rule in (panels.hermite_feature_rule, panels.adaptive_feature_rule):
            n = rule(-np.inf, np.inf, np.array([centre, 0.5]), np.array([width, 2.0 * width]), 2, steps, r.feature_x,
                     r.feature_w, r.tail_x, r.tail_w, nodes, weights)
            assert n == order
            narrow = (np.array([centre]), np.array([0.99 * last]), 1)
            graded = panels.feature_rule(-np.inf, np.inf, *narrow, r.feature_x, r.feature_w, r.tail_x, r.tail_w,
                                         nodes, weights)
            assert rule(-np.inf, np.inf, *narrow, steps, r.feature_x, r.feature_w, r.tail_x, r.tail_w, nodes,
                        weights) == graded
        n = panels.hermite_feature_rule(-np.inf, np.inf, np.array([centre]), np.array([width]), 1, steps, r.feature_x,
                                        r.feature_w, r.tail_x, r.tail_w, nodes, weights)
        points = [centre + k * width for k in (-5.0, -2.0, -1.0, 0.0, 1.0, 2.0, 5.0)]
        for f in functions:
            got = weights[:n] @ f((nodes[:n] - centre) / width)
            want, size = (integrate.quad(lambda u, g=g, f=f, c=centre: g(f((u - c) / width)) * stats.norm.pdf(u), -14.0,
                                         14.0, points=points, epsabs=1e-14, epsrel=1e-13, limit=500)[0]
                          for g in (lambda z: z, abs))
            assert abs(got - want) < 1e-12 * (1.0 + size)


@pytest.mark.parametrize("m,q,gamma,beta", [(0.852942, 0.807117, 0.48298, 0.334292),
                                            (0.176303, 0.110123, 0.272111, 0.390434),
                                            (0.1454408, 0.11060233, 1.00195057, -0.34922514)])
def test_relu_gibbs_sums_with_noise_at_benchmark_states(m, q, gamma, beta):
    """relu with label noise 0.5 at three states of the benchmark curve (pn_gd, T = 0.5; alpha 10, 0.85 and an iterate
    at 0.5), where the label averages take Gauss-Hermite rules: against the tensor rule at 200/128/64 nodes (within
    1.6e-13 of 300/160/80 at the first two). Measured: 2.4e-13, 9.8e-13 and 1.3e-10 (the largest over the 2462 replayed
    states of the curve)."""
    noise, beta_t, code = 0.5, 2.0, ACTIVATIONS["relu"].code
    r = build_rules(200, 128, 64, noise)
    want = np.empty(N_SUMS)
    gibbs_sums_by_quadrature(code, code, m, q, 1.0 - q, gamma, beta, beta_t, noise, r.tau_x, r.tau_w, r.eta_x,
                             r.eta_w, r.xi_x, r.xi_w, want)
    _assert_close(_gibbs_sums("relu", m, q, gamma, beta, beta_t, noise), want, KINKED_RTOL)


def test_sign_gibbs_sums_with_noise_at_large_load():
    """sign with label noise at a state of the benchmark curve (pn_gd, T = 0.5, noise 0.5, q = 0.9927): the channel's
    switch between y = -1 and 1 sweeps through each label's noise as w crosses (+-s x0 - beta)/(gamma sqrt q), on a
    scale ~ (1 + 2 beta_T noise) sqrt(v/q)/slope, which the outer rule now refines (it missed the sums by 2e-8 without).
    Reference: the tensor rule at 200/128/64 nodes (within 4e-13 of 400/200/96)."""
    m, q, v, gamma, beta, beta_t, noise = 0.992998, 0.992696, 0.007304, 1.0, 0.0, 2.0, 0.5
    r = build_rules(200, 128, 64, noise)
    want = np.empty(N_SUMS)
    code = ACTIVATIONS["sign"].code
    gibbs_sums_by_quadrature(code, code, m, q, v, gamma, beta, beta_t, noise, r.tau_x, r.tau_w, r.eta_x, r.eta_w,
                             r.xi_x, r.xi_w, want)
    got = np.empty(N_SUMS)
    d = Problem("sign", "pn", "gibbs", noise=noise).rules()
    gibbs_sums(code, code, m, q, v, gamma, beta, beta_t, noise, d.tau_x, d.tau_w, d.eta_x, d.eta_w, d.xi_x, d.xi_w,
               d.feature_x, d.feature_w, d.tail_x, d.tail_w, got)
    _assert_close(got, want, KINKED_RTOL)


@pytest.mark.parametrize("teacher", ["linear", "sign"])
@pytest.mark.parametrize("noise", [0.0, 0.3])
def test_relu_erm_sums_with_other_teachers(teacher, noise):
    """relu ERM with a linear or sign teacher (affine on either side of its kink) against adaptive quadrature in the
    teacher field."""
    r = Problem("relu", "pn", "erm", noise=noise).rules(96)
    code = ACTIVATIONS[teacher].code
    for m, q, chi, gamma, beta in ((0.999, 1.0, 0.5, 1.3, -0.4), (-0.9 * math.sqrt(2.3), 2.3, 20.0, 0.7, 0.8)):
        got = np.empty(N_SUMS)
        erm_sums(RELU, code, m, q, chi, gamma, beta, noise, r.tau_x, r.tau_w, r.eta_x, r.eta_w, r.xi_x, r.xi_w,
                 r.piece_x, r.piece_w, TAIL_CUT, r.feature_x, r.feature_w, r.tail_x, r.tail_w, got)
        _assert_close(got, _relu_erm_tau_reference(m, q, chi, gamma, beta, noise, code), KINKED_RTOL)


def _noisy_label_reference(a, b, beta_t, mu, sigma, noise):
    """relu's label above its kink with noise, y = tau + noise xi with tau ~ N(mu, sigma^2) restricted to tau > 0: the
    seven summands (slot 2 weighted by tau) at pre-activation a by adaptive quadrature in y, with P(tau > 0 | y) and
    E[tau; tau > 0 | y] in closed form, split around the step and the label's centre."""
    big_s = math.hypot(sigma, noise)
    sc = sigma * noise / big_s
    v = b

    def integrand(y):
        mc = (mu * noise**2 + sigma**2 * y) / big_s**2
        step, tau_mass = special.ndtr(mc / sc), mc * special.ndtr(mc / sc) + sc * stats.norm.pdf(mc / sc)
        log_z, g_a, g_aa, mean_loss = channels.tilted(ACTIVATIONS["relu"].code, y, a, b, beta_t)
        density = stats.norm.pdf((y - mu) / big_s) / big_s
        return density * np.array([step * log_z, step * g_a * g_a, tau_mass * g_a, step * g_aa,
                                   step * a * g_a + step * v * (g_aa + g_a * g_a), step * g_a, step * mean_loss])

    corner = -mu * noise**2 / sigma**2
    points = sorted({*(mu + k * big_s for k in (-3.0, -1.0, 0.0, 1.0, 3.0)),
                     *(corner + k * sc for k in (-6.0, -3.0, -1.0, 0.0, 1.0, 3.0, 6.0))})
    return integrate.quad_vec(integrand, mu - 14.0 * big_s, mu + 14.0 * big_s, points=points, epsabs=1e-15,
                              epsrel=1e-14, limit=4000)[0]


NOISE_RULE_CASES = [  # (a, b, mu, sigma, noise): features of the channel 3 to 60 noise wide (NOISE_ORDERS 3 to 10)
    (0.4, 0.01, -0.3, 0.3, 0.1),
    (0.3, 0.2, 0.5, 0.7, 0.1),
    (-0.2, 0.05, 0.1, 0.4, 0.2),
    (0.8, 0.5, 1.2, 0.9, 0.3),
    (0.1, 0.002, -0.5, 0.2, 0.05),
    (0.5, 0.1, 0.2, 0.127, 0.1),
]


@pytest.mark.parametrize("a,b,mu,sigma,noise", NOISE_RULE_CASES)
def test_relu_noise_rule_above_the_kink(a, b, mu, sigma, noise):
    """relu's noisy label above its kink by the noise rule of kernels/kinked.py (NOISE_ORDERS Gauss-Hermite nodes in
    the noise, one feature rule for tau > 0 at all of them, as the kernel builds them) against adaptive quadrature in
    the label (the normal step P(tau > 0 | y) in closed form), where NOISE_WIDTHS admit a rule: within KINKED_RTOL
    relative to 1 + |want|."""
    beta_t, code = 2.0, ACTIVATIONS["relu"].code
    r = Problem("relu", "pn", "gibbs", noise=noise).rules()
    centers, widths, switch = np.empty(8), np.empty(8), np.zeros(3)
    t_centers, t_widths = np.empty(8), np.empty(8)
    big_s = math.hypot(sigma, noise)
    count = kinked._label_features(code, a, math.sqrt(b), b, beta_t, switch, mu, big_s, centers, widths, 1)
    row = kinked._noise_row(centers, widths, count, big_s, noise, t_centers, t_widths)
    assert row >= 0
    nodes, node_w = np.empty(kinked.MAX_NODES), np.empty(kinked.MAX_NODES)
    n_tau = panels.adaptive_feature_rule(-mu / sigma, np.inf, t_centers, t_widths, count - 1, 0, r.feature_x,
                                         r.feature_w, r.tail_x, r.tail_w, nodes, node_w)
    got = np.zeros(N_SUMS)
    kinked._noise_rule_average(code, a, a, 1.0, b, b, beta_t, channels.kinked_prefix(code, a, b, beta_t), 1.0, mu,
                               sigma, noise, row, nodes, node_w, n_tau, got)
    _assert_close(got, _noisy_label_reference(a, b, beta_t, mu, sigma, noise), KINKED_RTOL)


@pytest.mark.parametrize("order,width", list(zip(kinked.NOISE_ORDERS, kinked.NOISE_WIDTHS, strict=True)))
def test_noise_rule_orders(order, width):
    """NOISE_WIDTHS: the Gauss-Hermite rule of each order of NOISE_ORDERS on softplus, log Phi, Phi and the inverse
    Mills ratio of (xi - c)/width (29 centres c in [-7, 7]) within 1e-12 of composite 40-node Gauss-Legendre
    quadrature on [-14, 14] (pieces 0.25 long) relative to 1 + E|f|; at 0.6 times the width the worst is above
    1e-12 (the width is not far too generous)."""
    row = kinked.NOISE_ORDERS.index(order)
    x, w = kinked._NOISE_X[row, :order], kinked._NOISE_W[row, :order]
    gx, gw = np.polynomial.legendre.leggauss(40)
    edges = np.linspace(-14.0, 14.0, 113)
    half = 0.5 * (edges[1:] - edges[:-1])
    fine_x = ((0.5 * (edges[1:] + edges[:-1]))[:, None] + half[:, None] * gx).ravel()
    fine_w = (half[:, None] * gw).ravel() * stats.norm.pdf(fine_x)
    centres = np.linspace(-7.0, 7.0, 29)[:, None]
    worst = {}
    for scale in (1.0, 0.6):
        d = scale * width
        worst[scale] = max(np.max(np.abs(f((x - centres) / d) @ w - f((fine_x - centres) / d) @ fine_w)
                                  / (1.0 + np.abs(f((fine_x - centres) / d)) @ fine_w))
                           for f in (_softplus, special.log_ndtr, special.ndtr, _inverse_mills))
    assert worst[1.0] < 1e-12
    assert worst[0.6] > 1e-12


@pytest.mark.parametrize("noise,m,q,gamma,beta", [(0.1, 0.2839844057159698, 0.13645983246553198, 0.20146137467524436,
                                                   0.3949306374276861),
                                                  (0.1, 0.7264582737754574, 0.5930399659854643, 0.39691258424609266,
                                                   0.3538803264498896),
                                                  (0.3, 0.310215, 0.180138, 0.255425, 0.388973),
                                                  (0.3, 0.566134, 0.429703, 0.355583, 0.368143)])
def test_relu_gibbs_sums_with_small_noise_at_benchmark_states(noise, m, q, gamma, beta):
    """relu with label noise 0.1 and 0.3 at states of the benchmark curves (pn_gd, T = 0.5), where labels above the
    kink take the noise rule (kernels/kinked.py NOISE_ORDERS): against the tensor rule at 200/128/64 nodes (within
    3e-13 of 300/160/96 at these states). Measured: 1.1e-11, 7e-13, 3.0e-11 and 3.6e-12 (the label rule in y times
    the normal step, which the noise rule replaces there: 4.9e-12, 6.5e-13, 1.7e-13, 1.6e-13)."""
    beta_t, code = 2.0, ACTIVATIONS["relu"].code
    r = build_rules(200, 128, 64, noise)
    want = np.empty(N_SUMS)
    gibbs_sums_by_quadrature(code, code, m, q, 1.0 - q, gamma, beta, beta_t, noise, r.tau_x, r.tau_w, r.eta_x,
                             r.eta_w, r.xi_x, r.xi_w, want)
    _assert_close(_gibbs_sums("relu", m, q, gamma, beta, beta_t, noise), want, KINKED_RTOL)
