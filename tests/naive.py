"""Slow, obvious reference implementations (SciPy adaptive quadrature, brute-force minimisation).

Nothing here shares code with the kernels except where a test says so explicitly: activations and
losses are re-implemented, derivatives are central finite differences of the references.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import integrate, optimize, special

INF = np.inf


def act(name: str, z: float) -> float:
    if name == "linear":
        return z
    if name == "relu":
        return max(z, 0.0)
    if name == "erf":
        return math.erf(z / math.sqrt(2.0))
    if name == "sign":
        return float(np.sign(z))
    raise ValueError(name)


def loss(name: str, y: float, h: float) -> float:
    return 0.5 * (y - act(name, h)) ** 2


def phi(z: float) -> float:
    return math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)


def gauss_expect(f, a: float, b: float, kinks=(0.0,)) -> float:
    """E[f(h)], h ~ N(a, b), by adaptive quadrature split at the kinks of f."""
    s = math.sqrt(b)
    cuts = sorted((k - a) / s for k in kinks)
    edges = [-INF, *cuts, INF]
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        total += integrate.quad(lambda z: phi(z) * f(a + s * z), lo, hi, epsabs=1e-14, epsrel=1e-12, limit=200)[0]
    return total


def expected_loss(name, y, a, b, delta=1e-5):
    """(e, e_a, e_b) with derivatives by central differences."""
    def e(a_, b_):
        return gauss_expect(lambda h: loss(name, y, h), a_, b_)
    return (e(a, b), (e(a + delta, b) - e(a - delta, b)) / (2 * delta),
            (e(a, b + delta) - e(a, b - delta)) / (2 * delta))


def tilted(name, y, a, b, beta_t, delta=1e-4):
    """(log Z, d log Z/da, d^2 log Z/da^2, <l>) with derivatives by central differences."""
    def log_z(a_):
        return math.log(gauss_expect(lambda h: math.exp(-beta_t * loss(name, y, h)), a_, b))
    z0 = math.exp(log_z(a))
    mean_loss = gauss_expect(lambda h: loss(name, y, h) * math.exp(-beta_t * loss(name, y, h)), a, b) / z0
    lp, l0, lm = log_z(a + delta), log_z(a), log_z(a - delta)
    return l0, (lp - lm) / (2 * delta), (lp - 2 * l0 + lm) / delta**2, mean_loss


def moreau(name, y, a, c, delta=1e-3):
    """(M, h*, dh*/da, l(y, h*)) by a dense grid and bounded refinement."""
    def argmin(a_):
        width = c * (abs(y) + 2.0) + 1.0
        grid = np.linspace(a_ - width, a_ + width, 20001)
        values = np.array([loss(name, y, h) + (h - a_) ** 2 / (2 * c) for h in grid])
        i = int(np.argmin(values))
        step = grid[1] - grid[0]
        res = optimize.minimize_scalar(lambda h: loss(name, y, h) + (h - a_) ** 2 / (2 * c),
                                       bounds=(grid[i] - step, grid[i] + step), method="bounded",
                                       options={"xatol": 1e-14})
        return res.x
    h = argmin(a)
    dh = (argmin(a + delta) - argmin(a - delta)) / (2 * delta)
    return loss(name, y, h) + (h - a) ** 2 / (2 * c), h, dh, loss(name, y, h)


def outer_average(integrand, teacher_kink: bool, noise: float):
    """E over tau, eta (and xi when noise > 0) of a vector integrand(tau, eta, xi), nested quad_vec."""
    def over_eta(tau, xi):
        return integrate.quad_vec(lambda eta: phi(eta) * integrand(tau, eta, xi), -12, 12, epsabs=1e-10,
                                  epsrel=1e-9, points=(0.0,))[0]

    def over_tau(xi):
        points = (0.0,) if teacher_kink else None
        return integrate.quad_vec(lambda tau: phi(tau) * over_eta(tau, xi), -12, 12, epsabs=1e-10,
                                  epsrel=1e-9, points=points)[0]

    if noise == 0.0:
        return over_tau(0.0)
    return integrate.quad_vec(lambda xi: phi(xi) * over_tau(xi), -10, 10, epsabs=1e-9, epsrel=1e-8)[0]


def ridge_generalization_error(alpha: float, ridge: float, noise: float, temperature: float = 0.0) -> float:
    """eps_g of ridge regression (T = 0) or of a Gibbs sample of the Gaussian posterior (T > 0).

    Linear teacher and student, ``none``, loss (1/2) sum (y - w.x/sqrt N)^2 + (ridge/2)|w|^2, inputs
    N(0, 1): the estimate is w_hat = (S + ridge)^(-1) X^T y / sqrt(N) with S = X^T X / N, whose spectrum
    follows the Marchenko-Pastur law (Hastie, Montanari, Rosset & Tibshirani 2019; Dobriban & Wager
    2018). With m(z) = (1/N) tr (S - z)^(-1), the solution of -z m^2 + (alpha - 1 - z) m - 1 = 0:
    |w_hat - w*|^2/N = ridge^2 m'(-ridge) + noise^2 (m(-ridge) - ridge m'(-ridge)), and a Gibbs sample
    adds the posterior covariance T (S + ridge)^(-1), i.e. T m(-ridge). eps_g = (1/2) of the total.
    """
    lam = ridge
    b = alpha - 1.0 + lam
    m = (-b + math.sqrt(b * b + 4.0 * lam)) / (2.0 * lam)
    dm = m * (1.0 + m) / (alpha - 1.0 + lam + 2.0 * lam * m)
    return 0.5 * (lam**2 * dm + noise**2 * (m - lam * dm) + temperature * m)


def relu_erm_fit(x, y, normalizer, zeta, weight_decay, rng, inits=3):
    """Finite-N ERM of the relu block by L-BFGS on (w, gamma, beta), best of ``inits`` random starts.

    Objective: sum_mu (y_mu - relu(h_hat_mu))^2/2 + P zeta gamma^2 (pn_gd) or + (wd/2)|w|^2 (none), with
    h_hat = gamma w.x/|w| + beta or w.x/sqrt(N) + beta. Returns (R, scale, beta) of the minimiser, the order
    parameters that fix eps_g for Gaussian inputs (scale = gamma, or L = |w|/sqrt N for none).
    """
    p, n = x.shape
    sqrt_n = math.sqrt(n)

    def objective(theta):
        w, gamma, beta = theta[:n], theta[n], theta[n + 1]
        h = x @ w / sqrt_n
        grad = np.zeros_like(theta)
        if normalizer == "none":
            a = h + beta
        else:
            norm = np.linalg.norm(w) / sqrt_n
            lam = h / norm
            a = gamma * lam + beta
        out = np.maximum(a, 0.0)
        r = out - y
        d = r * (a > 0)
        f = 0.5 * r @ r
        if normalizer == "none":
            f += 0.5 * weight_decay * w @ w
            grad[:n] = x.T @ d / sqrt_n + weight_decay * w
        else:
            f += p * zeta * gamma**2
            g_lam = x.T @ d * gamma / (sqrt_n * norm)
            grad[:n] = g_lam - (g_lam @ w) * w / (n * norm**2)
            grad[n] = d @ lam + 2 * p * zeta * gamma
        grad[n + 1] = d.sum()
        return f, grad

    best = None
    for _ in range(inits):
        theta0 = np.concatenate([rng.standard_normal(n), [1.0, 0.0]])
        res = optimize.minimize(objective, theta0, jac=True, method="L-BFGS-B",
                                options={"maxiter": 5000, "gtol": 1e-9, "maxcor": 30})
        if best is None or res.fun < best.fun:
            best = res
    w, gamma, beta = best.x[:n], best.x[n], best.x[n + 1]
    return w, gamma, beta


# Mini-batch SGD of the block on a fixed training set (kernels/sgd.py), with whole-batch NumPy operations.
# kind: "batch" (bn: batch mean and biased batch std, backprop through both), "population" (pn/wn/pn_gd:
# field gamma w.x/|w| + beta) or "plain" (none: field w.x/sqrt(N) + beta, gamma unused). Per-sample objective
# (g(a) - y)^2/2 + zeta gamma^2 (batch, population) or + weight_decay/(2p) |w|^2 (plain), p the training-set size.


def _g(name: str, z: np.ndarray) -> np.ndarray:
    if name == "linear":
        return z
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "erf":
        return special.erf(z / math.sqrt(2.0))
    raise ValueError(name)


def _g_prime(name: str, z: np.ndarray) -> np.ndarray:
    if name == "linear":
        return np.ones_like(z)
    if name == "relu":
        return (z > 0.0).astype(float)
    if name == "erf":
        return math.sqrt(2.0 / math.pi) * np.exp(-0.5 * z * z)
    raise ValueError(name)


def batch_fields(kind, xb, w, gamma, beta):
    """The fields a of the batch rows xb (M, N)."""
    h = xb @ w / math.sqrt(xb.shape[1])
    if kind == "batch":
        return gamma * (h - h.mean()) / h.std() + beta
    if kind == "population":
        return gamma * (xb @ w) / np.linalg.norm(w) + beta
    if kind == "plain":
        return h + beta
    raise ValueError(kind)


def batch_objective(kind, activation_name, xb, yb, w, gamma, beta, zeta, weight_decay, p):
    """Batch mean of the per-sample objective (for finite differences)."""
    a = batch_fields(kind, xb, w, gamma, beta)
    value = 0.5 * np.mean((_g(activation_name, a) - yb) ** 2)
    if kind == "plain":
        return value + weight_decay / (2 * p) * (w @ w)
    return value + zeta * gamma**2


def batch_gradient_reference(kind, activation_name, xb, yb, w, gamma, beta, zeta, weight_decay, p):
    """(objective, dF/dw, dF/dgamma, dF/dbeta) of the batch mean; BN by the textbook backward pass."""
    m, n = xb.shape
    a = batch_fields(kind, xb, w, gamma, beta)
    da = (_g(activation_name, a) - yb) * _g_prime(activation_name, a) / m
    objective = batch_objective(kind, activation_name, xb, yb, w, gamma, beta, zeta, weight_decay, p)
    if kind == "plain":
        return objective, xb.T @ da / math.sqrt(n) + weight_decay / p * w, 0.0, da.sum()
    if kind == "population":
        norm = np.linalg.norm(w)
        lam = xb @ w / norm
        dlam = gamma * da
        grad_w = xb.T @ dlam / norm - (dlam @ lam) * w / norm**2
        return objective, grad_w, da @ lam + 2 * zeta * gamma, da.sum()
    h = xb @ w / math.sqrt(n)
    mu = h.mean()
    var = ((h - mu) ** 2).mean()
    xhat = (h - mu) / np.sqrt(var)
    dxhat = gamma * da
    dvar = np.sum(dxhat * (h - mu)) * -0.5 * var**-1.5
    dmu = -np.sum(dxhat) / np.sqrt(var) + dvar * np.mean(-2.0 * (h - mu))
    dh = dxhat / np.sqrt(var) + dvar * 2.0 * (h - mu) / m + dmu / m
    return objective, xb.T @ dh / math.sqrt(n), da @ xhat + 2 * zeta * gamma, da.sum()


def sgd_epoch_reference(activation_name, kind, x, y, permutation, batch_size, lr_w, lr_scalar, zeta, weight_decay,
                        w, gamma, beta):
    """One epoch of mini-batch SGD, batch b = permutation[b M:(b + 1) M], the incomplete last batch skipped.

    Returns (w, gamma, beta, mean over batches of the batch objective before each step); w is not modified.
    """
    p = x.shape[0]
    w = np.array(w, dtype=float)
    objectives = []
    for b in range(p // batch_size):
        rows = permutation[b * batch_size:(b + 1) * batch_size]
        objective, grad_w, d_gamma, d_beta = batch_gradient_reference(kind, activation_name, x[rows], y[rows], w,
                                                                      gamma, beta, zeta, weight_decay, p)
        objectives.append(objective)
        w = w - lr_w * grad_w
        if kind != "plain":
            gamma = gamma - lr_scalar * d_gamma
        beta = beta - lr_scalar * d_beta
    return w, gamma, beta, (sum(objectives) / len(objectives) if objectives else math.nan)


def xoshiro256pp(state: list[int], count: int) -> list[int]:
    """xoshiro256++ in plain Python integers, transcribed from the reference C code (xoshiro256plusplus.c) of
    Blackman & Vigna, ACM TOMS 47 (2021); advances ``state`` (4 ints) in place."""
    mask = (1 << 64) - 1

    def rotl(x, k):
        return ((x << k) | (x >> (64 - k))) & mask

    out = []
    for _ in range(count):
        s0, s1, s2, s3 = state
        out.append((rotl((s0 + s3) & mask, 23) + s0) & mask)
        t = (s1 << 17) & mask
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = rotl(s3, 45)
        state[:] = [s0, s1, s2, s3]
    return out


def normalized_preactivation(normalizer: str, weights: np.ndarray, inputs: np.ndarray, gamma: float, beta: float,
                             input_mean: float = 0.0) -> np.ndarray:
    """h_hat of the block for a batch of inputs (rows), with population statistics for pn (docs/science.md).

    ``input_mean`` is the mean m of every input component (unit variance), so the population mean and standard
    deviation of h = w.x/sqrt(N) are m sum(w)/sqrt(N) and |w|/sqrt(N); wn divides by |w|/sqrt(N) without centering.
    """
    n = weights.shape[0]
    h = inputs @ weights / np.sqrt(n)
    norm = np.linalg.norm(weights) / np.sqrt(n)
    if normalizer == "pn":
        return gamma * (h - input_mean * weights.sum() / np.sqrt(n)) / norm + beta
    if normalizer == "wn":
        return gamma * h / norm + beta
    raise ValueError(f"no reference for {normalizer!r}")


def bivariate_cdf_owen(h: float, k: float, rho: float) -> float:
    """Phi2(h, k; rho) = P(X <= h, Y <= k) by Owen's T function (Owen 1956, Ann. Math. Statist. 27, 1075):
    Phi(h)/2 + Phi(k)/2 - T(h, a_h) - T(k, a_k) - b, a_h = (k - rho h)/(h sqrt(1 - rho^2)), a_k alike, b = 1/2 when
    h k < 0 or (h k = 0 and h + k < 0), else 0. Needs |rho| < 1 and (h, k) != (0, 0)."""
    r = math.sqrt((1.0 - rho) * (1.0 + rho))

    def t(x, y):  # T(x, (y - rho x)/(x r)), T(0, a) = atan(a)/(2 pi)
        if x == 0.0:
            return math.copysign(0.25, y - rho * x)
        return special.owens_t(x, (y - rho * x) / (x * r))

    b = 0.5 if h * k < 0.0 or (h * k == 0.0 and h + k < 0.0) else 0.0
    return 0.5 * special.ndtr(h) + 0.5 * special.ndtr(k) - t(h, k) - t(k, h) - b


def act_prime(name: str, z: float) -> float:
    """g'(z): 1, 1[z > 0], sqrt(2/pi) exp(-z^2/2), 0 for linear, relu, erf, sign."""
    return {"linear": 1.0, "relu": float(z > 0.0), "erf": math.sqrt(2.0 / math.pi) * math.exp(-0.5 * z * z),
            "sign": 0.0}[name]


