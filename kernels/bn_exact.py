"""bn's online-drift averages (those of :func:`.dynamics.batch_averages`) by exact integration over the batch.

Model and notation of :func:`.dynamics.batch_averages`: a batch of M i.i.d. unit Gaussians lambda_j (student
fields), teacher fields u_j = R lambda_j + r v_j (r = sqrt(1 - R^2), v_j ~ N(0, 1)), batch mean mu, biased batch
std s, z_j = (lambda_j - mu)/s, a_j = gamma z_j + beta, d_j = (g(a_j) - g(u_j) - noise xi_j) g'(a_j) and
e_j = (d_j - mean d - z_j mean(d z))/s. The four averages are

    O0 = E[mean_j e_j (u_j - R lambda_j)],  O1 = E[mean_j e_j^2],  O2 = E[mean_j d_j z_j],  O3 = E[mean_j d_j].

Reduction (Gaussian inputs). (mu, s) and the vector z are independent: mu ~ N(0, 1/M), M s^2 ~ chi^2 with M - 1
degrees of freedom, and z is uniform on the sphere {sum z = 0, sum z^2 = M}. Given (z, mu, s) the d_j are
independent, d_j depending on (v_j, xi_j) only; sum z_j = 0 and mean z^2 = 1 then give, by exchangeability,

    O3 = E[d_1],  O2 = E[d_1 z_1],
    O0 = (r/s) E[d_1 v_1 (1 - (1 + z_1^2)/M)] = -r^2 E[(1/s)(1 - (1 + z_1^2)/M) g'(a_1) g'(u_1)]   (Stein),
    O1 = E[(1/s^2)(1 - (1 + z_1^2)/M) d_1^2] - ((M - 1)/M) E[(1/s^2)(1 + z_1 z_2) d_1 d_2]

(mean_j e_j^2 = (mean d^2 - (mean d)^2 - (mean d z)^2)/s^2). The teacher enters through u_j = R mu + R s z_j + r v_j:
integrating mu and v_j, u_1 ~ N(R s z_1, V) with V = R^2/M + r^2, and (u_1, u_2) is bivariate normal with
covariance R^2/M; for relu and linear g the moments E[g(u)], E[g(u)^2], E[g'(u)] and E[g(u_1) g(u_2)] are closed
forms (Rosenbaum 1961 for the truncated bivariate moments, :mod:`.bivariate_normal` for Phi2). What is left is
quadrature over z_1 (single-sample terms: (z_1, s), two dimensions) and (z_1, z_2) (the pair term: three):

- z_1 = sqrt(M - 1) t_1, t_1 of density prop. to (1 - t^2)^((M - 4)/2) on [-1, 1]; given z_1, z_2 = -z_1/(M - 1) +
  rho_2 t_2 with rho_2^2 = (M - z_1^2 M/(M - 1)) (M - 2)/(M - 1) and t_2 of density prop. to (1 - t^2)^((M - 5)/2)
  (the other M - 1 coordinates are uniform on their own sphere). Only the side a_j > 0 of relu's kink contributes
  (g'(a_j) = 0 elsewhere); each coordinate's range is cut there, at the teacher's smoothed kink z_j = 0, and (t_1) where
  the pair's kink line meets the sphere's edge, and every piece takes Gauss-Legendre nodes through a smoothstep map
  (:func:`smooth_piece`), which makes the half-integer powers at the pieces' ends smooth.
- s: Gauss rules for the chi law times s^-p (p = 0, 1, 2), built by the caller (discretized Stieltjes procedure).

Requires M >= 4 (the t_2 density has the exponent (M - 5)/2 > -1, and E[1/s^2] is finite). Deterministic: the
same state gives the same numbers bit for bit, and the drift is smooth in the state, so stiff and root-finding
solvers can use it. Serial (one thread): the callers run several problems in worker processes.
"""

import math

import numpy as np

from ._jit import jit
from .bivariate_normal import norm_sf2
from .codes import RELU
from .relu_drift import cdf_of_ratio
from .special import norm_cdf

_INV_SQRT_TWO_PI = 1.0 / math.sqrt(2.0 * math.pi)


@jit
def teacher_moments(code, mean, variance):
    """(E[g(u)], E[g(u)^2], E[g'(u)]) for u ~ N(mean, variance), g relu or linear."""
    if code != RELU:
        return mean, mean * mean + variance, 1.0
    std = math.sqrt(variance)
    if std == 0.0:
        positive = max(mean, 0.0)
        return positive, positive * positive, 1.0 if mean > 0.0 else 0.0
    h = mean / std
    cdf = norm_cdf(h)
    pdf = _INV_SQRT_TWO_PI * math.exp(-0.5 * h * h)
    return mean * cdf + std * pdf, (mean * mean + variance) * cdf + mean * std * pdf, cdf


