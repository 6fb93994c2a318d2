"""ERM's averages for a relu student: the replica field (and the label noise) in closed form; the teacher field in
closed form too without noise, with it by a rule graded where the proximal map's kinks cross the teacher direction.

For a label y and a teacher field tau, the ERM sums of :func:`.saddle.erm_sums` average over eta ~ N(0, 1)
functions of the proximal map h*(a) of relu at a = A + B eta (A = gamma m tau + beta, B = gamma sqrt(q - m^2)).
Between the points where h* is not smooth (:func:`.channels.moreau_kinks`) h* is affine in a: h* = a (a < 0),
h* = 0 (clamped), or h* = (a + c y)/(1 + c) (c = gamma^2 chi). Every summand (the envelope, g_a = (h* - a)/c,
its square, and their products with tau, eta, omega) is then a polynomial of degree <= 2 in eta on each piece,
and its Gaussian average over the piece is q0 M0 + q1 M1 + q2 M2 with the partial moments
M_k = int_l^u eta^k phi(eta) d eta: M0 = Phi(u) - Phi(l), M1 = phi(l) - phi(u), M2 = M0 + l phi(l) - u phi(u).
Which branch holds on a piece is read from :func:`.channels.moreau` at an interior point
(:func:`relu_erm_replica_average`).

With label noise, y = g*(tau) + noise x, the pieces are wedges of the (eta, x) plane bounded by the lines y = 0 and
a = -k y (k = 0, c, sqrt(1 + c) - 1; :func:`_wedge`), and the summands are polynomials of degree <= 2 in (eta, x)
on each: both fields are averaged together with the moments of the bivariate normal over a wedge
(:func:`_wedge_moments`, :func:`relu_erm_noisy_average`), where a Gauss-Hermite rule in x missed the kinks that the
noise average has where y = 0 and where a kink line reaches the teacher's kink (errors 1e-6 to 1e-3 at 8 nodes).

Without noise and for a teacher affine on either side of its kink (linear, relu, sign), the teacher field joins the
replica field the same way: on each side the branches are wedges of the (eta, tau) plane and the sums are wedge
moments, wholly in closed form (:func:`relu_erm_closed_sums`). With noise, the average over (eta, x) depends on tau
through a few arguments affine in tau on either side of the teacher's kink (wedge edges), each on unit scale; where one
vanishes with a large slope the average has a narrow feature (width sqrt(q - m^2)/|m| at tau* = -beta/(gamma m):
sqrt(1 - R^2)/R on the sphere), and the teacher field's rule is a :func:`.panels.feature_rule` per side graded at them
(:func:`_tau_features`, :func:`relu_erm_sums`). The fixed split rule in tau these replace missed the sums by 3e-2 at
R = 0.9999 without noise and by up to 0.2 with it. References: :func:`.saddle.erm_sums_by_quadrature` refined
(tests/test_relu_erm.py) and adaptive quadrature in the teacher field and the noise (tests/test_kinked.py,
tests/test_relu_erm.py).
"""

import math

import numpy as np

from ._jit import jit
from .activations import activation
from .bivariate_normal import norm_cdf2
from .channels import moreau, moreau_kinks
from .codes import ERF, RELU
from .panels import FEATURE_BROAD, FEATURE_CUT, FEATURE_PIECE, feature_rule, feature_rule_capacity
from .special import norm_cdf, norm_pdf

_MAX_FEATURES = 24
"""Room for the features of one side: four unit-scale arguments of each of the five wedges."""


@jit
def _partial_moments(lo, hi):
    """(M0, M1, M2) of the standard normal over [lo, hi] (either end may be infinite)."""
    if hi <= lo:
        return 0.0, 0.0, 0.0
    if lo > 0.0:  # upper tail: differences of Phi(-x) keep their digits
        m0 = norm_cdf(-lo) - norm_cdf(-hi)
    else:
        m0 = norm_cdf(hi) - norm_cdf(lo)
    pdf_lo = 0.0 if math.isinf(lo) else norm_pdf(lo)
    pdf_hi = 0.0 if math.isinf(hi) else norm_pdf(hi)
    lo_pdf = 0.0 if math.isinf(lo) else lo * pdf_lo
    hi_pdf = 0.0 if math.isinf(hi) else hi * pdf_hi
    return m0, pdf_lo - pdf_hi, m0 + lo_pdf - hi_pdf