def drift_sample_averages(name: str, overlap: float, scale: float, beta: float, noise: float) -> np.ndarray:
    """E[d], E[d lambda], E[d u], E[d^2] of d = (g(a) - g(u) - noise xi) g'(a), a = scale lambda + beta, (lambda, u)
    unit Gaussians with correlation R = overlap (|R| < 1), xi ~ N(0, 1) independent: nested adaptive quadrature
    (quad_vec) over lambda and over v in u = R lambda + sqrt(1 - R^2) v, on [-12, 12] split at the kinks a = 0
    (lambda = -beta/scale), u = 0 (v = -R lambda/sqrt(1 - R^2)) and the layer |lambda| < 8 sqrt(1 - R^2)/|R| that the
    teacher's kink leaves in the lambda-integrand. The noise adds noise^2 E[g'(a)^2] to E[d^2]."""
    rest = math.sqrt((1.0 - overlap) * (1.0 + overlap))

    def over_v(lam):
        a = scale * lam + beta
        slope = act_prime(name, a)
        g_a = act(name, a)

        def integrand(v):
            u = overlap * lam + rest * v
            d = (g_a - act(name, u)) * slope
            return phi(v) * np.array([d, d * lam, d * u, d * d + noise * noise * slope * slope])

        kink = -overlap * lam / rest
        points = (kink,) if -12.0 < kink < 12.0 else None
        return integrate.quad_vec(integrand, -12.0, 12.0, epsabs=1e-14, epsrel=1e-13, points=points, limit=400)[0]

    layer = 8.0 * rest / max(abs(overlap), 1e-300)
    points = [p for p in (0.0, -layer, layer, -beta / scale if scale != 0.0 else 0.0) if -12.0 < p < 12.0]
    return integrate.quad_vec(lambda lam: phi(lam) * over_v(lam), -12.0, 12.0, epsabs=1e-13, epsrel=1e-12,
                              points=sorted(set(points)), limit=400)[0]


