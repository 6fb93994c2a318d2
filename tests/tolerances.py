"""Every numerical and statistical tolerance of the test suite, named and justified in one place."""

QUADRATURE_RTOL = 1e-7
"""Kernels with default node counts against adaptive SciPy quadrature (measured agreement ~1e-9 or better
for smooth channels; the bound leaves headroom for the kinks of relu and sign)."""

FINITE_DIFFERENCE_RTOL = 1e-5
"""Central differences with step 1e-4 of quantities accurate to ~1e-12: truncation error ~1e-8 relative,
round-off ~1e-12/1e-4 = 1e-8; 1e-5 is safe yet fails for any wrong formula (errors of O(1))."""

CLOSED_FORM_RTOL = 1e-6
"""Saddle-point solutions (solver tolerance 1e-9 on the state) against closed forms."""

RIDGE_KERNEL_ATOL = 1e-9
"""The whole-branch ridge kernel (kernels/ridge.py) against the generic solver, field by field. Both evaluate the
same closed-form map at the same closed-form state (the generic solver's Newton step on beta takes a forward-difference
derivative, immaterial at beta = 0): measured differences are round-off, at most 1.4e-14 over every state component
and observable of six 50-load curves (lambda 0 to 1, Delta 0 to 0.25), both branches. The bound 1e-9 is the solver's
tolerance."""

MONTE_CARLO_SIGMAS = 4.0
"""Monte-Carlo checks pass within this many standard errors (two-sided false-alarm rate 6e-5)."""

SIGN_SIGMAS = 3.0
"""A seeded check that an effect has the stated sign (one-sided) passes when the mean exceeds this many standard errors
(false-alarm rate 1.3e-3 for a null effect). Used where a relu ERM result depends on the floating-point path (one
seed of the alpha = 4 sim_erm runs moved eps_g by 0.013 when rerun alone), so that a host with other rounding keeps a
margin: test_lower_minima_of_relu_erm_generalize_worse measured 4.5 standard errors with 20 seeds, 4.2 with 30."""

ERF_CHANNEL_RTOL = 1e-11
"""erf's tilted channel (kernels/channels.py, Gauss-Hermite around the tilted measure's peak or Legendre panels in h)
against adaptive quadrature in tests/naive.py (erf_tilted), as max |got - want|/(1 + |want|) over log Z, g_a, g_aa and
the mean loss, for |y| < 3, |a| < 6, 0 < b <= 36, 0.05 < beta_T < 50: measured 5e-13 at most over 13,700 states (the
goal is 1e-10). The 96-node Gauss-Hermite rule it replaces missed by 1e-2 to 1 at sqrt(b) >= 1.5 (beta_T up to 50),
and by 5e-6 at b = 1e-6 (its moment formulas divided by b)."""

ERF_GRID_RTOL = 1e-12
"""erf's tilted channel by the trapezoidal grid of kernels/erf_gibbs.py against adaptive quadrature in tests/naive.py
(erf_tilted), as max |got - want|/(1 + |want|) over log Z, g_a, g_aa and the mean loss, for |y| < 4, |a| < 8,
1e-3 < b < 4, 0.05 < beta_T < 10 (its domain, GRID_MAX_BETA): measured 9e-14 at most over 1,500 states (the per-node
channel of kernels/channels.py: 2e-13 on the same states)."""

ERF_GRID_SUMS_ATOL = 1e-12
"""erf's Gibbs sums with the grid channel (kernels/erf_gibbs.py) against gibbs_sums_by_quadrature (the per-node channel
of kernels/channels.py at every node of the same rules): measured 8e-15 at most over the 2,400 states of the benchmark
curve with noise 0.5 and the 2,600 without (both channels are within ~2e-13 of adaptive quadrature per node); a wrong
weight, node or slot moves the sums by far more."""

ERF_EXPECTED_LOSS_RTOL = 1e-13
"""erf's expected loss in closed form (the bivariate normal distribution function) against adaptive quadrature: measured
4e-16 over 1,500 states of the same domain; the 96-node Gauss-Hermite rule it replaces missed by 1e-5 at sqrt(b) = 3
and 1e-2 at sqrt(b) = 6."""