@jit
def teacher_pair_moment(code, mean1, mean2, variance, covariance):
    """E[g(u_1) g(u_2)] for (u_1, u_2) bivariate normal with means mean1, mean2, common variance and covariance
    (0 <= covariance <= variance), g relu or linear: for relu the truncated bivariate moments of Rosenbaum (1961)
    with X = (u_1 - mean1)/std, Y likewise, correlation rho, truncated at X > a = -mean1/std, Y > b."""
    if code != RELU:
        return mean1 * mean2 + covariance
    std = math.sqrt(variance)
    rho = min(covariance / variance, 1.0)
    q = math.sqrt(max(1.0 - rho * rho, 0.0))
    a = -mean1 / std
    b = -mean2 / std
    mass = norm_sf2(a, b, rho)
    pdf_a = _INV_SQRT_TWO_PI * math.exp(-0.5 * a * a)
    pdf_b = _INV_SQRT_TWO_PI * math.exp(-0.5 * b * b)
    cdf_a = cdf_of_ratio(rho * a - b, q)
    cdf_b = cdf_of_ratio(rho * b - a, q)
    mean_x = pdf_a * cdf_a + rho * pdf_b * cdf_b
    mean_y = pdf_b * cdf_b + rho * pdf_a * cdf_a
    corner = 0.0
    if q > 0.0:
        exponent = -0.5 * (a * a - 2.0 * rho * a * b + b * b) / (q * q)
        corner = q * _INV_SQRT_TWO_PI * _INV_SQRT_TWO_PI * math.exp(exponent)
    mean_xy = rho * mass + rho * a * pdf_a * cdf_a + rho * b * pdf_b * cdf_b + corner
    return mean1 * mean2 * mass + std * (mean1 * mean_y + mean2 * mean_x) + variance * mean_xy


@jit
def smooth_piece(low, high, alpha, mass, legendre_x, legendre_w, nodes, weights, offset):
    """Nodes and weights of int_low^high (1 - t^2)^alpha f(t) dt / mass into nodes[offset:offset + n], n the
    Gauss-Legendre nodes on [0, 1]: t = low + (high - low) p(x) with the smoothstep p(x) = 3x^2 - 2x^3, whose
    vanishing slope at both ends turns an endpoint behaviour (t - low)^(k/2) (the sphere's ends, where (1 - t^2)^alpha
    has alpha = (M - 4)/2 or (M - 5)/2, and the ends of the pair term's outer pieces) into a power x^k, so that the
    rule converges exponentially on every piece."""
    n = legendre_x.shape[0]
    width = high - low
    for i in range(n):
        x = legendre_x[i]
        t = low + width * x * x * (3.0 - 2.0 * x)
        nodes[offset + i] = t
        weights[offset + i] = (legendre_w[i] * width * 6.0 * x * (1.0 - x)
                               * max(1.0 - t * t, 0.0) ** alpha / mass)
    return offset + n


@jit
def active_interval(code, gamma, kink_t):
    """(low, high) of t in [-1, 1] where relu's g'(a) = 1, a = gamma (scale t) + beta switching at t = kink_t (low >=
    high: empty); [-1, 1] for linear. gamma = 0 is passed as gamma = 1 with kink_t = -+inf."""
    if code != RELU:
        return -1.0, 1.0
    if gamma > 0.0:
        return max(kink_t, -1.0), 1.0
    return -1.0, min(kink_t, 1.0)