def drift_averages(name: str, overlap: float, scale: float, beta: float, noise: float,
                   cut: float = 10.0) -> np.ndarray:
    """(E[d], E[d lambda], E[d u], E[d^2]) of the online drift by scipy dblquad over (lambda, v) on [-cut, cut]^2:
    u = R lambda + sqrt(1 - R^2) v, a = scale lambda + beta, d = (g(a) - g(u)) g'(a); the label noise adds
    noise^2 E[g'(a)^2] (1-D quad) to E[d^2]. For smooth g (the kinks of relu are not split here)."""
    rest = math.sqrt(1.0 - overlap * overlap)

    def d(lam, v):
        a = scale * lam + beta
        return (_g(name, a) - _g(name, overlap * lam + rest * v)) * _g_prime(name, a)

    def average(f):
        return integrate.dblquad(lambda v, lam: phi(lam) * phi(v) * f(lam, v), -cut, cut, -cut, cut,
                                 epsabs=1e-13, epsrel=1e-12)[0]

    slope_square = integrate.quad(lambda lam: phi(lam) * _g_prime(name, scale * lam + beta) ** 2, -cut, cut,
                                  epsabs=1e-14, epsrel=1e-13)[0]
    return np.array([average(d), average(lambda lam, v: d(lam, v) * lam),
                     average(lambda lam, v: d(lam, v) * (overlap * lam + rest * v)),
                     average(lambda lam, v: d(lam, v) ** 2) + noise * noise * slope_square])


