"""Zero-temperature one-step RSB of relu pn ERM (square loss, label noise sigma), issue #16; research prototype.

Order parameters: teacher overlap R, inter-state overlap q0, chi = (1 - q1)/T, Parisi x = m/T (T -> 0, q1 -> 1),
gain gamma and shift beta. With D = 1 - q0 and y = relu(tau) + sigma xi,

    Phi1 = 1/2 [ (1/x) ln(1 + x D/chi) + (q0 - R^2)/(chi + x D) ]
           + (alpha/x) E_{tau,xi,z0} ln E_{z1} exp(-x M(y, gamma w + beta, gamma^2 chi)),
    w = R tau + sqrt(q0 - R^2) z0 + sqrt(D) z1,

M the Moreau envelope of l(y, a) = (y - relu(a))^2/2 (statmech_bn.kernels.channels.moreau). e = -Phi1 is the
ground-state training loss per dimension; Phi1 is minimised over (chi, q0, x) and maximised over (R, gamma, beta)
(Majer, Engel & Zippelius, J. Phys. A 26, 7405 (1993); Engel & Van den Broeck, Statistical Mechanics of Learning,
2001, appendix on replica-symmetry breaking; derived again independently for this file). x -> 0 or q0 -> 1 give the
RS functional of statmech_bn.theory.erm.SphereERM. The z1 average is exact (M is piecewise quadratic in a: erf
differences per piece); tau is split at 0, xi at y = 0 (Gauss-Legendre), z0 Gauss-Hermite.

Checks (run 2026-12-02): the z1 average against scipy.integrate.quad to 2e-16; Phi1 at x = 1e-6 against
SphereERM.free_entropy at the stored RS state (alpha 5) to 1e-10 with 24 xi nodes a side (1.5e-8 with 16).

    python docs/bn_meanfield/rsb_pn_erm.py --check
    python docs/bn_meanfield/rsb_pn_erm.py --alpha 5 --x 16,24,32,48,64 --start 0.8896,0.9906,0.5097,1.2644,-0.1950
"""
import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from numpy.polynomial.legendre import leggauss
from scipy.special import log_ndtr, logsumexp

SIGMA = 0.5


def rules(n_tau=48, n_z0=48, cut=9.0):
    """(tau, tau weights, z0, z0 weights): Gauss-Legendre on [-cut, 0] and [0, cut] for the teacher field (split at
    relu's kink), weights times the normal density; Gauss-Hermite (probabilists') for z0."""
    lx, lw = leggauss(n_tau)
    tau = np.concatenate([0.5 * cut * (lx - 1.0), 0.5 * cut * (lx + 1.0)])
    wt = np.concatenate([lw, lw]) * 0.5 * cut * np.exp(-0.5 * tau**2) / np.sqrt(2 * np.pi)
    zx, zw = hermegauss(n_z0)
    return tau, wt, zx, zw / zw.sum()


def log_interval(lo, hi):
    """log(Phi(hi) - Phi(lo)), stable, lo <= hi elementwise."""
    lo, hi = np.broadcast_arrays(lo, hi)
    out = np.full(lo.shape, -np.inf)
    flip = lo > 0
    a = np.where(flip, -hi, lo)
    b = np.where(flip, -lo, hi)
    lb = log_ndtr(b)
    la = log_ndtr(a)
    d = la - lb
    ok = d < 0
    out[ok] = lb[ok] + np.log1p(-np.exp(d[ok]))
    return out


def log_piece(x, p2, p1, p0, zl, zu):
    """log int_{zl}^{zu} phi(z) exp(-x (p2 z^2 + p1 z + p0)) dz."""
    P = 0.5 + x * p2
    mu = -x * p1 / (2 * P)
    s = np.sqrt(2 * P)
    return P * mu * mu - x * p0 - 0.5 * np.log(2 * P) + log_interval(s * (zl - mu), s * (zu - mu))


def log_inner(x, y, a0, s, c):
    """ln E_z exp(-x M(y, a0 + s z, c)), arrays y, a0 (broadcast), s > 0."""
    y, a0 = np.broadcast_arrays(y, a0)
    inf = np.inf
    terms = []
    # pieces in a: list of (A, B, C, a_lo, a_hi) with M = A a^2 + B a + C
    pos = y > 0
    aj = y * (1 - np.sqrt(1 + c))
    # y > 0: (-inf, aj): y^2/2 ; (aj, inf): (y-a)^2/(2(1+c))
    # y <= 0: (-inf, 0): y^2/2 ; (0, -cy): y^2/2 + a^2/(2c) ; (-cy, inf): (y-a)^2/(2(1+c))
    b1 = np.where(pos, aj, 0.0)
    b2 = np.where(pos, aj, -c * y)
    k = 1.0 / (2 * (1 + c))
    pieces = [
        (0.0, 0.0, 0.5 * y * y, -inf, b1),
        (np.where(pos, 0.0, 1 / (2 * c)), 0.0, 0.5 * y * y, b1, b2),
        (k, -2 * k * y, k * y * y, b2, inf),
    ]
    for A, B, C, lo, hi in pieces:
        A = np.broadcast_to(A, y.shape)
        p2 = A * s * s
        p1 = (2 * A * a0 + B) * s
        p0 = A * a0 * a0 + B * a0 + C
        zl = (lo - a0) / s
        zu = (hi - a0) / s
        zu = np.maximum(zu, zl)
        terms.append(log_piece(x, p2, p1, p0, zl, zu))
    return logsumexp(np.stack(terms), axis=0)


