"""The whole-branch ridge kernel (kernels/ridge.py, ERM linear/none) against the generic curve solver it bypasses
(statmech_bn.theory.solver with FlatERM's Python map), which stays its reference, and against the closed form."""

import naive
import numpy as np
import pytest
from tolerances import CLOSED_FORM_RTOL, RIDGE_KERNEL_ATOL

from statmech_bn.kernels.ridge import RIDGE_OBSERVABLES, RIDGE_STATE_SIZE, ridge_curve
from statmech_bn.theory import METHOD_TABLE, Problem, SolverSettings
from statmech_bn.theory.problem import SYMMETRY_BREAKING
from statmech_bn.theory.solver import NEWTON_MAX_MOVE, STALL_WINDOW, backward_branch, damped_fixed_point, forward_branch

SETTINGS = SolverSettings(branches="forward")


def ridge_method(ridge, noise):
    return METHOD_TABLE["erm"](Problem("linear", "none", "erm", weight_decay=ridge, noise=noise))


def generic(method):
    """The same method with the whole-branch kernel switched off: the point-by-point continuation."""
    method.solve_branch = lambda *args: None
    return method


def assert_same_points(fast, slow):
    assert [p.index for p in fast] == [p.index for p in slow]
    assert [p.converged for p in fast] == [p.converged for p in slow]
    for a, b in zip(fast, slow, strict=True):
        assert (a.alpha, a.branch) == (b.alpha, b.branch)
        assert type(a.index) is int and type(a.converged) is bool and type(a.iterations) is int
        if not b.converged:
            continue
        assert a.iterations == b.iterations
        assert a.residual <= SETTINGS.tolerance
        np.testing.assert_allclose(a.state, b.state, rtol=0.0, atol=RIDGE_KERNEL_ATOL)
        assert a.observables.keys() == b.observables.keys()
        for name, value in b.observables.items():
            np.testing.assert_allclose(a.observables[name], value, rtol=0.0, atol=RIDGE_KERNEL_ATOL, err_msg=name)


@pytest.mark.parametrize(("ridge", "noise"), [(0.01, 0.0), (0.1, 0.5), (1.0, 0.5), (0.0, 0.3)])
def test_kernel_branches_equal_the_generic_solver(ridge, noise):
    """Both branches, field by field (state, residual, iterations, converged, every observable). Without ridge
    below alpha = 1 there is no minimiser of finite norm: neither path converges there."""
    alphas = np.geomspace(0.2, 5.0, 12) if ridge > 0.0 else np.array([0.5, 0.9, 1.2, 2.0, 5.0])
    for run in (forward_branch, backward_branch):
        fast = list(run(ridge_method(ridge, noise), alphas, SETTINGS))
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # the generic solver's runaway iterates
            slow = list(run(generic(ridge_method(ridge, noise)), alphas, SETTINGS))
        assert_same_points(fast, slow)
        assert sum(p.converged for p in fast) == (alphas.size if ridge > 0.0 else 3)


def run_kernel(alphas, ridge, noise, closed_form, tolerance, start=(0.2, 1.0, 1.0, 0.0)):
    n = alphas.size
    out = (np.empty((n, RIDGE_STATE_SIZE)), np.empty(n), np.empty(n, dtype=np.int64), np.empty(n, dtype=np.bool_),
           np.empty((n, len(RIDGE_OBSERVABLES))))
    ridge_curve(alphas, ridge, noise, np.array(start), closed_form, NEWTON_MAX_MOVE, SETTINGS.damping, tolerance,
                SETTINGS.max_iterations, STALL_WINDOW, SYMMETRY_BREAKING, *out)
    return out


@pytest.mark.parametrize(("ridge", "noise"), [(0.01, 0.5), (0.3, 0.0), (1.0, 0.5)])
def test_kernel_iteration_alone_finds_the_closed_form(ridge, noise):
    """The kernel's damped iteration (closed form switched off), warm-started along the curve, converges to the
    closed-form state and to the Marchenko-Pastur eps_g."""
    alphas = np.geomspace(0.2, 5.0, 20)
    states, residuals, iterations, converged, observables = run_kernel(alphas, ridge, noise, False, 1e-12)
    exact, *_ = run_kernel(alphas, ridge, noise, True, 1e-12)
    assert converged.all() and np.all(residuals <= 1e-12) and np.all(iterations > 1)
    np.testing.assert_allclose(states, exact, rtol=CLOSED_FORM_RTOL, atol=1e-9)
    eps = observables[:, RIDGE_OBSERVABLES.index("eps_gen")]
    want = [naive.ridge_generalization_error(a, ridge, noise) for a in alphas]
    np.testing.assert_allclose(eps, want, rtol=CLOSED_FORM_RTOL)


def test_kernel_iteration_equals_the_generic_damped_iteration():
    """Iterate by iterate: the kernel's damped iteration and damped_fixed_point on FlatERM's Python map stop at the
    same iteration with the same state, within the solver's tolerance (from an off-solution start with beta != 0, so
    the Newton step acts: its derivative is exact in the kernel, a forward difference in the generic solver; measured
    difference 5e-11 at alpha = 1)."""
    method = ridge_method(0.1, 0.5)
    start = np.array([0.3, 0.5, 2.0, 0.2])
    for alpha in (0.4, 1.0, 3.0):
        want = damped_fixed_point(lambda x, a=alpha: method.update(x, a), start, SETTINGS.damping,
                                  SETTINGS.tolerance, SETTINGS.max_iterations)
        states, residuals, iterations, converged, _ = run_kernel(np.array([alpha]), 0.1, 0.5, False,
                                                                 SETTINGS.tolerance, start)
        assert want.converged and converged[0]
        assert iterations[0] == want.iterations
        np.testing.assert_allclose(states[0], want.value, rtol=0.0, atol=1e-9)


def test_ridgeless_below_one_is_not_converged():
    """lambda = 0, alpha < 1: the kernel's fallback iteration runs away and says so; the next load (alpha > 1)
    takes the closed form."""
    states, residuals, iterations, converged, observables = run_kernel(np.array([0.5, 2.0]), 0.0, 0.3, True, 1e-9)
    assert converged.tolist() == [False, True]
    assert iterations[0] > 1 and iterations[1] == 1