def _erf_moments(y: float, a: float, b: float, beta_t: float):
    """The tilted measure of the erf channel in z = (h - a)/sqrt(b): its log-integrand f(z) = -z^2/2 - beta_t l(y, h),
    the maximum f_max, and the expectation of fn(h, z) under exp(f - f_max) by quad split at the places where the
    integrand changes: the maximum and a ladder of its width around it, erf's window |h| <= 8 every 1/2, and
    erf^-1(y) (the tilt's well, |y| < 1); the range |z| <= r beyond which exp(f - f_max) < exp(-60)."""
    s = math.sqrt(b)

    def g(h):
        return math.erf(h / math.sqrt(2.0))

    def f(z):
        return -0.5 * z * z - 0.5 * beta_t * (y - g(a + s * z)) ** 2

    grid = np.unique(np.concatenate([np.linspace((-10.0 - a) / s, (10.0 - a) / s, 20001), np.linspace(-12, 12, 2001)]))
    values = np.array([f(z) for z in grid])
    i = int(np.argmax(values))
    best = optimize.minimize_scalar(lambda z: -f(z), bounds=(grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]),
                                    method="bounded", options={"xatol": 1e-13})
    z_max, f_max = (best.x, -best.fun) if -best.fun > values[i] else (grid[i], values[i])
    lowest = 0.0 if abs(y) < 1.0 else 0.5 * (abs(y) - 1.0) ** 2
    r = math.sqrt(2.0 * max(60.0 - f_max - beta_t * lowest, 0.0))
    width = 1.0 / math.sqrt(1.0 + 3.0 * b * beta_t)
    points = {0.0, z_max, *((e - a) / s for e in np.arange(-8.0, 8.5, 0.5)), *(z_max + k * width for k in range(-8, 9))}
    if abs(y) < 1.0:
        points.add((math.sqrt(2.0) * special.erfinv(y) - a) / s)
    edges = [-r, *sorted(p for p in points if -r < p < r), r]

    def expect(fn):
        total = 0.0
        for lo, hi in zip(edges[:-1], edges[1:], strict=True):
            total += integrate.quad(lambda z: math.exp(f(z) - f_max) * fn(a + s * z, z), lo, hi, epsabs=1e-18,
                                    epsrel=1e-13, limit=200)[0]
        return total

    return f_max, expect