FINITE_SIZE_ALLOWANCE = 1.5
"""Simulation against the N -> infinity theory: |gap| < MONTE_CARLO_SIGMAS * SEM + FINITE_SIZE_ALLOWANCE / N.
eps_g at finite N is biased by O(1/N) (fluctuations of R, gain and beta of order 1/sqrt(N) enter a smooth
eps_g at second order). Measured coefficients N * gap, 8-16 seeds, alpha = 3, noise 0.5
(tests/test_simulation.py::test_finite_size_gap_shrinks, slow): Gibbs relu/pn (T = 0.5) +0.66 +- 0.27,
+0.90 +- 0.25, -0.03 +- 0.37 at N = 100, 200, 400; ERM relu/none -0.14 +- 0.21 ... -0.30 +- 1.07 at N = 100..800;
ERM erf/pn_gd |N gap| < 0.15. 1.5 covers the largest measured coefficient with margin, and at N = 120 it is
0.0125, a tenth of a typical eps_g: mistakes of the physics (a wrong temperature, normalizer or penalty) move
eps_g by more."""

KS_P_VALUE_MIN = 1e-4
"""Two samples are called indistinguishable when the two-sample Kolmogorov-Smirnov test gives p > 1e-4 (the
false-alarm rate of one comparison; 20 comparisons in tests/test_reduced.py keep the family's below 2e-3). The
KS test compares whole distributions, so it also sees the heavy tail of bn's L at M = 4 (rare batches with a
tiny variance give large steps) that makes standard deviations a poor statistic there."""

THRESHOLD_RTOL = 1e-6
"""Maximal learning rates against closed forms. The root finding runs at rtol = 1e-7 here, and the Jacobian (one-sided
Richardson-extrapolated differences at the boundary R = 1, central ones elsewhere) resolves the spectral abscissa to
~1e-9: measured errors are below 1e-10 (stability) and 1e-8 (integration, against the closed-form trajectory), so
1e-6 is safe, and it fails for the old central differences across R = 1 (relu pn: 1.5e-4) or a wrong closed form."""

CLOSED_FORM_SUMS_ATOL = 1e-12
"""Closed-form disorder averages (linear channel) against the quadrature kernels at default nodes: both exact up to
the tail cut Phi(-9) ~ 1e-19 and round-off over ~10^5 summed nodes (measured 8e-15)."""

RELU_ERM_REFERENCE_NODES = 320
"""erm_replica_nodes of the quadrature reference for relu's closed-form replica average (80 Gauss-Legendre nodes per
piece: measured agreement 2e-15; at the default 96 nodes the quadrature itself is off by up to
6e-7 on wide pieces, which the closed form removes)."""

BIVARIATE_NORMAL_ATOL = 5e-16
"""Phi2(h, k; rho) (kernels/bivariate_normal.py) against values computed with mpmath at 40 digits: measured 1.5e-16 at
most over 1,020 points (a grid of h, k in [-8, 8] and rho in [-1, 1] with +-0.999999, and random points with
1 - |rho| down to 1e-12); 5e-16 leaves room for the libm of another platform."""

BIVARIATE_REFERENCE_ATOL = 5e-15
"""Phi2 against the double-precision references of SciPy: Owen's T formula (scipy.special.owens_t) is itself off by up
to 2.8e-15 (at rho = 0.999999, h = k = 1.5) and scipy.stats.multivariate_normal by up to 1.2e-15 (rho = -0.999999,
h = k = 0), both measured against mpmath at 40 digits; the kernel is within 1.5e-16 of mpmath."""