def moreau(y, a, c):
    neg = 0.5 * y * y + np.maximum(a, 0.0) ** 2 / (2 * c)
    hp = (a + c * y) / (1 + c)
    posv = np.where(hp > 0, 0.5 * (y - hp) ** 2 + (hp - a) ** 2 / (2 * c), np.inf)
    return np.minimum(neg, posv)


class RSB:
    def __init__(self, alpha, sigma=SIGMA, n_tau=48, n_xi=24, n_z0=48, cut=9.0):
        self.alpha = alpha
        tau, wt, z0, w0 = rules(n_tau, n_z0, cut)
        # label noise split at y = 0 (the proximal map's structure changes there): Legendre on both sides
        lx, lw = leggauss(n_xi)
        xs = -np.maximum(tau, 0.0) / sigma  # xi where y = 0
        xi_neg = xs[:, None] - 0.5 * (xs[:, None] + cut) * (1.0 - lx[None, :])  # [-cut, xs]
        w_neg = 0.5 * (xs[:, None] + cut) * lw[None, :]
        xi_pos = xs[:, None] + 0.5 * (cut - xs[:, None]) * (1.0 + lx[None, :])  # [xs, cut]
        w_pos = 0.5 * (cut - xs[:, None]) * lw[None, :]
        xi = np.concatenate([xi_neg, xi_pos], axis=1)
        wx = np.concatenate([w_neg, w_pos], axis=1) * np.exp(-0.5 * xi**2) / np.sqrt(2 * np.pi)
        T = np.broadcast_to(tau[:, None, None], (tau.size, xi.shape[1], z0.size))
        X = np.broadcast_to(xi[:, :, None], T.shape)
        Z = np.broadcast_to(z0[None, None, :], T.shape)
        self.y = (np.maximum(T, 0) + sigma * X).ravel()
        self.tau = T.ravel()
        self.z0 = Z.ravel()
        self.w = (wt[:, None, None] * wx[:, :, None] * w0[None, None, :]).ravel()

    def phi(self, v):
        R, q0, chi, x, gamma, beta = v
        D = 1.0 - q0
        if not (chi > 0 and x > 0 and D > 0 and q0 - R * R >= 0 and gamma > 0):
            return np.nan
        ent = 0.5 * (np.log1p(x * D / chi) / x + (q0 - R * R) / (chi + x * D))
        w0 = R * self.tau + np.sqrt(q0 - R * R) * self.z0
        li = log_inner(x, self.y, gamma * w0 + beta, gamma * np.sqrt(D), gamma * gamma * chi)
        return ent + self.alpha / x * np.dot(self.w, li)


def eps_g_relu(R, gamma, beta):
    """1/2 E[(relu(u) - relu(gamma l + beta))^2], (u, l) unit Gaussians with correlation R; by nested adaptive
    quadrature, split at the kinks."""
    from scipy import integrate
    from scipy.stats import norm

    s = np.sqrt(max(1 - R * R, 0.0))

    def inner(u):
        if s == 0:
            return (max(u, 0) - max(gamma * R * u + beta, 0.0)) ** 2

        def integrand(e):
            return (max(u, 0) - max(gamma * (R * u + s * e) + beta, 0.0)) ** 2 * norm.pdf(e)

        kink = -(gamma * R * u + beta) / (gamma * s)
        return integrate.quad(integrand, -12, kink, epsabs=1e-13)[0] + integrate.quad(integrand, kink, 12,
                                                                                        epsabs=1e-13)[0]

    def outer(u):
        return inner(u) * norm.pdf(u)

    return 0.5 * (integrate.quad(outer, -12, 0, epsabs=1e-13)[0] + integrate.quad(outer, 0, 12, epsabs=1e-13)[0])


FREE = [0, 1, 2, 4, 5]
"""Slots of (R, q0, chi, x, gamma, beta) solved for at fixed x."""