def erf_tilted(y: float, a: float, b: float, beta_t: float) -> tuple[float, float, float, float]:
    """(log Z, g_a, g_aa, <l>) of the erf channel (kernels' tilted) by adaptive quadrature in z = (h - a)/sqrt(b),
    log-scaled by the integrand's maximum (Z underflows at large beta_t). For b >= 0.05 the derivatives are the moment
    forms g_a = <z>/sqrt(b), g_aa = (Var z - 1)/b; below, where those lose digits to cancellation, the forms of
    integration by parts g_a = -beta_t <l'>, g_aa = beta_t^2 Var l' - beta_t <l''> (h-derivatives of l; the two agree
    to ~1e-14 where both are accurate)."""
    f_max, expect = _erf_moments(y, a, b, beta_t)

    def g(h):
        return math.erf(h / math.sqrt(2.0))

    def slope(h):  # dl/dh
        return -(y - g(h)) * act_prime("erf", h)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", integrate.IntegrationWarning)  # round-off at the requested 1e-13
        mass = expect(lambda h, z: 1.0)
        log_z = f_max + math.log(mass) - 0.5 * math.log(2.0 * math.pi)
        mean_loss = expect(lambda h, z: 0.5 * (y - g(h)) ** 2) / mass
        if b >= 0.05:
            mean_z = expect(lambda h, z: z) / mass
            var_z = expect(lambda h, z: (z - mean_z) ** 2) / mass
            return log_z, mean_z / math.sqrt(b), (var_z - 1.0) / b, mean_loss
        mean = expect(lambda h, z: slope(h)) / mass
        var = expect(lambda h, z: (slope(h) - mean) ** 2) / mass
        curvature = expect(lambda h, z: act_prime("erf", h) ** 2 + (y - g(h)) * h * act_prime("erf", h)) / mass
    return log_z, -beta_t * mean, beta_t * beta_t * var - beta_t * curvature, mean_loss