@jit
def bn_exact_averages(code, overlap, gamma, beta, noise, batch_size, alpha1, mass1, alpha2, mass2, legendre_x,
                      legendre_w, s_x, s_w, out):
    """Fill out[0:4] with O0, O1, O2, O3 (module docstring) for relu (code RELU) or linear g, batch size M >= 4.

    ``legendre_*``: Gauss-Legendre nodes and weights on [0, 1] for every piece (:func:`smooth_piece`) of t_1
    (density prop. to (1 - t^2)^alpha1 with mass ``mass1``, alpha1 = (M - 4)/2) and t_2 (alpha2 = (M - 5)/2);
    ``s_x``, ``s_w`` (3, n_s): Gauss rules of E[s^-p f(s)] for p = 0, 1, 2 under M s^2 ~ chi^2_(M - 1) (weights
    summing to E[s^-p]). The t_1 range where g'(a_1) = 1 is cut where the pair term's t_2 range starts or stops
    meeting relu's kink (z_2 = -beta/gamma touching the sphere's end given z_1, at z_1 = -k/(M - 1) +-
    sqrt(M (M - 2)/(M - 1) - k^2 (M - 2) M/(M - 1)^2), k = -beta/gamma), where the inner integral is not smooth.
    """
    m = float(batch_size)
    rest2 = max(1.0 - overlap * overlap, 0.0)
    variance = overlap * overlap / m + rest2
    covariance = overlap * overlap / m
    sign = gamma if gamma != 0.0 else 1.0
    kink = -beta / gamma if gamma != 0.0 else (-math.inf if beta > 0.0 else math.inf)
    n = legendre_x.shape[0]
    n_s = s_x.shape[1]
    root1 = math.sqrt(m - 1.0)
    low, high = active_interval(code, sign, kink / root1)
    cuts = np.empty(5)
    cuts[0] = low
    count = 1
    if 0.0 < high and low < 0.0:  # the teacher's smoothed kink: E[g(u) | z_1] bends at z_1 = 0 for every s
        cuts[count] = 0.0
        count += 1
    if code == RELU and math.isfinite(kink):
        inv = 1.0 / (m - 1.0)
        disc = kink * kink * inv * inv - kink * kink + m * (m - 2.0) * inv
        if disc > 0.0:
            for z_cut in (-kink * inv - math.sqrt(disc), -kink * inv + math.sqrt(disc)):
                t_cut = z_cut / root1
                if low < t_cut < high:
                    cuts[count] = t_cut
                    count += 1
    cuts[count] = high
    count += 1
    cuts[:count].sort()
    t1 = np.empty(n * 4)
    w1 = np.zeros(n * 4)
    filled = 0
    if high > low:
        for piece in range(count - 1):
            filled = smooth_piece(cuts[piece], cuts[piece + 1], alpha1, mass1, legendre_x, legendre_w, t1, w1,
                                  filled)
    partial = np.zeros((filled, 5))
    first = np.empty((filled, n_s))
    t2 = np.empty((filled, 2 * n))
    w2 = np.empty((filled, 2 * n))
    for i in range(filled):
        z1 = root1 * t1[i]
        a1 = gamma * z1 + beta
        g1 = max(a1, 0.0) if code == RELU else a1
        centre = 1.0 - (1.0 + z1 * z1) / m
        o0 = 0.0
        o1 = 0.0
        o2 = 0.0
        o3 = 0.0
        for k in range(n_s):
            mean, square, slope = teacher_moments(code, overlap * s_x[0, k] * z1, variance)
            o3 += s_w[0, k] * (g1 - mean)
            o2 += s_w[0, k] * z1 * (g1 - mean)
            mean, square, slope = teacher_moments(code, overlap * s_x[1, k] * z1, variance)
            o0 -= rest2 * s_w[1, k] * centre * slope
            mean, square, slope = teacher_moments(code, overlap * s_x[2, k] * z1, variance)
            o1 += s_w[2, k] * centre * (g1 * g1 - 2.0 * g1 * mean + square + noise * noise)
            first[i, k] = mean
        # the pair term: z_2 = shift + spread t_2 given z_1
        spread = math.sqrt(max((m - z1 * z1 * m / (m - 1.0)) * (m - 2.0) / (m - 1.0), 0.0))
        shift = -z1 / (m - 1.0)
        kink_t2 = (kink - shift) / spread if spread > 0.0 else (math.inf if kink > shift else -math.inf)
        low2, high2 = active_interval(code, sign, kink_t2)
        pair = 0.0
        if high2 > low2:
            centre2 = -shift / spread if spread > 0.0 else math.inf  # the teacher's kink z_2 = 0
            if low2 < centre2 < high2:
                count2 = smooth_piece(low2, centre2, alpha2, mass2, legendre_x, legendre_w, t2[i], w2[i], 0)
                count2 = smooth_piece(centre2, high2, alpha2, mass2, legendre_x, legendre_w, t2[i], w2[i], count2)
            else:
                count2 = smooth_piece(low2, high2, alpha2, mass2, legendre_x, legendre_w, t2[i], w2[i], 0)
            for j in range(count2):
                z2 = shift + spread * t2[i, j]
                a2 = gamma * z2 + beta
                g2 = max(a2, 0.0) if code == RELU else a2
                inner = 0.0
                for k in range(n_s):
                    mean1 = overlap * s_x[2, k] * z1
                    mean2 = overlap * s_x[2, k] * z2
                    second = teacher_moments(code, mean2, variance)[0]
                    both = teacher_pair_moment(code, mean1, mean2, variance, covariance)
                    inner += s_w[2, k] * (g1 * g2 - g1 * second - g2 * first[i, k] + both)
                pair += w2[i, j] * (1.0 + z1 * z2) * inner
        partial[i, 0] = w1[i] * o0
        partial[i, 1] = w1[i] * o1
        partial[i, 2] = w1[i] * o2
        partial[i, 3] = w1[i] * o3
        partial[i, 4] = w1[i] * pair
    for k in range(4):
        out[k] = 0.0
    pair_total = 0.0
    for i in range(filled):
        for k in range(4):
            out[k] += partial[i, k]
        pair_total += partial[i, 4]
    out[1] -= (m - 1.0) / m * pair_total


__all__ = ["active_interval", "bn_exact_averages", "smooth_piece", "teacher_moments", "teacher_pair_moment"]
