"""The saddle-point solver: Anderson mixing where it is safe, the damped iteration's fixed points kept.

Toy maps with known fixed points and rates, then the theory's own curves solved both ways."""

import math

import numpy as np
import pytest

from statmech_bn.theory import METHOD_TABLE, Problem, SolverSettings
from statmech_bn.theory import solver as solver_module
from statmech_bn.theory.replica import RECENT_SUMS
from statmech_bn.theory.solver import SAME_POINT, accelerated_fixed_point, damped_fixed_point, forward_branch

SLOW = 0.995


def slow_contraction(x):
    """F(x) = x* + SLOW (x - x*) rotated: a fixed point the damped iteration approaches at rate 1 - 0.7 * 0.005."""
    target = np.array([0.3, -0.2, 0.5])
    rotation = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    return target + SLOW * rotation @ (x - target)


def test_anderson_solves_a_slow_contraction_in_few_iterations():
    accelerated = accelerated_fixed_point(slow_contraction, np.zeros(3), 0.3, 1e-12, 100_000)
    damped = damped_fixed_point(slow_contraction, np.zeros(3), 0.3, 1e-12, 100_000)
    assert accelerated.converged and damped.converged
    np.testing.assert_allclose(accelerated.value, [0.3, -0.2, 0.5], atol=1e-10)
    assert accelerated.iterations < 30 < 1000 < damped.iterations


def pitchfork(x):
    """F(x) = x + 0.05 (x - x^3/4) in the first slot (x = 0 repels the damped iteration, x = +-2 attract it; a
    Newton-like step from |x| < 2/sqrt 5 goes back to 0) and a contraction towards 0.2 in the second."""
    return np.array([x[0] + 0.05 * (x[0] - x[0] ** 3 / 4.0), 0.2 + 0.5 * (x[1] - 0.2)])


def test_a_repelling_fixed_point_is_not_kept():
    """From x = 1e-4 Anderson mixing lands on the repelling x = 0; the stability check refuses it, and the
    escapes along the repelling direction (overlap up) find x = +2, where the damped iteration goes too."""
    start = np.array([1e-4, 0.0])
    accelerated = accelerated_fixed_point(pitchfork, start, 0.3, 1e-11, 4000)
    damped = damped_fixed_point(pitchfork, start, 0.3, 1e-11, 4000)
    assert accelerated.converged and damped.converged
    np.testing.assert_allclose(accelerated.value, [2.0, 0.2], atol=1e-9)
    np.testing.assert_allclose(damped.value, [2.0, 0.2], atol=1e-9)
    assert accelerated.iterations < damped.iterations


TARGET = np.array([0.3, -0.2, 0.5])
TURN = 0.6 * np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
"""The Jacobian of :func:`brisk_contraction`: its damped map (d = 0.3) contracts by 0.72, below INHERIT_RADIUS."""


def brisk_contraction(x):
    return TARGET + TURN @ (x - TARGET)


def test_a_nearby_jacobian_makes_the_first_iteration_newtons():
    """With the Jacobian of F itself (an affine map: exact everywhere) the preconditioned iteration lands on the fixed
    point in one step (two evaluations), plus the check's own k + 1 = 4; with that of a nearby map (0.9 times it) it
    takes no more evaluations than the plain Anderson iteration (which solves an affine map of 3 dimensions in 5); each
    result carries the check's Jacobian, F's."""
    exact = accelerated_fixed_point(brisk_contraction, np.zeros(3), 0.3, 1e-12, 4000, jacobian=TURN)
    nearby = accelerated_fixed_point(brisk_contraction, np.zeros(3), 0.3, 1e-12, 4000, jacobian=0.9 * TURN)
    plain = accelerated_fixed_point(brisk_contraction, np.zeros(3), 0.3, 1e-12, 4000)
    for result in (exact, nearby, plain):
        assert result.converged and not result.inherited
        np.testing.assert_allclose(result.value, TARGET, atol=1e-11)
        np.testing.assert_allclose(result.jacobian, TURN, atol=1e-8)
    assert exact.iterations == 2 + 4 < plain.iterations
    assert nearby.iterations <= plain.iterations