@jit
def relu_erm_replica_average(y, tau, m, cross, gamma, beta, chi, weight, cuts, out):
    """Add ``weight`` times the eta-average of the seven ERM summands (slots of :data:`.saddle.N_SUMS`) at label y
    and teacher field tau to ``out``. Needs cross = sqrt(q - m^2) > 0 and gamma != 0; ``cuts``: scratch of length 3.

    The pieces are laid out in eta' = sign(gamma) eta, in which a = A + |gamma| cross eta' increases (the Gaussian
    weight is the same); omega and the Stein slot E[eta f_w] take the sign back."""
    c = gamma * gamma * chi
    a0 = gamma * m * tau + beta
    sign = 1.0 if gamma > 0.0 else -1.0
    slope = abs(gamma) * cross
    n_kinks = moreau_kinks(RELU, y, c, cuts)
    for n in range(n_kinks):
        cuts[n] = (cuts[n] - a0) / slope
    cuts[:n_kinks].sort()
    half_y2 = 0.5 * y * y
    for piece in range(n_kinks + 1):
        lo = -math.inf if piece == 0 else cuts[piece - 1]
        hi = math.inf if piece == n_kinks else cuts[piece]
        if hi <= lo:
            continue
        if math.isinf(lo) and math.isinf(hi):
            inside = 0.0
        elif math.isinf(lo):
            inside = hi - 1.0
        elif math.isinf(hi):
            inside = lo + 1.0
        else:
            inside = 0.5 * (lo + hi)
        a_inside = a0 + slope * inside
        _, h_inside, p, _ = moreau(RELU, y, a_inside, c)
        r = h_inside - p * a_inside  # h* = p a + r on this piece
        m0, m1, m2 = _partial_moments(lo, hi)
        if m0 == 0.0 and m1 == 0.0 and m2 == 0.0:
            continue
        # g_a = u0 + u1 eta, h* = h0 + h1 eta
        u0 = ((p - 1.0) * a0 + r) / c
        u1 = (p - 1.0) * slope / c
        h0 = p * a0 + r
        h1 = p * slope
        g2_0, g2_1, g2_2 = u0 * u0, 2.0 * u0 * u1, u1 * u1  # g_a^2
        if p > 0.0 and h_inside > 0.0:  # the positive branch: l(y, h*) = (y - h*)^2/2
            d0, d1 = y - h0, -h1
            l0, l1, l2 = 0.5 * d0 * d0, d0 * d1, 0.5 * d1 * d1
        else:  # h* <= 0: relu(h*) = 0
            l0, l1, l2 = half_y2, 0.0, 0.0
        omega0, omega1 = m * tau, sign * cross
        env0, env1, env2 = l0 + 0.5 * c * g2_0, l1 + 0.5 * c * g2_1, l2 + 0.5 * c * g2_2
        out[0] -= weight * (env0 * m0 + env1 * m1 + env2 * m2)
        out[1] += weight * gamma * gamma * (g2_0 * m0 + g2_1 * m1 + g2_2 * m2)
        out[2] += weight * gamma * tau * (u0 * m0 + u1 * m1)
        out[3] += weight * sign * gamma * (u0 * m1 + u1 * m2) / cross
        out[4] += weight * (omega0 * u0 * m0 + (omega0 * u1 + omega1 * u0) * m1 + omega1 * u1 * m2
                            + gamma * chi * (g2_0 * m0 + g2_1 * m1 + g2_2 * m2))
        out[5] += weight * (u0 * m0 + u1 * m1)
        out[6] += weight * (l0 * m0 + l1 * m1 + l2 * m2)