RELU_DRIFT_QUADRATURE_ATOL = 1e-12
"""relu's per-sample drift averages in closed form (kernels/relu_drift.py) against the quadrature kernel
dynamics.sample_averages at DRIFT_NODES: measured 2.5e-13 at most over 50,000 random states (|scale| < 3, |beta| < 2,
1 - |R| down to 1e-15, |scale| down to 1e-15), on E[d^2] ~ 9 at scale -2.5, beta 1.9, R = 1 - 1.2e-9 (terms up to
~30 summed over ~1.6e4 nodes). The difference is the quadrature's: at that state the closed form is within 9e-16 of
adaptive SciPy integration and the quadrature off by 2.5e-13."""

RELU_DRIFT_REFERENCE_ATOL = 1e-13
"""The closed form against nested adaptive SciPy integration (tests/naive.py drift_sample_averages): measured 1.8e-15
at most; the bound is the absolute accuracy requested of the reference (epsabs 1e-13 outside, 1e-14 inside)."""
DRIFT_QUADRATURE_RTOL = 1e-9
"""The online drift's per-sample averages by quadrature (kernels/dynamics.py sample_averages, DRIFT_NODES = 40 per
panel) against their closed forms (kernels/saad_solla.py: erf at beta = 0, linear at any beta), relative to
max(1, |value|): measured 3.5e-10 (erf E[d^2] as the scale nears 3, where g'(a) is narrow in lambda) and 2e-14
(linear) over random states with scale in (0.1, 3) (3.2e-10 on the test's 1000); also the whole drift built on
them (measured 1.8e-13 at gains in (0.2, 2), weight and gamma decay included)."""

DRIFT_FINE_QUADRATURE_RTOL = 1e-12
"""The same averages at 80 Gauss-Legendre nodes per panel: measured 1.2e-14 (erf), 4.3e-14 (linear)."""

DBLQUAD_RTOL = 1e-12
"""erf's closed-form averages against scipy dblquad (tests/naive.py drift_averages, epsabs 1e-13, epsrel 1e-12):
measured 1e-15."""

ODE_INTEGRATOR_RTOL = 1e-10
"""The compiled Dormand-Prince 5(4) (kernels/ode_rk.py) at its default rtol 1e-11, atol 1e-13 against SciPy's DOP853 at
rtol 1e-12, atol 1e-14 on the same closed-form drift, states relative to max(1, |y|), to t = 100: measured 3.5e-11 on
the test's four problems (against DOP853 at rtol 1e-13: 2.1e-11 at most over erf and linear, none/pn/wn/pn_gd,
M = 1 and 8, noise 0 and 0.3, eta 0.5 and 2)."""

ODE_CLOSED_FORM_RTOL = 1e-9
"""The accuracy target of the closed-form path of integrate_ode: every trajectory field within 1e-9 (relative to
max(1, |value|)) of the quadrature drift integrated by SciPy at rtol 1e-12, and of the explicit solution of
linear/none. Measured 5.4e-11 at most on the grid of ODE_INTEGRATOR_RTOL against DOP853 at rtol 1e-12 on the
quadrature drift (that drift's own error: 5.1e-11 with the closed-form drift integrated at rtol 1e-13), 8.9e-12 on the
test's five problems against RK45 at rtol 1e-12, and 9.0e-12 against the explicit solution. The compiled integrator at
rtol 1e-10 instead of 1e-11 reaches 1.0e-9 on the grid."""
KINKED_RTOL = 1e-9
"""The averages of the kinked students (relu, sign) with their feature rules against nested adaptive quadrature and
closed forms, as max |got - want|/(1 + |want|) (eps_g: relative). Measured 1e-13 to 1e-10 over the test states; the
32-node tensor rules they replace miss by 1e-7 to O(1) there. relu ERM with noise (teacher field by a feature rule,
replica field and noise in closed form): measured 2.7e-10 at most over 32 states up to R = 0.9999 (sphere and none,
noise 0.3 and 1) and 2e-10 over 300 random ones; without noise (closed form) 4e-15. The fixed teacher rule with 8
noise nodes missed them by up to 0.2."""