@pytest.mark.parametrize("start_offset,jacobian,inherit,inherits", [
    (1e-3, TURN, True, True),  # near its start, fast, a contracting Jacobian: the check is inherited
    (1e-3, TURN, False, False),  # the last point inherited its own: this one takes a check
    (0.5, TURN, True, False),  # moved more than INHERIT_DISTANCE: perhaps another branch
    (1e-3, np.diag([0.88, 0.6, 0.6]), True, False),  # the last point's damped map contracts by 0.916 only
])
def test_a_point_inherits_the_last_check_only_near_a_contracting_one(start_offset, jacobian, inherit, inherits):
    result = accelerated_fixed_point(brisk_contraction, TARGET + start_offset, 0.3, 1e-12, 4000, jacobian=jacobian,
                                     inherit=inherit)
    assert result.converged and result.inherited == inherits
    np.testing.assert_allclose(result.value, TARGET, atol=1e-11)
    if inherits:
        assert result.jacobian is jacobian and result.iterations <= solver_module.INHERIT_EVALUATIONS
    else:
        np.testing.assert_allclose(result.jacobian, TURN, atol=1e-8)


@pytest.mark.parametrize("activation,method,noise", [("relu", "gibbs", 0.5), ("relu", "erm", 0.0),
                                                     ("erf", "high_temperature", 0.5), ("sign", "gibbs", 0.0)])
def test_every_inheriting_point_of_a_curve_is_stable_by_its_own_check(monkeypatch, activation, method, noise):
    """Each point of both branches that inherits the last load's check is checked afterwards by its own: its damped
    map's spectral radius is within 0.1 of the inherited one and below INHERIT_RADIUS + 0.1 (stable by a margin), and
    points do inherit (measured on the benchmark curves: within 0.032)."""
    real = solver_module.accelerated_fixed_point
    radii = []

    def checked(update, x0, damping, tolerance, max_iterations, **options):
        result = real(update, x0, damping, tolerance, max_iterations, **options)
        if result.inherited:
            moving = options["moving"]
            with options["hold"]():
                own, _ = solver_module.damped_map_spectrum(update, result.value, update(result.value), damping,
                                                           moving, admissible=options["admissible"])
            radii.append((solver_module.damped_spectrum(result.jacobian, damping, moving, x0.size)[0], own))
        return result

    monkeypatch.setattr(solver_module, "accelerated_fixed_point", checked)
    problem = Problem(activation, "pn_gd", method, temperature=0.5, zeta=0.1, noise=noise)
    points = list(solver_module.solve_curve(METHOD_TABLE[method](problem), np.geomspace(0.5, 20.0, 30),
                                            SolverSettings()))
    assert all(p.converged for p in points) and len(radii) >= 5
    for inherited, own in radii:
        assert abs(own - inherited) <= 0.1 and own < solver_module.INHERIT_RADIUS + 0.1


def test_a_misleading_jacobian_costs_at_most_its_budget_and_a_repelling_one_is_not_used():
    """A Jacobian that turns Newton's step the wrong way (the transpose: the rotation reversed) is given up after at
    most NEWTON_BUDGET evaluations, the plain iteration then finding the point; one whose damped map repels (the
    pitchfork's at 0) or contracts by NEWTON_RADIUS or less preconditions nothing."""
    plain = accelerated_fixed_point(brisk_contraction, np.zeros(3), 0.3, 1e-12, 4000)
    misled = accelerated_fixed_point(brisk_contraction, np.zeros(3), 0.3, 1e-12, 4000, jacobian=-TURN.T)
    assert misled.converged
    np.testing.assert_allclose(misled.value, TARGET, atol=1e-11)
    assert misled.iterations <= plain.iterations + solver_module.NEWTON_BUDGET
    moving = np.arange(2)
    assert solver_module.newton_mixing(np.diag([1.05, 0.5]), 0.3, moving, 2)[0] is None
    assert solver_module.newton_mixing(np.diag([0.93, 0.5]), 0.3, moving, 2)[0] is None  # damped: 0.951
    mixing, radius = solver_module.newton_mixing(np.diag([0.9, 0.5]), 0.3, moving, 2)
    np.testing.assert_allclose(mixing, np.diag([10.0, 2.0]))
    assert radius == pytest.approx(0.93)