@jit
def _wedge_moments(n1e, n1x, h1, n2e, n2x, h2, moments, offset):
    """Add the moments E[z^k 1_W], k = 1, e, x, ee, ex, xx, of z = (e, x) ~ N(0, I_2) over the wedge
    W = {n1.z < h1} and {n2.z < h2} (unit normals n1, n2) to ``moments[offset:offset + 6]``.

    In the orthonormal frame u = n1.z, v = p.z (p perpendicular to n1, oriented so that n2 = rho n1 + s p, s >= 0)
    W = {u < h1, rho u + s v < h2}; with P = Phi2(h1, h2; rho), H = (h1 - rho h2)/s, K = (h2 - rho h1)/s and
    D = phi(h2) phi(H) = phi(h1) phi(K) (integrating v given u, then u; Tallis 1961, Rosenbaum 1961):
    E[u] = -phi(h1) Phi(K) - rho phi(h2) Phi(H), E[v] = -s phi(h2) Phi(H),
    E[u^2] = P - h1 phi(h1) Phi(K) - rho^2 h2 phi(h2) Phi(H) + rho s D,
    E[u v] = -s phi(h2) (rho h2 Phi(H) - s phi(H)), E[v^2] = P - s^2 h2 phi(h2) Phi(H) - rho s D.
    No term divides by s, so nearly parallel edges keep their digits; parallel ones (s = 0) bound a slab or a
    half-plane."""
    rho = n1e * n2e + n1x * n2x
    pe, px = -n1x, n1e
    s = n2e * pe + n2x * px
    if s < 0.0:
        pe, px, s = -pe, -px, -s
    if s <= 0.0:  # parallel edges: u in (lower, upper), v free
        upper = min(h1, h2) if rho > 0.0 else h1
        lower = -math.inf if rho > 0.0 else -h2
        p0, mu, muu = _partial_moments(lower, upper)
        mv, muv, mvv = 0.0, 0.0, p0
    else:
        p0 = norm_cdf2(h1, h2, rho)
        ph1, ph2 = norm_pdf(h1), norm_pdf(h2)
        big_h = (h1 - rho * h2) / s
        big_k = (h2 - rho * h1) / s
        q_h, q_k, d = norm_cdf(big_h), norm_cdf(big_k), ph2 * norm_pdf(big_h)
        mu = -ph1 * q_k - rho * ph2 * q_h
        mv = -s * ph2 * q_h
        muu = p0 - h1 * ph1 * q_k - rho * rho * h2 * ph2 * q_h + rho * s * d
        muv = -s * (rho * h2 * ph2 * q_h - s * d)
        mvv = p0 - s * s * h2 * ph2 * q_h - rho * s * d
    moments[offset + 0] += p0
    moments[offset + 1] += n1e * mu + pe * mv
    moments[offset + 2] += n1x * mu + px * mv
    moments[offset + 3] += n1e * n1e * muu + 2.0 * n1e * pe * muv + pe * pe * mvv
    moments[offset + 4] += n1e * n1x * muu + (n1e * px + n1x * pe) * muv + pe * px * mvv
    moments[offset + 5] += n1x * n1x * muu + 2.0 * n1x * px * muv + px * px * mvv


@jit
def _wedge(k, c, d):
    """The k-th region (k = 0..4) of relu's proximal map in the (a, y) plane as two half-planes sa a + sy y < 0,
    (sa1, sy1, sa2, sy2): 0, 1 h* = a (y < 0 and a < 0; y > 0 and a < -d y, d = sqrt(1 + c) - 1, where the
    negative and positive branches have equal value); 2 h* = 0 (a > 0 and a < -c y, hence y < 0); 3, 4
    h* = (a + c y)/(1 + c) (y < 0 and a > -c y; y > 0 and a > -d y). These are the pieces that
    :func:`.channels.moreau` chooses between the kinks of :func:`.channels.moreau_kinks`."""
    if k == 0:
        return 0.0, 1.0, 1.0, 0.0
    if k == 1:
        return 0.0, -1.0, 1.0, d
    if k == 2:
        return -1.0, 0.0, 1.0, c
    if k == 3:
        return 0.0, 1.0, -1.0, -c
    return 0.0, -1.0, -1.0, -d


