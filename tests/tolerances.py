"""Every numerical and statistical tolerance of the test suite, named and justified in one place."""

QUADRATURE_RTOL = 1e-7
"""Kernels with default node counts against adaptive SciPy quadrature (measured agreement ~1e-9 or better
for smooth channels; the bound leaves headroom for the kinks of relu and sign)."""

FINITE_DIFFERENCE_RTOL = 1e-5
"""Central differences with step 1e-4 of quantities accurate to ~1e-12: truncation error ~1e-8 relative,
round-off ~1e-12/1e-4 = 1e-8; 1e-5 is safe yet fails for any wrong formula (errors of O(1))."""

CLOSED_FORM_RTOL = 1e-6
"""Saddle-point solutions (solver tolerance 1e-9 on the state) against closed forms."""

MONTE_CARLO_SIGMAS = 4.0
"""Monte-Carlo checks pass within this many standard errors (two-sided false-alarm rate 6e-5)."""

ERF_INNER_RTOL = 1e-5
"""erf at finite T: the inner Gauss-Hermite average (96 nodes) of exp(-l/T) converges slowly when the
pre-activation variance over T is O(1) (measured 4e-7 on log Z and 3.4e-6 on the mean loss at b = 2,
beta_T = 4); the closed-form channels meet QUADRATURE_RTOL."""

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

KINKED_RTOL = 1e-9
"""The averages of the kinked students (relu, sign) with their feature rules against nested adaptive quadrature and
closed forms, as max |got - want|/(1 + |want|) (eps_g: relative). Measured 1e-13 to 1e-10 over the test states; the
32-node tensor rules they replace miss by 1e-7 to O(1) there."""
