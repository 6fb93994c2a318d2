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