def test_the_stability_check_sees_the_repelling_direction():
    radius, direction = solver_module.damped_map_spectrum(pitchfork, np.zeros(2), pitchfork(np.zeros(2)), 0.3)
    assert radius == pytest.approx(0.3 + 0.7 * 1.05, rel=1e-6)
    assert abs(direction[0]) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("activation,method,noise", [("relu", "high_temperature", 0.5), ("relu", "gibbs", 0.5),
                                                     ("erf", "high_temperature", 0.0), ("sign", "gibbs", 0.0),
                                                     ("relu", "erm", 0.5), ("linear", "high_temperature", 0.5)])
def test_accelerated_curves_are_the_damped_iterations(monkeypatch, activation, method, noise):
    """Every converged point of a forward continuation across the learning transition, accelerated and damped,
    agrees to the solver tolerance (1e-9 on the state; eps_g within 1e-7), and no accelerated point that
    converged needed more than 100 evaluations where the damped one needed fewer than 1000."""
    alphas = np.geomspace(0.5, 20.0, 24)
    problem = Problem(activation, "pn_gd", method, temperature=0.5, zeta=0.1, noise=noise)
    accelerated = list(forward_branch(METHOD_TABLE[method](problem), alphas, SolverSettings(branches="forward")))
    monkeypatch.setattr(solver_module, "accelerated_fixed_point",
                        lambda update, x0, damping, tolerance, max_iterations, **_: damped_fixed_point(
                            update, x0, damping, tolerance, max_iterations))
    damped = list(forward_branch(METHOD_TABLE[method](problem), alphas, SolverSettings(branches="forward")))
    both = [(a, d) for a, d in zip(accelerated, damped, strict=True) if a.converged and d.converged]
    assert len(both) >= len(alphas) - 2
    for a, d in both:
        assert a.observables["eps_gen"] == pytest.approx(d.observables["eps_gen"], rel=1e-7, abs=1e-9), a.alpha
        assert a.observables["R"] == pytest.approx(d.observables["R"], abs=1e-7), a.alpha
    assert sum(a.iterations for a in accelerated) < sum(d.iterations for d in damped)


def test_diverged_means_runaway_order_parameters_of_a_failed_point():
    runaway = {"gamma": 3e9, "beta": 0.1, "chi": 2.0, "L": math.nan}
    assert solver_module.diverged(runaway, converged=False)
    assert not solver_module.diverged(runaway, converged=True)
    assert not solver_module.diverged({"gamma": 1.2, "beta": -0.3, "chi": math.nan, "L": math.nan}, converged=False)
    assert solver_module.diverged({"gamma": 1.2, "beta": 0.0, "chi": math.inf, "L": math.nan}, converged=False)


def test_secant_prediction_extrapolates_straight_stretches_only():
    """The continuation's predictor: exact on a path linear in log alpha, None with fewer than three points or where
    the path bends (the end of a branch, where the steps grow)."""
    from statmech_bn.theory.solver import _secant_prediction

    def path(t):
        return np.array([0.3 + 0.2 * t, 1.0 - 0.1 * t])

    ts = [0.0, 0.1, 0.2]
    history = [(t, path(t)) for t in ts]
    np.testing.assert_allclose(_secant_prediction(history, 0.35), path(0.35), rtol=0, atol=1e-15)
    assert _secant_prediction(history[1:], 0.35) is None
    bent = [(t, np.array([math.sqrt(0.25 - t), 1.0])) for t in ts]  # a square-root fold at t = 0.25
    assert _secant_prediction(bent, 0.3) is None


def test_a_held_chord_jacobian_is_neither_refreshed_nor_aged():
    chord = solver_module.ChordJacobian(refresh_every=2)
    calls = []

    def gradient(p):
        calls.append(p.copy())
        return 2.0 * p

    params = np.array([1.0])
    first = chord.get(gradient, params, gradient(params), 1e-6)
    with chord.hold():
        for _ in range(5):
            assert chord.get(gradient, params, gradient(params), 1e-6) is first
    assert chord.age == 1 and len(calls) == 1 + 1 + 5  # one refresh, then only the callers' own gradients
    chord.get(gradient, params, gradient(params), 1e-6)
    assert chord.age == 2
    assert chord.get(gradient, params, gradient(params), 1e-6) is not first  # aged out once released


KEPT_SUMS = RECENT_SUMS