@jit
def _half_plane(sa, sy, a0, clean, slope, noise):
    """The half-plane sa a + sy y < 0 with a = a0 + slope e and y = clean + noise x as {n.(e, x) < h}: (ne, nx, h)
    with a unit normal n."""
    norm = math.hypot(sa * slope, sy * noise)
    return sa * slope / norm, sy * noise / norm, -(sa * a0 + sy * clean) / norm


@jit
def _branch_sums(g0, ge, gx, positive, y0, yx, t0, tx, m, cross, gamma, chi, sign, weight, moments, offset, out):
    """Add weight times the averages of the seven ERM summands over one branch of the proximal map, in z = (e, x) with
    e = sign(gamma) eta, the label y = y0 + yx x and the teacher field tau = t0 + tx x, where g_a is g0 + ge e + gx x
    on the branch's region, given that region's moments (``moments[offset:offset + 6]``, the order of
    :func:`_wedge_moments`); the loss is y^2/2 there, or (y - h*)^2/2 = g_a^2/2 on the positive branch."""
    m0, me, mx = moments[offset], moments[offset + 1], moments[offset + 2]
    mee, mex, mxx = moments[offset + 3], moments[offset + 4], moments[offset + 5]
    eg = g0 * m0 + ge * me + gx * mx
    eeg = g0 * me + ge * mee + gx * mex
    etg = t0 * eg + tx * (g0 * mx + ge * mex + gx * mxx)
    eg2 = g0 * (g0 * m0 + 2.0 * (ge * me + gx * mx)) + ge * (ge * mee + 2.0 * gx * mex) + gx * gx * mxx
    if positive:
        loss = 0.5 * eg2
    else:
        loss = 0.5 * (y0 * (y0 * m0 + 2.0 * yx * mx) + yx * yx * mxx)
    c = gamma * gamma * chi
    out[0] -= weight * (loss + 0.5 * c * eg2)
    out[1] += weight * gamma * gamma * eg2
    out[2] += weight * gamma * etg
    out[3] += weight * sign * gamma * eeg / cross
    out[4] += weight * (m * etg + sign * cross * eeg + gamma * chi * eg2)
    out[5] += weight * eg
    out[6] += weight * loss