ERF_ERM_LINE_ATOL = 1e-12
"""erf's proximal map solved along a line of the replica field (Newton in the convex stretch of h that holds the
global minimiser, kernels/erf_erm.py) against the per-node solution (kernels/channels.py moreau), and the ERM sums
built from either where no line takes a feature rule: both stop Newton at steps below 1e-14 (1 + |h|) on the same
global minimum, so they differ by round-off (measured 1e-16 in the sums over 1,255 states of the benchmark curves)."""

ERF_ERM_MEMO_ATOL = 1e-15
"""erf's ERM sums with the memo from call to call (Newton started from the remembered h* moved to first order) against
those without: both stop Newton at a step below 1e-9 (1 + |h|) on the same minimiser (error ~1e-18), so they differ by
round-off: measured 2.8e-17 at most on the test's states."""

ERF_ERM_REFERENCE_ATOL = 1e-9
"""erf's ERM sums on lines where h*(a) jumps or is steep (kernels/erf_erm.py erf_erm_branches: split at the jumps,
Legendre pieces graded toward the jumps and steep points) against adaptive quadrature split there (tests/naive.py
erf_erm_line_average, the proximal map by brute force): measured 3e-15 at most on the test's lines and 2.7e-15 on
three states of the noise 0.5 benchmark curve (all lines), where the 96-node Gauss-Hermite rule across the jump missed
by up to 3e-3 on a line and 1e-7 in the sums."""

ERF_SMOOTH_RULE_ATOL = 3e-11
"""erf's ERM and Gibbs sums with the smaller replica rules of smooth lines (kernels/erf_erm.py SMOOTH_LINE_SIZES)
against the kernels' full rule (96 nodes ERM, 32 Gibbs) on every line: both are within 2.2e-12 (ERM, of a 300-node
rule) and 1.1e-11 (Gibbs, of 200 nodes) on such lines (measured over |y| <= 2.5, |A| <= 5), so they differ by 2.2e-11
at most; a wrong node or weight moves the sums by >= 1e-6."""

BN_EXACT_ATOL = 1e-6
"""bn's drift averages by exact integration over the batch (kernels/bn_exact.py) at the default nodes (12 Gauss-Legendre
nodes per smoothstep piece of each sphere coordinate, 6 Gauss nodes in the batch std) against 64 and 12 nodes: measured
5e-7 at most at M = 4 ... 8 over relu states with R from 0.3 to 1 (branch states R ~ 0.9997: 2.4e-7) and 1e-6 at
M = 12; the Monte-Carlo drift it replaces has standard errors ~1e-3."""

ERF_NOISE_RULE_ATOL = 2e-10
"""erf's ERM sums with the label-noise rule chosen by c = gamma^2 chi (statmech_bn/theory/erm.py ERF_NOISE_NODES; split
at the cusps above c = 1.8) against 20-node Legendre pieces of 0.25 split at the cusps, at states of the noise 0.5
benchmark curve: measured <= 3e-11 at the 12 states with c from 1.9 to 6.3 (the reference itself: Gauss-Hermite rules
at states without a cusp in reach agree with it to ~1.3e-11 to 2e-11, its floor); 32 Gauss-Hermite nodes miss by
4.8e-9 at c = 6.3, 64 by 9.8e-10, the fixed 8-node rule by 6.6e-6."""

BN_MEANFIELD_INFINITE_ATOL = 1e-6
"""The M = infinity limit of the bn mean-field theory (statmech_bn/theory/bn_meanfield.py, 32 label and 16 eta
Gauss-Legendre nodes per piece) against pn ERM (theory/erm.py, solver tolerance 1e-11) in R, chi, gain, shift and
training loss at alpha = 5, relu, noise 0.5: measured 1.4e-7 at most (3e-9 with 64/32 nodes, so the quadrature's
error); the prototype's frozen-sample fit with a smoothed proximal map missed the shift by 1.3e-2."""

PROX_BRUTE_ATOL = 1e-7
"""Exact proximal map of a two-piece quadratic against brute force (grid of 40,001 points on [-30, 30], then bounded
Brent around the best grid point): Brent's bounded search stops within xatol + sqrt(eps) |h| <= 1.5e-8 (1 + |h|),
and the test's minimisers have |h| < 5; a wrong branch or clip point is off by >= 1e-3."""