def erf_expected_loss(y: float, a: float, b: float) -> tuple[float, float, float]:
    """(e, e_a, e_b) of the erf channel by adaptive quadrature in z = (h - a)/sqrt(b), with e_a = E[l'] and
    e_b = E[l'']/2 (Gaussian integration by parts and the heat equation), split at erf's window every 1/2."""
    s = math.sqrt(b)

    def g(h):
        return math.erf(h / math.sqrt(2.0))

    points = sorted(p for p in {0.0, *((e - a) / s for e in np.arange(-8.0, 8.5, 0.5))} if -40.0 < p < 40.0)
    edges = [-40.0, *points, 40.0]

    def expect(fn):
        return sum(integrate.quad(lambda z: phi(z) * fn(a + s * z), lo, hi, epsabs=1e-16, epsrel=1e-13, limit=200)[0]
                   for lo, hi in zip(edges[:-1], edges[1:], strict=True))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", integrate.IntegrationWarning)
        return (expect(lambda h: 0.5 * (y - g(h)) ** 2), expect(lambda h: -(y - g(h)) * act_prime("erf", h)),
                expect(lambda h: 0.5 * (act_prime("erf", h) ** 2 + (y - g(h)) * h * act_prime("erf", h))))


def erf_moreau_minima(y: float, a: float, c: float, points: int = 801) -> list[tuple[float, float]]:
    """Every local minimiser h of l(y, h) + (h - a)^2/(2c) for erf, with its objective: a grid over the window
    |h - a| <= c (|y| + 1) sqrt(2/pi) + 1 that holds every minimiser, each discrete local minimum refined by Brent's
    root finding on the gradient between its neighbours (xtol 1e-15; a minimiser located by objective values alone
    is only good to ~1e-8)."""
    width = c * (abs(y) + 1.0) * math.sqrt(2.0 / math.pi) + 1.0
    grid = np.linspace(a - width, a + width, points)

    def objective(h):
        return 0.5 * (y - special.erf(h / math.sqrt(2.0))) ** 2 + (h - a) ** 2 / (2.0 * c)

    def gradient(h):
        return -(y - special.erf(h / math.sqrt(2.0))) * math.sqrt(2.0 / math.pi) * np.exp(-0.5 * h * h) + (h - a) / c

    values = objective(grid)
    found = []
    for i in np.nonzero((values[1:-1] <= values[:-2]) & (values[1:-1] <= values[2:]))[0] + 1:
        lo, hi = grid[i - 1], grid[i + 1]
        if gradient(lo) < 0.0 < gradient(hi):
            h = optimize.brentq(gradient, lo, hi, xtol=1e-15, rtol=1e-15)
        else:
            h = grid[i]
        found.append((float(h), float(objective(h))))
    return found