@jit
def relu_erm_noisy_average(clean, tau, m, cross, gamma, beta, chi, noise, weight, moments, out):
    """:func:`relu_erm_replica_average` with label noise, y = clean + noise x: the replica field eta and the noise x
    averaged together in closed form. Needs cross = sqrt(q - m^2) > 0, gamma != 0, noise > 0; ``moments``: scratch
    of length 24.

    In z = (e, x), e = sign(gamma) eta, a = A + |gamma| cross e and y are affine, so each region of
    :func:`_wedge` is a wedge of the plane and every summand a polynomial of degree <= 2 in z on it
    (:func:`_wedge_moments`): g_a = 0 on h* = a, -a/c on h* = 0, (y - a)/(1 + c) on the positive branch. Two wedges
    take the bivariate normal, V = {y < 0, a + c y < 0} and W = {y > 0, a + d y < 0}, and one is a product,
    U = {y < 0, a < 0}: h* = a on U + W, h* = 0 on V - U, the positive branch on the rest of the plane."""
    c = gamma * gamma * chi
    d = c / (math.sqrt(1.0 + c) + 1.0)
    a0 = gamma * m * tau + beta
    slope = abs(gamma) * cross
    sign = 1.0 if gamma > 0.0 else -1.0
    for i in range(24):
        moments[i] = 0.0
    n1e, n1x, h1 = _half_plane(0.0, 1.0, a0, clean, slope, noise)
    n2e, n2x, h2 = _half_plane(1.0, c, a0, clean, slope, noise)
    _wedge_moments(n1e, n1x, h1, n2e, n2x, h2, moments, 18)  # V
    n1e, n1x, h1 = _half_plane(0.0, -1.0, a0, clean, slope, noise)
    n2e, n2x, h2 = _half_plane(1.0, d, a0, clean, slope, noise)
    _wedge_moments(n1e, n1x, h1, n2e, n2x, h2, moments, 0)  # W
    e0, e1, e2 = _partial_moments(-math.inf, -a0 / slope)
    x0, x1, x2 = _partial_moments(-math.inf, -clean / noise)
    for i, u in enumerate((e0 * x0, e1 * x0, e0 * x1, e2 * x0, e1 * x1, e0 * x2)):  # U
        whole = 1.0 if i == 0 or i == 3 or i == 5 else 0.0
        moments[12 + i] = whole - moments[18 + i] - moments[i]
        moments[6 + i] = moments[18 + i] - u
        moments[i] += u
    _branch_sums(0.0, 0.0, 0.0, False, clean, noise, tau, 0.0, m, cross, gamma, chi, sign, weight, moments, 0, out)
    _branch_sums(-a0 / c, -slope / c, 0.0, False, clean, noise, tau, 0.0, m, cross, gamma, chi, sign, weight, moments,
                 6, out)
    _branch_sums((clean - a0) / (1.0 + c), -slope / (1.0 + c), noise / (1.0 + c), True, clean, noise, tau, 0.0, m,
                 cross, gamma, chi, sign, weight, moments, 12, out)


@jit
def _add_feature(g0, g1, lower, upper, centers, widths, count):
    """Append the feature of an argument g0 + g1 tau that the averages depend on at unit scale (centre -g0/g1, width
    1/|g1|) when it is narrow and near [lower, upper]; one at the same centre (within a tenth of the smaller width)
    is merged, keeping the smaller width. Returns the new count."""
    if g1 == 0.0:
        return count
    width = 1.0 / abs(g1)
    center = -g0 / g1
    reach = 1.5 * FEATURE_PIECE
    if not (width < FEATURE_BROAD and max(lower, -FEATURE_CUT) - reach < center < min(upper, FEATURE_CUT) + reach):
        return count
    for j in range(count):
        if abs(centers[j] - center) <= 0.1 * min(width, widths[j]):
            widths[j] = min(widths[j], width)
            return count
    centers[count] = center
    widths[count] = width
    return count + 1


@jit
def _teacher_line(teacher, side):
    """(C0, C1) with g*(tau) = C0 + C1 tau on the side tau < 0 (side -1) or tau > 0 (side 1) of the teacher's kink
    (linear, relu, sign: affine there)."""
    c1 = side * (activation(teacher, 2.0 * side) - activation(teacher, side))
    return activation(teacher, side) - c1 * side, c1