LABEL_RULE_MOMENT_ATOL = 2e-9
"""The label rule of the mean field (statmech_bn/theory/bn_meanfield.py, 24 Gauss-Legendre nodes on pieces of
length up to 9 of the normal density) against closed-form moments of y = g(u) + 0.5 xi: measured 9e-12 off in the
total weight and 6.4e-10 in E[y^2] (linear; relu 3.2e-10, the tails' truncation at 9 is 2e-19); a wrong label (a
missing noise term or teacher) is off by >= 0.06."""

L_EFF_BRUTE_ATOL = 1e-12
"""The finite-M effective loss from its tables (statmech_bn/theory/bn_finite_m.py, at the table's grid nodes, where
the cubic spline interpolates exactly) against explicit batches summed one by one (tests/naive.py): sums of a few
hundred O(1) terms in a different order, round-off ~1e-14; a wrong term (own loss, a mate's loss, the std's divisor)
is off by >= 1e-3."""

BN_FINITE_M_LARGE_M_ATOL = 0.04
"""The finite-M mean-field theory (statmech_bn/theory/bn_finite_m.py) at M = 256 against its M = infinity limit, pn
ERM (theory/erm.py), at alpha = 5, relu, noise 0.5, in R, gain gamma/s_T, shift beta - gamma m_T/s_T and the
training loss, with the test's cheap settings (8 outer / 16 eta nodes, 250 batches, tolerance 1e-5): measured at
most 0.016 over batch seeds 1-3 (gain: -0.006, -0.016, +0.002); linear 0.0070 (training loss), erf 0.028 (gain;
seed 1). Budget: the O(1/M) term, measured with finer
settings (12/32 nodes, 641 grid points, 250 batches) at M = 64 -> 256 as R +0.013 -> +0.005, gain -0.08 -> -0.023,
shift +0.055 -> +0.010, training loss +0.0085 -> +0.0025 (like M^-0.65 .. M^-1.2), plus the batch-seed spread
(0.018 in gain) and the coarse quadrature's shift (<= 0.02); at M = 64 the gain is off by 0.056-0.077, above it."""

BN_FINITE_M_LARGE_M_CHI_ATOL = 0.06
"""chi of the same comparison: measured -0.034 .. -0.039 over seeds 1-3, almost all the coarse eta quadrature's error
(16 Gauss-Legendre nodes on [-8, 8] across the proximal map's jumps, which converge like 1/n_eta^2 .. 1/n_eta): with
32 eta and 12 outer nodes it is +0.0033 / +0.0040 (seeds 1, 2)."""

FINITE_M_RESEARCH_TABLE_ATOL = 1e-7
"""The package's finite-M solver against the research script it replaced (docs/bn_meanfield/table_seed1.jsonl, same
settings and batch seed): measured 1.1e-9 in R, 1.9e-9 in gamma, 2.8e-10 in eps_g at M = 4, alpha = 3 (fastmath
contraction in the kernels and the proximal map's golden-section fallback where the spline curvature is not
positive); any change of the equations or of the batch draws moves the point by >= 1e-4 (the batch-seed spread)."""

FINITE_M_SGD_RTOL = 0.05
"""The finite-M theory against the SGD extrapolations N -> infinity (data/sgd_extrapolation) in eps_g, gamma and R at
the points where docs/bn_meanfield/FINDINGS.md finds agreement (M = 4, alpha 3 and 8; M = 16, alpha 8): the claim is
agreement within 5 %, or (the alternative bound FINITE_M_SGD_SIGMAS) within the combined statistical error."""

FINITE_M_SGD_SIGMAS = 3.0
"""Standard errors of |theory - SGD| allowed instead of FINITE_M_SGD_RTOL: sqrt(sem_SGD^2 + sem_MF^2), sem_SGD of
the 1/N fit (statmech_bn.analysis.extrapolate), sem_MF = |x_seed1 - x_seed2|/2 of the mean of two batch seeds."""