def newton_fixed_x(r, v, x, iters=30, h=2e-5, tol=1e-9):
    """Stationary point of Phi1 in (R, q0, chi, gamma, beta) at fixed x: Newton on the central-difference gradient
    and Hessian (step h), halving the step while Phi1 is not finite; (state, max|gradient|, converged)."""
    v = np.array(v, float)
    v[3] = x
    n = len(FREE)
    unit = np.eye(n, dtype=int)
    g = np.full(n, np.inf)
    for _ in range(iters):
        values = {}

        def shifted(d, v=v, values=values):
            key = tuple(d)
            if key not in values:
                u = v.copy()
                u[FREE] += np.asarray(d) * h
                values[key] = r.phi(u)
            return values[key]

        centre = shifted(np.zeros(n, dtype=int))
        hessian = np.empty((n, n))
        for i in range(n):
            g[i] = (shifted(unit[i]) - shifted(-unit[i])) / (2 * h)
            hessian[i, i] = (shifted(unit[i]) - 2 * centre + shifted(-unit[i])) / h**2
            for j in range(i):
                mixed = (shifted(unit[i] + unit[j]) - shifted(unit[i] - unit[j]) - shifted(unit[j] - unit[i])
                         + shifted(-unit[i] - unit[j]))
                hessian[i, j] = hessian[j, i] = mixed / (4 * h * h)
        if np.abs(g).max() < tol:
            return v, np.abs(g).max(), True
        step = -np.linalg.solve(hessian, g)
        scale = 1.0
        for _ in range(30):
            u = v.copy()
            u[FREE] += scale * step
            if np.isfinite(r.phi(u)):
                break
            scale *= 0.5
        v = u
    return v, np.abs(g).max(), False


def scan(alpha, xs, start, rule):
    """Stationary points at each fixed x (warm-started along xs); returns rows (x, ok, |grad|, state, e, eps_g)."""
    r = RSB(alpha, **rule)
    rows, v = [], np.array(start, float)
    for x in xs:
        u, gmax, ok = newton_fixed_x(r, v, x)
        e = -r.phi(u)
        eps = eps_g_relu(u[0], u[4], u[5]) if ok else float("nan")
        rows.append((x, ok, gmax, u, e, eps))
        print(f"alpha {alpha} x {x} converged {ok} |grad| {gmax:.1e} R {u[0]:.6f} q0 {u[1]:.6f} chi {u[2]:.6f} "
              f"gamma {u[4]:.6f} beta {u[5]:.6f} e {e:.9f} eps_g {eps:.6f}", flush=True)
        if ok:
            v = u
    return rows


def check() -> None:
    """The two checks of the module docstring, printed: the exact z1 average against adaptive quadrature, and the
    x -> 0 limit against the package's RS functional at its stored-state solution (alpha = 5)."""
    from scipy import integrate
    from scipy.stats import norm

    from statmech_bn.theory.erm import ERMSaddle
    from statmech_bn.theory.problem import Problem

    for x, y, a0, s, c in [(0.7, 1.3, 0.2, 0.8, 0.9), (2.0, -0.4, 0.5, 1.1, 0.3), (5.0, 2.0, -0.3, 0.3, 1.5)]:
        exact = log_inner(x, np.array([y]), np.array([a0]), s, c)[0]
        breaks = sorted((b - a0) / s for b in (0.0, -c * y, y * (1 - np.sqrt(1 + c))))
        def integrand(z, x=x, y=y, a0=a0, s=s, c=c):
            return norm.pdf(z) * np.exp(-x * moreau(y, a0 + s * z, c))

        value = integrate.quad(integrand, -15, 15, points=breaks, epsabs=1e-14, epsrel=1e-13, limit=200)[0]
        print(f"z1 average x={x} y={y}: exact - quad = {exact - np.log(value):.1e}")
    method = ERMSaddle(Problem("relu", "pn", "erm", noise=SIGMA))
    # the RS solution at alpha = 5 as `sweep --activation relu --normalizer pn --method erm --noise 0.5` stores it
    state = np.array([0.8872302326932076, 0.6617801560202087, 1.2734487771154197, -0.2039981509458566])
    rs = method.free_entropy(state, 5.0)
    for n_xi in (16, 24):
        one_step = RSB(5.0, n_xi=n_xi).phi(np.array([state[0], 0.95, state[1], 1e-6, state[2], state[3]]))
        print(f"x = 1e-6, {n_xi} xi nodes a side: Phi1 - Phi_RS = {one_step - rs:.1e}")


if __name__ == "__main__":
    import argparse
    import sys

    if sys.argv[1:] == ["--check"]:
        check()
        raise SystemExit(0)

    parser = argparse.ArgumentParser(description="T = 0 1RSB of relu pn ERM: stationary points at fixed x")
    parser.add_argument("--alpha", type=float, required=True)
    parser.add_argument("--x", required=True, help="comma-separated Parisi parameters x = m/T, warm-started in order")
    parser.add_argument("--start", required=True, help="R,q0,chi,gamma,beta")
    parser.add_argument("--nodes", default="32,16,32", help="tau per half-line, xi per side of y = 0, z0")
    a = parser.parse_args()
    n_tau, n_xi, n_z0 = (int(k) for k in a.nodes.split(","))
    R, q0, chi, gamma, beta = (float(k) for k in a.start.split(","))
    xs = [float(k) for k in a.x.split(",")]
    scan(a.alpha, xs, [R, q0, chi, xs[0], gamma, beta], dict(n_tau=n_tau, n_xi=n_xi, n_z0=n_z0))