def erf_prox(y: float, a: float, c: float) -> float:
    """The global minimiser of erf's Moreau objective (the lowest of :func:`erf_moreau_minima`)."""
    return min(erf_moreau_minima(y, a, c), key=lambda m: m[1])[0]


def erf_erm_line_average(y: float, c: float, offset: float, slope: float, points=()) -> np.ndarray:
    """E over eta ~ N(0, 1) of (Moreau envelope, g_a^2, g_a, eta g_a, l(y, h*)) at a = offset + slope eta, g_a =
    (h* - a)/c, h* by :func:`erf_prox`: quad_vec on [-10, 10] split at ``points`` (where h* jumps or is steep)."""
    def integrand(eta):
        a = offset + slope * eta
        h = erf_prox(y, a, c)
        loss_h = loss("erf", y, h)
        g_a = (h - a) / c
        return phi(eta) * np.array([loss_h + (h - a) ** 2 / (2.0 * c), g_a * g_a, g_a, eta * g_a, loss_h])

    edges = sorted({-10.0, 10.0, *(p for p in points if -10.0 < p < 10.0)})
    total = np.zeros(5)
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        total += integrate.quad_vec(integrand, lo, hi, epsabs=1e-13, epsrel=1e-12, limit=400)[0]
    return total


def prox_brute(objective, lo: float, hi: float, points: int = 40_001) -> float:
    """argmin of a scalar function on [lo, hi]: the best of a uniform grid, then bounded Brent within one step."""
    grid = np.linspace(lo, hi, points)
    values = np.array([objective(h) for h in grid])
    k = int(np.argmin(values))
    step = grid[1] - grid[0]
    res = optimize.minimize_scalar(objective, bounds=(grid[k] - step, grid[k] + step), method="bounded",
                                   options={"xatol": 1e-12})
    return float(res.x) if res.fun <= values[k] else float(grid[k])


def relu(x):
    """max(x, 0) on arrays."""
    return np.maximum(x, 0.0)


def bn_effective_loss(h: float, y: float, mates_h, mates_y, gamma: float, beta: float, g=relu) -> float:
    """Real bn's per-sample effective loss by its definition: for every explicit batch b (the sample (h, y) and its
    batch-mates (mates_h[b], mates_y[b])), normalize the M fields by the batch mean and the biased batch std, sum the
    M square losses (y_j - g(gamma z_j + beta))^2/2 (g a NumPy activation, relu by default); the mean over the
    batches."""
    total = 0.0
    for fields, labels in zip(mates_h, mates_y, strict=True):
        fields = np.concatenate([[h], fields])
        labels = np.concatenate([[y], labels])
        z = (fields - fields.mean()) / np.sqrt(np.mean((fields - fields.mean()) ** 2))
        total += 0.5 * float(np.sum((labels - g(gamma * z + beta)) ** 2))
    return total / len(mates_h)