@jit
def _tau_features(teacher, side, m, cross, gamma, beta, chi, noise, centers, widths):
    """The narrow features in tau of the ERM summands averaged over the replica field and the noise (noise > 0) on the
    side tau < 0 (side -1) or tau > 0 (side 1) of the teacher's kink, where the label's clean part is affine,
    y0 = C0 + C1 tau. Returns their count.

    The average depends on tau through the edges h1, h2 of every wedge of :func:`_wedge` and their combinations
    (h1 - rho h2)/s, (h2 - rho h1)/s (:func:`_wedge_moments`), each affine in tau and each a unit-scale argument: a
    feature of width 1/|slope| where it vanishes. The edge a = 0 gives tau* = -beta/(gamma m), width
    sqrt(q - m^2)/|m| (sqrt(1 - R^2)/R on the sphere)."""
    lower, upper = (-math.inf, 0.0) if side < 0.0 else (0.0, math.inf)
    c0, c1 = _teacher_line(teacher, side)
    a0, a1 = beta, gamma * m
    slope = abs(gamma) * cross
    c = gamma * gamma * chi
    d = c / (math.sqrt(1.0 + c) + 1.0)
    count = 0
    for k in range(5):
        sa1, sy1, sa2, sy2 = _wedge(k, c, d)
        norm1 = math.hypot(sa1 * slope, sy1 * noise)
        norm2 = math.hypot(sa2 * slope, sy2 * noise)
        h10, h11 = -(sa1 * a0 + sy1 * c0) / norm1, -(sa1 * a1 + sy1 * c1) / norm1
        h20, h21 = -(sa2 * a0 + sy2 * c0) / norm2, -(sa2 * a1 + sy2 * c1) / norm2
        count = _add_feature(h10, h11, lower, upper, centers, widths, count)
        count = _add_feature(h20, h21, lower, upper, centers, widths, count)
        rho = (sa1 * sa2 * slope * slope + sy1 * sy2 * noise * noise) / (norm1 * norm2)
        s = abs(sa1 * sy2 - sy1 * sa2) * slope * noise / (norm1 * norm2)
        if s > 0.0:
            count = _add_feature((h10 - rho * h20) / s, (h11 - rho * h21) / s, lower, upper, centers, widths, count)
            count = _add_feature((h20 - rho * h10) / s, (h21 - rho * h11) / s, lower, upper, centers, widths, count)
    return count


@jit
def relu_erm_sums(teacher, m, q, chi, gamma, beta, noise, tau_x, tau_w, feature_x, feature_w, tail_x, tail_w, out):
    """:func:`.saddle.erm_sums` for a relu student. Without label noise and for a teacher affine on either side of its
    kink (linear, relu, sign) wholly in closed form (:func:`relu_erm_closed_sums`). With noise, the replica field and
    the noise averaged together in closed form (:func:`relu_erm_noisy_average`) and the teacher field by a
    :func:`.panels.feature_rule` on either side of its kink graded at the features of :func:`_tau_features`
    (``feature_x``/``feature_w``: Legendre nodes of a piece, ``tail_x``/``tail_w``:
    :func:`statmech_bn.quadrature.packed_normal_tail_rules`). An erf teacher (not affine on a side) takes the rule
    ``tau_x``/``tau_w`` in the teacher field. Needs gamma != 0 and q > m^2 (the caller falls back to quadrature
    otherwise)."""
    if noise == 0.0 and teacher != ERF:
        relu_erm_closed_sums(teacher, m, q, chi, gamma, beta, out)
        return
    for i in range(out.shape[0]):
        out[i] = 0.0
    cross = math.sqrt(q - m * m)
    cuts = np.empty(3)
    moments = np.empty(24)
    if teacher == ERF:
        _teacher_sums(teacher, m, cross, gamma, beta, chi, noise, tau_x, tau_w, tau_x.shape[0], cuts, moments, out)
        return
    centers = np.empty(_MAX_FEATURES)
    widths = np.empty(_MAX_FEATURES)
    for side in (-1.0, 1.0):
        count = _tau_features(teacher, side, m, cross, gamma, beta, chi, noise, centers, widths)
        lower, upper = (-math.inf, 0.0) if side < 0.0 else (0.0, math.inf)
        room = feature_rule_capacity(count, feature_x.shape[0])
        nodes = np.empty(room)
        weights = np.empty(room)
        n = feature_rule(lower, upper, centers, widths, count, feature_x, feature_w, tail_x, tail_w, nodes, weights)
        _teacher_sums(teacher, m, cross, gamma, beta, chi, noise, nodes, weights, n, cuts, moments, out)


@jit
def _teacher_sums(teacher, m, cross, gamma, beta, chi, noise, tau_x, tau_w, n_tau, cuts, moments, out):
    """Add the replica (and noise) averages at the first n_tau nodes of a teacher-field rule to ``out``."""
    for i in range(n_tau):
        tau = tau_x[i]
        clean = activation(teacher, tau)
        if noise == 0.0:
            relu_erm_replica_average(clean, tau, m, cross, gamma, beta, chi, tau_w[i], cuts, out)
        else:
            relu_erm_noisy_average(clean, tau, m, cross, gamma, beta, chi, noise, tau_w[i], moments, out)