def _relu_gibbs_points(monkeypatch, hold: bool, memo: bool):
    """A short relu Gibbs continuation (noise 0.5) across the learning transition and the kernel calls it took."""
    import statmech_bn.theory.replica as replica

    calls = []
    real = replica.gibbs_sums

    def counted(*args):
        calls.append(args[2:9])
        return real(*args)

    monkeypatch.setattr(replica, "gibbs_sums", counted)
    method = METHOD_TABLE["gibbs"](Problem("relu", "pn_gd", "gibbs", temperature=0.5, zeta=0.1, noise=0.5))
    if not hold:
        monkeypatch.setattr(method, "hold_jacobian", solver_module.nullcontext)
    monkeypatch.setattr(replica, "RECENT_SUMS", KEPT_SUMS if memo else 0)
    points = list(forward_branch(method, np.geomspace(0.5, 20.0, 8), SolverSettings(branches="forward")))
    return points, len(calls)


def test_kept_sums_change_no_bit_of_the_points_and_the_held_jacobian_only_their_path(monkeypatch):
    """The Gibbs sums of recent states kept give the same points to the last bit, with fewer evaluations of the sums.
    The stability check with the chord Jacobian held gives the same points to the solver's tolerance (its Jacobian,
    which the next load's iteration starts from, is that of one map: without the hold a refresh can fall inside it),
    with fewer evaluations; no escape happens on this curve."""
    held, held_calls = _relu_gibbs_points(monkeypatch, hold=True, memo=False)
    fast, fast_calls = _relu_gibbs_points(monkeypatch, hold=True, memo=True)
    assert all(p.converged for p in fast)
    for a, b in zip(fast, held, strict=True):
        assert a.observables == b.observables and a.iterations == b.iterations
        np.testing.assert_array_equal(a.state, b.state)
    assert fast_calls < held_calls
    plain, plain_calls = _relu_gibbs_points(monkeypatch, hold=False, memo=False)
    assert all(p.converged for p in plain)
    for a, b in zip(held, plain, strict=True):
        np.testing.assert_allclose(a.state, b.state, rtol=0.0, atol=SAME_POINT)
        assert abs(a.observables["eps_gen"] - b.observables["eps_gen"]) <= SAME_POINT
    assert fast_calls < 0.9 * plain_calls


def test_the_newton_step_is_plain_where_concave_and_an_ascent_elsewhere():
    """Negative definite symmetric part: the plain Newton move -J^-1 g to the last bit. A saddle (eigenvalues of both
    signs) or a minimum: a move along the gradient's side of every eigen-direction (g . move > 0), whose size along
    each is |g_i| / |lambda_i|."""
    gradient = np.array([0.3, -0.7])
    concave = np.array([[-2.0, 0.4], [0.3, -1.0]])
    assert np.array_equal(solver_module.ascent_hessian_step(concave, gradient), -np.linalg.solve(concave, gradient))
    rotation = np.array([[math.cos(0.3), -math.sin(0.3)], [math.sin(0.3), math.cos(0.3)]])
    for curvatures in ([-2.0, 0.5], [1.0, 3.0]):
        hessian = rotation @ np.diag(curvatures) @ rotation.T
        move = solver_module.ascent_hessian_step(hessian, gradient)
        assert gradient @ move > 0.0
        np.testing.assert_allclose(rotation.T @ move, (rotation.T @ gradient) / np.abs(curvatures), rtol=1e-14)


@pytest.mark.parametrize("alpha", [0.5, 2.0, 5.0])
def test_a_cold_start_finds_the_finite_saddle_point(alpha):
    """relu pn Gibbs at T = 1 without noise, one load from the default start (a one-point sweep): the plain Newton
    step on (gamma, beta) climbed gamma against dPhi/dgamma < 0 there and ran away to 1e60 ("diverged"). The saddle
    point is finite: below alpha ~ 3 the uninformed state R = q = gamma = 0 with the constant output beta = E[relu(z)]
    = 1/sqrt(2 pi) (the closed form); at alpha = 5 the learned state that the continuation from alpha = 0.5 reaches."""
    problem = Problem("relu", "pn", method="gibbs", temperature=1.0)
    settings = SolverSettings(branches="forward")
    alphas = np.array([alpha]) if alpha < 5.0 else np.linspace(0.5, alpha, 10)
    cold = list(forward_branch(METHOD_TABLE["gibbs"](problem), np.array([alpha]), settings))[-1]
    assert cold.converged
    if alpha < 5.0:
        np.testing.assert_allclose(cold.state, [0.0, 0.0, 0.0, 1.0 / math.sqrt(2.0 * math.pi)], atol=1e-8)
    else:
        continued = list(forward_branch(METHOD_TABLE["gibbs"](problem), alphas, settings))[-1]
        assert continued.converged and continued.state[2] > 0.4
        np.testing.assert_allclose(cold.state, continued.state, atol=1e-8)


