"""Mean-field (Hartree) theory of real batch normalization trained to the minimum of its expected batch loss.

Research prototype for issue #16 (plain NumPy/SciPy; not part of the package).

Model: relu teacher and student, square loss l(y, hh) = (y - relu(hh))^2 / 2, label y = relu(u) + noise xi.
Student pre-normalization field h = w.x/sqrt(N) on the sphere |w|^2 = N, so under the population h ~ N(0, 1)
with corr(h, u) = R. Batch normalization as in kernels/sgd.py: hh_i = gamma (h_i - mu_B)/sigma_B + beta with the
biased batch std sigma_B and no epsilon. Deployed with population statistics (mean 0, std 1), so eps_g follows from
(R, gamma, beta) exactly as for pn.

P -> infinity at fixed M: the expected batch loss is a functional F[rho] of the empirical law rho of x = (h, y)
over the training set,

    F[rho] = E_{x_1..x_M iid rho} [ l(y_1, gamma (h_1 - mu_B)/sigma_B + beta) ],

whose first variation is the per-sample effective loss

    l_eff(h, y) = E[l_1 | x_1 = (h, y)] + (M - 1) E[l_2 | x_1 = (h, y)]
                = y^2/2 - y a1(h) + a2(h)/2 + B(h),

a1 = E[relu(hh_1)], a2 = E[relu(hh_1)^2] (batch-mates drawn from rho), B = (M - 1) E[l_2] (the batch-mates' loss,
which sees x_1 only through h_1). At a stationary point of F[rho_w] over w, w is a stationary point of
sum_mu l_eff(x_mu) with l_eff frozen. Gardner's zero-temperature ERM on the sphere (statmech_bn/theory/erm.py,
loss in h with gamma = 1):

    omega = R u + sqrt(1 - R^2) eta,  h* = argmin_h [(h - omega)^2/(2 chi) + l_eff(h, y)],  f = (h* - omega)/chi,
    q_hat = alpha E[f^2],  m_hat = alpha (E[f u] - R E[f_omega]),  chi = 1/sqrt(q_hat + m_hat^2),  R = m_hat chi,

with E[f_omega] = E[f eta]/sqrt(1 - R^2) (Stein's lemma on eta), and the training-set law rho is that of
(h*, y). gamma, beta minimise F[rho] at fixed rho. All is iterated to self-consistency (damped).

Averages over (u, eta, xi) are Monte Carlo over a fixed sample (common random numbers); batch-mates are drawn
from that sample's (h*, y) with a fixed seed. M = inf uses the exact limit: training-set statistics
(m, s) of rho, l_eff = l(y, gamma (h - m)/s + beta) + F_m (h - m) + F_s ((h - m)^2 - s^2)/(2 s).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import integrate, optimize, stats
from scipy.interpolate import CubicSpline


def relu(z):
    return np.maximum(z, 0.0)


def eps_g_pn(overlap: float, gain: float, shift: float) -> float:
    """eps_g = E[(relu(u) - relu(gain lam + shift))^2]/2, (u, lam) unit Gaussians with correlation R.

    One-dimensional quadrature over lam with E[relu(u) | lam], E[relu(u)^2 | lam] in closed form.
    """
    v = 1.0 - overlap * overlap
    s = math.sqrt(v)

    def integrand(lam):
        m = overlap * lam
        t = m / s
        e1 = m * stats.norm.cdf(t) + s * stats.norm.pdf(t)
        e2 = (m * m + v) * stats.norm.cdf(t) + m * s * stats.norm.pdf(t)
        g = max(gain * lam + shift, 0.0)
        return 0.5 * (e2 - 2.0 * g * e1 + g * g) * stats.norm.pdf(lam)

    points = [-shift / gain] if gain != 0 and abs(shift / gain) < 10 else None
    return integrate.quad(integrand, -12, 12, points=points, limit=200, epsabs=1e-11)[0]


@dataclass
class MeanField:
    M: float  # batch size (math.inf for the training-statistics limit)
    alpha: float
    noise: float = 0.5
    n_samples: int = 60_000
    n_batches: int = 20_000
    seed: int = 1
    h_lo: float = -8.0
    h_hi: float = 8.0
    n_coarse: int = 321
    n_fine: int = 1601
    history: list = field(default_factory=list)

    def __post_init__(self):
        rng = np.random.default_rng(self.seed)
        self.u = rng.standard_normal(self.n_samples)
        self.eta = rng.standard_normal(self.n_samples)
        self.y = relu(self.u) + self.noise * rng.standard_normal(self.n_samples)
        self.coarse = np.linspace(self.h_lo, self.h_hi, self.n_coarse)
        self.fine = np.linspace(self.h_lo, self.h_hi, self.n_fine)
        self.mate_rng_seed = self.seed + 1000
        if math.isfinite(self.M):
            m = int(self.M)
            mates = np.random.default_rng(self.mate_rng_seed).integers(0, self.n_samples, (self.n_batches, m))
            self.mates = mates  # column 0 is used only by the (gamma, beta) fit; l_eff uses columns 1..M-1

    # ---- effective loss tables --------------------------------------------------------------------------------
    def tables(self, h, y, gamma, beta):
        """(a1, a2, B) on the coarse grid, for batch-mates drawn from the sample (h, y)."""
        if not math.isfinite(self.M):
            m, s = h.mean(), h.std()
            hh = gamma * (h - m) / s + beta
            dl = -(y - relu(hh)) * (hh > 0)  # dl/dhh
            f_m = np.mean(dl * (-gamma / s))
            f_s = np.mean(dl * (-gamma * (h - m) / s**2))
            g = self.coarse
            a = relu(gamma * (g - m) / s + beta)
            big_b = f_m * (g - m) + f_s * ((g - m) ** 2 - s * s) / (2 * s)
            return a, a * a, big_b
        m = int(self.M)
        hm = h[self.mates[:, 1:]]  # (n_b, M-1)
        ym = y[self.mates[:, 1:]]
        s1 = hm.sum(1)
        s2 = (hm * hm).sum(1)
        a1 = np.empty(self.n_coarse)
        a2 = np.empty(self.n_coarse)
        big_b = np.empty(self.n_coarse)
        for k, g in enumerate(self.coarse):
            mu = (g + s1) / m
            sd = np.sqrt(np.maximum((g * g + s2) / m - mu * mu, 1e-300))
            o = relu(gamma * (g - mu) / sd + beta)
            a1[k] = o.mean()
            a2[k] = (o * o).mean()
            om = relu(gamma * (hm - mu[:, None]) / sd[:, None] + beta)
            big_b[k] = 0.5 * ((ym - om) ** 2).sum(1).mean()
        return a1, a2, big_b

    def fit_scalars(self, h, y, gamma, beta):
        """argmin over (gamma, beta) of F[rho] for rho the sample (h, y)."""
        if not math.isfinite(self.M):
            z = (h - h.mean()) / h.std()
            yy = y
        else:
            hb = h[self.mates]
            z = ((hb - hb.mean(1, keepdims=True)) / hb.std(1, keepdims=True)).ravel()
            yy = y[self.mates].ravel()

        def fun(p):
            hh = p[0] * z + p[1]
            r = yy - relu(hh)
            d = -r * (hh > 0)
            return 0.5 * np.mean(r * r), np.array([np.mean(d * z), np.mean(d)])

        res = optimize.minimize(fun, [gamma, beta], jac=True, method="BFGS", options={"gtol": 1e-10})
        return float(res.x[0]), float(res.x[1]), float(res.fun)

    # ---- proximal operator -----------------------------------------------------------------------------------
    def prox(self, omega, y, chi, a1, c):
        """h* = argmin_h (h - omega)^2/(2 chi) + c(h) - y a1(h) (c = a2/2 + B): global grid search on the fine
        grid, then guarded Newton steps on the cubic splines."""
        sa, sc = CubicSpline(self.coarse, a1), CubicSpline(self.coarse, c)
        g = self.fine
        fa, fc = sa(g), sc(g)
        out = np.empty_like(omega)
        step = g[1] - g[0]
        for lo in range(0, omega.size, 4000):
            o, yy = omega[lo:lo + 4000], y[lo:lo + 4000]
            cost = (g[None, :] - o[:, None]) ** 2 / (2 * chi) + fc[None, :] - yy[:, None] * fa[None, :]
            out[lo:lo + 4000] = g[np.argmin(cost, axis=1)]
        start = out.copy()
        h = out
        da, dc = sa.derivative(), sc.derivative()
        dda, ddc = sa.derivative(2), sc.derivative(2)
        for _ in range(4):
            grad = (h - omega) / chi + dc(h) - y * da(h)
            curv = 1 / chi + ddc(h) - y * dda(h)
            newton = np.where(curv > 0, -grad / np.where(curv > 0, curv, 1.0), 0.0)
            h = np.clip(h + newton, start - step, start + step)
        return h

    # ---- self-consistent iteration ----------------------------------------------------------------------------
    def solve(self, R=0.5, chi=1.0, gamma=1.0, beta=0.0, damping=0.5, iterations=200, tol=2e-5, verbose=False,
              inner=1):
        u, eta, y = self.u, self.eta, self.y
        h = R * u + math.sqrt(1 - R * R) * eta
        a1, a2, big_b = self.tables(h, y, gamma, beta)
        for it in range(iterations):
            for _ in range(inner):
                sq = math.sqrt(1 - R * R)
                omega = R * u + sq * eta
                h = self.prox(omega, y, chi, a1, 0.5 * a2 + big_b)
                f = (h - omega) / chi
                q_hat = self.alpha * np.mean(f * f)
                m_hat = self.alpha * (np.mean(f * u) - R * np.mean(f * eta) / sq)
                chi_new = 1 / math.sqrt(q_hat + m_hat * m_hat)
                r_new = min(max(m_hat * chi_new, -0.999), 0.999)
                R_old, chi_old = R, chi
                R = damping * R + (1 - damping) * r_new
                chi = damping * chi + (1 - damping) * chi_new
            g_new, b_new, loss = self.fit_scalars(h, y, gamma, beta)
            g_old, b_old = gamma, beta
            gamma = damping * gamma + (1 - damping) * g_new
            beta = damping * beta + (1 - damping) * b_new
            t = self.tables(h, y, gamma, beta)
            a1, a2, big_b = (damping * a + (1 - damping) * b for a, b in zip((a1, a2, big_b), t))
            change = max(abs(R - R_old), abs(chi - chi_old) / chi, abs(gamma - g_old), abs(beta - b_old))
            rec = dict(it=it, R=R, chi=chi, gamma=gamma, beta=beta, F=loss, change=change,
                       h_mean=float(h.mean()), h_std=float(h.std()))
            self.history.append(rec)
            if verbose:
                print(" ".join(f"{k}={v:.5g}" if isinstance(v, float) else f"{k}={v}" for k, v in rec.items()),
                      flush=True)
            if change < tol:
                break
        self.h = h
        self.state = dict(R=R, chi=chi, gamma=gamma, beta=beta, F=loss, h_mean=float(h.mean()), h_std=float(h.std()),
                          converged=change < tol, iterations=it + 1)
        self.state["eps_g"] = eps_g_pn(R, gamma, beta)
        return self.state
