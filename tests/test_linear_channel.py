"""The closed-form disorder averages of the linear channel (kernels/linear_channel.py) against the quadrature
kernels they replace (which stay tested against adaptive SciPy quadrature in tests/test_quadrature.py). The ridge
and Gaussian-posterior literature checks of tests/test_theory.py run through the closed forms."""

import numpy as np
import pytest
from tolerances import CLOSED_FORM_SUMS_ATOL, ERF_GRID_SUMS_ATOL

from statmech_bn.kernels import saddle
from statmech_bn.model import ACTIVATIONS
from statmech_bn.theory.problem import Problem

LINEAR = ACTIVATIONS["linear"].code


def states(seed: int, count: int = 12):
    """(m, q, v or chi, gamma, beta, beta_t): q in (0, 1], |m| <= sqrt(q) (and a few with m^2 = q, no cross term)."""
    rng = np.random.default_rng(seed)
    for k in range(count):
        q = rng.uniform(0.01, 1.0)
        m = np.sqrt(q) * (rng.choice([-1.0, 1.0]) if k < 2 else rng.uniform(-1.0, 1.0))
        yield m, q, rng.uniform(0.0, 2.0), rng.uniform(0.05, 3.0), rng.normal(0.0, 0.5), rng.uniform(0.1, 20.0)


def both(closed, quadrature, *args, extra=()):
    """closed(*args, *extra) and quadrature(*args): the kernels that take the feature rules (``extra``) on top."""
    got, want = np.empty(saddle.N_SUMS), np.empty(saddle.N_SUMS)
    closed(*args, *extra, got)
    quadrature(*args, want)
    return got, want


@pytest.mark.parametrize("noise", [0.0, 0.5, 2.0])
def test_gibbs_sums_closed_form(noise):
    r = Problem("linear", "pn", "gibbs", noise=noise).rules()
    extra = (r.feature_x, r.feature_w, r.tail_x, r.tail_w)
    for m, q, v, gamma, beta, beta_t in states(1):
        got, want = both(saddle.gibbs_sums, saddle.gibbs_sums_by_quadrature, LINEAR, LINEAR, m, q, v, gamma, beta,
                         beta_t, noise, r.tau_x, r.tau_w, r.eta_x, r.eta_w, r.xi_x, r.xi_w, extra=extra)
        np.testing.assert_allclose(got, want, rtol=CLOSED_FORM_SUMS_ATOL, atol=CLOSED_FORM_SUMS_ATOL)


@pytest.mark.parametrize("noise", [0.0, 0.5, 2.0])
def test_erm_sums_closed_form(noise):
    r = Problem("linear", "pn", "erm", noise=noise).rules(96)
    for m, q, chi, gamma, beta, _ in states(2):
        got, want = both(saddle.erm_sums, saddle.erm_sums_by_quadrature, LINEAR, LINEAR, m, q, chi, gamma, beta,
                         noise, r.tau_x, r.tau_w, r.eta_x, r.eta_w, r.xi_x, r.xi_w, r.piece_x, r.piece_w, 9.0,
                         extra=(r.feature_x, r.feature_w, r.tail_x, r.tail_w))
        np.testing.assert_allclose(got, want, rtol=CLOSED_FORM_SUMS_ATOL, atol=CLOSED_FORM_SUMS_ATOL)


@pytest.mark.parametrize("noise", [0.0, 0.5, 2.0])
def test_loss_sums_closed_form(noise):
    r = Problem("linear", "pn", "high_temperature", noise=noise).rules()
    for m, _, v, gamma, beta, _ in states(3):
        got, want = both(saddle.loss_sums, saddle.loss_sums_by_quadrature, LINEAR, LINEAR, m, v, gamma, beta, noise,
                         r.tau_x, r.tau_w, r.xi_x, r.xi_w, extra=(r.feature_x, r.feature_w, r.tail_x, r.tail_w))
        np.testing.assert_allclose(got, want, rtol=CLOSED_FORM_SUMS_ATOL, atol=CLOSED_FORM_SUMS_ATOL)


def test_other_channels_still_use_quadrature():
    """erf is not in closed form, and has no kink: gibbs_sums is its quadrature (with the tilted channel on a grid in
    h, kernels/erf_gibbs.py, instead of per node: equal within round-off)."""
    erf = ACTIVATIONS["erf"].code
    r = Problem("erf", "pn", "gibbs", noise=0.3).rules()
    got, want = both(saddle.gibbs_sums, saddle.gibbs_sums_by_quadrature, erf, erf, 0.5, 0.6, 0.4, 1.1, 0.1, 2.0,
                     0.3, r.tau_x, r.tau_w, r.eta_x, r.eta_w, r.xi_x, r.xi_w,
                     extra=(r.feature_x, r.feature_w, r.tail_x, r.tail_w))
    np.testing.assert_allclose(got, want, rtol=0.0, atol=ERF_GRID_SUMS_ATOL)


def test_a_unique_saddle_runs_one_branch_and_says_so(tmp_path):
    """linear/none is quadratic: forward alone (attribute solver_branches_run), and its points equal those that the
    two branches give (they meet)."""
    from statmech_bn.cli import main
    from statmech_bn.store import read_curves

    args = ["sweep", "--activation", "linear", "--normalizer", "none,pn_gd", "--zeta", "0.1", "--weight-decay", "0.1",
            "--method", "erm,gibbs", "--temperature", "0.5", "--noise", "0.5", "--alpha", "0.5:4:8", "--quiet"]
    assert main([*args, "-o", str(tmp_path / "a.h5")]) == 0
    curves = read_curves(str(tmp_path / "a.h5"))
    run = {c["attrs"]["normalizer"]: c["attrs"]["solver_branches_run"] for c in curves.values()}
    assert run == {"none": "forward", "pn_gd": "both"}
    for curve in curves.values():
        if curve["attrs"]["normalizer"] == "none":
            assert not np.any(curve["branch"])
    assert main([*args, "-o", str(tmp_path / "b.h5"), "--branches", "backward"]) == 0
    backward = read_curves(str(tmp_path / "b.h5"))
    for name, curve in curves.items():
        if curve["attrs"]["normalizer"] == "none":
            np.testing.assert_allclose(curve["eps_gen"], backward[name]["eps_gen"], rtol=1e-8)