@jit
def _side_wedge(sa, sy, side, a0, a1, slope, c0, c1, moments, offset):
    """Add the moments over {side tau > 0, sa a + sy y < 0} in z = (e, tau), a = a0 + a1 tau + slope e,
    y = c0 + c1 tau, to ``moments[offset:offset + 6]`` (:func:`_wedge_moments`)."""
    norm = math.hypot(sa * slope, sa * a1 + sy * c1)
    _wedge_moments(0.0, -side, 0.0, sa * slope / norm, (sa * a1 + sy * c1) / norm, -(sa * a0 + sy * c0) / norm,
                   moments, offset)


@jit
def relu_erm_closed_sums(teacher, m, q, chi, gamma, beta, out):
    """:func:`.saddle.erm_sums` for a relu student without label noise and a teacher affine on either side of its kink
    (linear, relu, sign), wholly in closed form. Needs q > m^2 and gamma != 0.

    On the side tau < 0 or tau > 0 the label y = C0 + C1 tau has one sign, which fixes the branches of the proximal
    map (:func:`_wedge`) as wedges of the plane z = (e, tau), e = sign(gamma) eta, bounded by tau = 0 and by lines
    a + k y = 0, a = gamma m tau + beta + |gamma| sqrt(q - m^2) e: y > 0: h* = a on P = {a + d y < 0}; y < 0: h* = a
    on P = {a < 0}, h* = 0 on Q - P with Q = {a + c y < 0}; y = 0: h* = a on P = {a < 0}; the positive branch on the
    rest of the side. Every summand is a polynomial of degree <= 2 in z there (:func:`_branch_sums`, x = tau), so the
    sums are bivariate-normal wedge moments (:func:`_wedge_moments`): two or three per side, no quadrature."""
    for i in range(out.shape[0]):
        out[i] = 0.0
    cross = math.sqrt(q - m * m)
    c = gamma * gamma * chi
    d = c / (math.sqrt(1.0 + c) + 1.0)
    a0, a1 = beta, gamma * m
    slope = abs(gamma) * cross
    sign = 1.0 if gamma > 0.0 else -1.0
    moments = np.empty(24)  # h* = a, h* = 0, the positive branch, the side
    for side in (-1.0, 1.0):
        c0, c1 = _teacher_line(teacher, side)
        y_sign = c0 + c1 * side
        for i in range(24):
            moments[i] = 0.0
        lo, hi = (-math.inf, 0.0) if side < 0.0 else (0.0, math.inf)
        t0, t1, t2 = _partial_moments(lo, hi)  # the side: e free
        moments[18], moments[20], moments[21], moments[23] = t0, t1, t0, t2
        if y_sign > 0.0:
            _side_wedge(1.0, d, side, a0, a1, slope, c0, c1, moments, 0)
        else:
            _side_wedge(1.0, 0.0, side, a0, a1, slope, c0, c1, moments, 0)
            if y_sign < 0.0:
                _side_wedge(1.0, c, side, a0, a1, slope, c0, c1, moments, 6)
                for i in range(6):
                    moments[6 + i] -= moments[i]
        for i in range(6):
            moments[12 + i] = moments[18 + i] - moments[i] - moments[6 + i]
        _branch_sums(0.0, 0.0, 0.0, False, c0, c1, 0.0, 1.0, m, cross, gamma, chi, sign, 1.0, moments, 0, out)
        if y_sign < 0.0:
            _branch_sums(-a0 / c, -slope / c, -a1 / c, False, c0, c1, 0.0, 1.0, m, cross, gamma, chi, sign, 1.0,
                         moments, 6, out)
        _branch_sums((c0 - a0) / (1.0 + c), -slope / (1.0 + c), (c1 - a1) / (1.0 + c), True, c0, c1, 0.0, 1.0, m,
                     cross, gamma, chi, sign, 1.0, moments, 12, out)