@pytest.mark.parametrize("activation,noise", [("relu", 0.0), ("relu", 0.1), ("relu", 0.2), ("relu", 0.3),
                                              ("erf", 0.1), ("erf", 0.3)])
def test_the_learning_transition_with_small_label_noise_takes_few_evaluations(activation, noise):
    """Gibbs (pn_gd zeta 0.1, T = 0.5) on the benchmark's loads, both branches, with label noise below the
    benchmark's 0.5. Before: at noise 0.2 an escape from the uninformed point started at q = 0 < R^2 (fixed by
    ``admissible``) and the point took 1,016 evaluations; at noise 0.3 one residual of 1.04e-9 (a hair above the
    tolerance) followed by a chord refresh cleared every later Anderson history (fixed by ANDERSON_RESTART counting from
    the last restart): 802 evaluations at alpha = 0.729 and a point not converged in 2,000 at 0.676. Then, with the
    sums near the uninformed point changed by round-off only (4e-15): 1,066 evaluations at 0.676 (the stability
    check's difference step in R left q >= R^2, fixed by :func:`forward_jacobian`'s admissible steps), 149 at noise
    0.2 (Anderson's extrapolations left the domain, now moved back in), 383 at noise 0.1 (the end of the learned
    branch, where every escape from the unstable middle point found the stable one below it, fixed by keeping that),
    and erf's uninformed points 138-4,106 with admissible steps from a state itself outside the domain."""
    problem = Problem(activation, "pn_gd", "gibbs", temperature=0.5, zeta=0.1, noise=noise)
    alphas = np.geomspace(0.5, 20.0, 50)
    settings = SolverSettings(branches="both")
    points = [*forward_branch(METHOD_TABLE["gibbs"](problem), alphas, settings),
              *solver_module.backward_branch(METHOD_TABLE["gibbs"](problem), alphas, settings)]
    assert all(point.converged for point in points)
    assert max(point.iterations for point in points) <= 100


@pytest.mark.parametrize("size", [1, 2, 3])
def test_negative_definiteness_by_minors_agrees_with_the_eigenvalues(size):
    rng = np.random.default_rng(7)
    for _ in range(200):
        a = rng.normal(size=(size, size))
        symmetric = a + a.T - rng.uniform(0.0, 3.0) * np.eye(size)
        want = bool(np.linalg.eigvalsh(symmetric).max() < 0.0)
        assert solver_module._negative_definite(symmetric) == want


def test_difference_steps_stay_in_the_domain():
    """A map defined only on q >= R^2 (garbage outside, as a disorder average with sqrt(q - R^2) clipped), at R = -1e-7,
    q = 2e-14: a step of 1e-6 in R leaves the domain both ways; with ``admissible`` the step is halved until one way
    stays in, and the Jacobian is the map's (without, the R column is the garbage's)."""
    def domain(x):
        return np.array([x[0], max(x[1], x[0] ** 2)])

    def fn(x):
        if x[1] < x[0] ** 2:
            return np.array([1e6, 1e6])
        return np.array([2.0 * x[0] + x[1], 3.0 * x[1] - x[0]])

    x = np.array([-1e-7, 2e-14])
    want = np.array([[2.0, 1.0], [-1.0, 3.0]])
    got = solver_module.forward_jacobian(fn, x, fn(x), 1e-6, admissible=domain)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    plain = solver_module.forward_jacobian(fn, x, fn(x), 1e-6)
    assert np.abs(plain[:, 0]).max() > 1e9
    outside = np.array([1e-7, 0.0])  # a state itself outside: plain steps, as without ``admissible``
    np.testing.assert_array_equal(solver_module.forward_jacobian(fn, outside, fn(outside), 1e-6, admissible=domain),
                                  solver_module.forward_jacobian(fn, outside, fn(outside), 1e-6))
