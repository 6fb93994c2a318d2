"""Why meanfield.py's M = inf limit missed pn ERM (alpha = 5): at the exact pn ERM state, compare its spline + Newton
proximal map and its frozen-sample (gamma, beta) fit with the exact piecewise proximal map
(statmech_bn.theory.bn_meanfield.proximal_map), and
measure the Monte-Carlo error of m_hat. Run from this directory: python diagnose_prototype.py"""
import math

import numpy as np
from meanfield import MeanField

from statmech_bn.theory.bn_meanfield import EffectiveLoss, proximal_map

R, chi, g, b = 0.88723023, 0.66178016, 1.27344878, -0.20399815  # pn ERM, alpha = 5, relu, noise 0.5
sq = math.sqrt(1 - R * R)
mf = MeanField(M=math.inf, alpha=5, n_samples=200_000)
om = R * mf.u + sq * mf.eta
h_exact = proximal_map(om, mf.y, chi, EffectiveLoss(g, b))
a = np.maximum(g * mf.coarse + b, 0)  # the prototype's M = inf tables at population statistics, F_m = F_s = 0
h_spline = mf.prox(om, mf.y, chi, a, 0.5 * a * a)
k = -b / g
for name, h in (("exact prox", h_exact), ("spline+Newton prox", h_spline)):
    m, s = h.mean(), h.std()
    gg, bb, loss = mf.fit_scalars(h, mf.y, g * s, b + g * m)
    near = np.mean(np.abs(h - k) < 1e-9)
    f = (h - om) / chi
    qh = 5 * np.mean(f * f)
    mh = 5 * (np.mean(f * mf.u) - R * np.mean(f * mf.eta) / sq)
    c = 1 / math.sqrt(qh + mh * mh)
    print(f"{name}: at-kink fraction {near:.4f}, |h* - h_exact| max {np.abs(h - h_exact).max():.2e} mean "
          f"{np.abs(h - h_exact).mean():.2e}; frozen fit -> gain {gg / s:.5f} shift {bb - gg * m / s:.5f} "
          f"(pn ERM {g:.5f} {b:.5f}); one (R, chi) step: {mh * c:.5f} {c:.5f} (pn ERM {R:.5f} {chi:.5f})")
for seed, n in ((None, 200_000), (2, 1_000_000), (3, 1_000_000), (4, 1_000_000)):
    if seed is None:
        u, eta, y = mf.u, mf.eta, mf.y
    else:
        rng = np.random.default_rng(seed)
        u, eta = rng.standard_normal(n), rng.standard_normal(n)
        y = np.maximum(u, 0) + 0.5 * rng.standard_normal(n)
    om = R * u + sq * eta
    f = (proximal_map(om, y, chi, EffectiveLoss(g, b)) - om) / chi
    t = 5 * (f * u - R * f * eta / sq)
    print(f"sample {'prototype' if seed is None else seed} ({n}): m_hat {t.mean():.4f} +- {t.std() / math.sqrt(n):.4f}"
          f" (exact R/chi = {R / chi:.4f})")
