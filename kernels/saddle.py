"""Averages over the quenched disorder that enter the replica-symmetric saddle point.

The teacher field tau ~ N(0, 1) gives the label y = g*(tau) + noise * xi, xi ~ N(0, 1). The replica
(student) field is written omega = m * tau + sqrt(q - m^2) * eta with eta ~ N(0, 1) independent, so
that only the student side depends on the order parameters (m, q); around omega each replica's
pre-activation is h = gamma * (omega + sqrt(V) z) + beta. Derivatives with respect to (m, q) then follow
from Gaussian integration by parts (Stein's lemma on eta) and the heat equation in V; see
:mod:`statmech_bn.theory.replica` for the resulting saddle-point equations.

Quadrature rules come from the caller as (nodes, weights) pairs with weights that already include the
Gaussian density and sum to one: ``tau`` (split at the teacher's kink), ``eta``, ``xi`` (a single node
at 0 when there is no noise).

With an erf teacher and wide label noise (sigma = ``noise`` >= ERM_LABEL_NOISE) erf's ERM sums change variables so
that the proximal map, which depends on (y, omega) only, is solved on far fewer lines (:func:`erf_erm_label_sums`).
omega = m tau + sqrt(q - m^2) eta is N(0, q), and given omega the teacher field is tau = (m/q) omega + s zeta,
s = sqrt(1 - m^2/q), zeta ~ N(0, 1); with phi_sigma the N(0, sigma^2) density of the noise and g = erf(./sqrt 2),

    E_{tau,xi,eta}[F] = int dy int domega N(omega; 0, q) E_zeta[phi_sigma(y - g(tau)) F(y, omega, tau, eta)].

Every summand is a function of (y, omega) but slot 2 (tau f_w) and slot 3 (eta f_w/sqrt(q - m^2)), linear in tau and
eta = (omega - m tau)/sqrt(q - m^2); so each node (y, omega) needs W0 = E_zeta[phi_sigma(y - g(tau))] and
W1 = E_zeta[d/dtau phi_sigma(y - g(tau))] (Stein: E_zeta[zeta phi_sigma(y - g(tau))] = s W1), and

    E_zeta[tau phi_sigma(.)] = (m/q) omega W0 + s^2 W1,
    E_zeta[eta phi_sigma(.)]/sqrt(q - m^2) = (omega W0 - m W1)/q      (s^2 = (q - m^2)/q),

with no division by sqrt(q - m^2) (exact, so slot 3 keeps the jumps of f_w). The label's rule is global (split at
the cusps of :func:`.erf_erm.erf_erm_cusps`, which do not depend on tau), one line in omega per label.

Every kernel fills ``out`` (length :data:`N_SUMS`) and returns nothing. ``gibbs_sums``, ``erm_sums`` and
``loss_sums`` take the closed forms of :mod:`.linear_channel` where teacher and student are linear and the
``*_by_quadrature`` kernels otherwise (and as the reference of the closed forms).
"""

import math

import numpy as np

from ._jit import jit
from .activations import activation
from .channels import expected_loss, moreau, moreau_kinks
from .codes import ERF, LINEAR, RELU, SIGN
from .erf_erm import (
    _INV_SQRT2,
    _SQRT_2_OVER_PI,
    BRANCH_SCRATCH,
    ERM_SMOOTH_SLOPE,
    GIBBS_SMOOTH_SLOPE,
    MAX_CUSPS,
    MAX_LINE_FEATURES,
    SMOOTH_LINE_N,
    SMOOTH_LINE_W,
    SMOOTH_LINE_X,
    erf_erm_branches,
    erf_erm_cusps,
    erf_erm_walk,
    smooth_line,
    smooth_rule,
)
from .erf_gibbs import GRID_MAX_BETA, GRID_MAX_POINTS, erf_grid_lines
from .kinked import MAX_NODES, gibbs_add, kinked_gibbs_sums
from .linear_channel import linear_erm_sums, linear_gibbs_sums, linear_loss_sums
from .panels import (
    FEATURE_BROAD,
    FEATURE_CUT,
    FEATURE_PIECE,
    TAIL_ORDERS,
    _graded_pieces,
    _normal_tail,
    feature_rule,
    feature_rule_capacity,
    graded_rule,
    graded_rule_capacity,
    legendre_panels,
)
from .relu_erm import relu_erm_sums
from .special import norm_pdf

STEIN_FREE_MIN_CROSS = 1e-6

N_SUMS = 7
"""Slots of ``out``: 0 the channel's log-partition term, 1 E[f_w^2], 2 E[tau f_w], 3 E[f_ww],
4 E[d/dgamma], 5 E[d/dbeta], 6 the mean training loss (label noise included)."""

ERM_NEGLIGIBLE_WEIGHT = 1e-16
"""erf's ERM sums (:func:`erf_erm_sums`) skip the nodes whose product weight is below this (times sqrt(q - m^2) where
below 1, on lines with a feature rule): every summand is at most ~20 in size but the Stein form eta f_w/sqrt(q - m^2)
of slot 3, whose skipped terms pair up (+-eta, equal weights) on the Gauss-Hermite rules, and not on the feature rules
(hence the factor); 20% fewer nodes than at NEGLIGIBLE_WEIGHT (1e-20), the sums move by < 1e-13."""

ERM_NEGLIGIBLE_FEATURE = 1e-14
"""A narrow feature of a line (:data:`ERM_HERMITE_WIDTH`) where the line's weight times the normal density one unit
nearer the centre is below this (times sqrt(q - m^2) where below 1) is left to the Gauss-Hermite rule: its error
there, at most ~1e-2 times that local weight (a jump of the summands times the nodes' spacing), is below 1e-16; the
feature rule is then needed on 20-40% fewer lines of the benchmark curves."""

ERM_HERMITE_WIDTH = 1.2
"""erf's ERM lines with a feature of h*(a) (:func:`.erf_erm.erf_erm_branches`) narrower than this in eta, or a jump,
take a feature rule (:func:`erf_erm_sums`). Measured worst errors of the 96-node Gauss-Hermite rule on lines without
a jump, against adaptive quadrature, by the narrowest feature's width in eta (1,400 lines of five states on the noise
0.5 benchmark curve, slopes 0.28 to 0.49): below 0.05: 5e-3; 0.3-0.4: 2e-5; 0.8-0.9: 2e-8; 1-1.2: 5e-11; above 1.2:
2e-13."""

ERM_PIECE_WEIGHTS = (1e-2, 1e-4, 1e-7)
ERM_PIECE_LENGTHS = (1.5, 2.0, 3.0, 4.0)
"""The longest Legendre piece (in eta) of an erf ERM line's feature rule (:func:`erf_erm_sums`): ERM_PIECE_LENGTHS[i]
where the line's weight (tau and noise nodes) is at least ERM_PIECE_WEIGHTS[i], the last below (pieces graded toward
a feature are shorter anyway): the error of a line's sum grows with the pieces' length, and what counts is that error
times the line's weight. Measured on 10,518 lines that take the rule at the states of the noise 0.5 benchmark curve,
against pieces of 0.25 with 20 Legendre nodes: the largest weighted error is 1.2e-12 both with 1.5 everywhere
(:data:`.panels.FEATURE_PIECE`, 127 nodes a line) and with these (106 nodes a line); 1.5, 2.5, 3.5, 5: 9.1e-12 (100
nodes); 2, 2.5, 3.5, 5: 5.7e-11. The sums moved by <= 7.3e-12 at 403 states of that curve."""

ERM_NOISE_SPLIT_C = 1.8
"""Above this c = gamma^2 chi erf's ERM sums integrate the label noise by :func:`_noise_split_rule` (split at the
labels where a jump of the proximal map is born, :func:`.erf_erm.erf_erm_cusps`) instead of the caller's Gauss-Hermite
rule (``noise_split`` of :func:`erm_sums_memo`: the ERM saddle decides by this, with a hysteresis).
Below it the cusps lie at |y| >= 0.74, and 12 Gauss-Hermite nodes were within 2.3e-10 of the split reference on the
noise 0.5 benchmark curve; above it 16 nodes were 4.1e-9 off at c = 2.7 and 32 nodes 5.8e-9 at c = 5.1."""

ERM_NOISE_TAIL_MASSES = (0.1, 1e-2, 1e-3)
"""The Gauss rule of a normal tail of the split noise rule (:func:`_noise_split_rule`) has TAIL_ORDERS[i] nodes (16,
10, 8) where the tail's mass is at least ERM_NOISE_TAIL_MASSES[i], TAIL_ORDERS[3] (6) below: its error counts times
that mass. Measured worst error of the sums against 20-node Legendre pieces of 0.25 split at the cusps, at the noise 0.5
benchmark curve's states with c = 1.7 to 6.3: 6.1e-11 (29 to 34 noise nodes a teacher node); 16 nodes on every tail
1.8e-11 (34 to 39 nodes); thresholds twice as large 1.7e-10; 12 nodes on every tail 8.5e-10, 10 nodes 6.9e-9."""

ERM_NOISE_PIECE = 1.5
ERM_NOISE_LEGENDRE = 6
"""Between two cusps the split noise rule takes Legendre pieces of ERM_NOISE_LEGENDRE nodes at most ERM_NOISE_PIECE
long (in the standard noise variable; normal density included): 4 nodes missed by up to 2.1e-7, 8 nodes gained
nothing over 6 (same states as ERM_NOISE_TAIL_MASSES)."""

ERM_NOISE_MEMO_LINES = 40
"""Noise nodes per teacher node whose lines the ERM saddle's memo holds (:func:`erf_erm_sums`) with the split noise
rule (29 to 43 nodes on the noise 0.5 benchmark curve; lines beyond are solved without a memo)."""

_NOISE_LEGENDRE_X, _NOISE_LEGENDRE_W = np.polynomial.legendre.leggauss(ERM_NOISE_LEGENDRE)
NOISE_SPLIT_CAPACITY = (2 * TAIL_ORDERS[0]
                        + (int(2.0 * FEATURE_CUT / ERM_NOISE_PIECE) + 1 + MAX_CUSPS) * ERM_NOISE_LEGENDRE)
"""Most nodes of :func:`_noise_split_rule`."""

ERM_LABEL_NOISE = 0.1
"""Label noise (sigma, teacher erf of slope <= sqrt(2/pi)) from which erf's ERM sums take :func:`erf_erm_label_sums`:
there the labels' density phi_sigma(y - g(tau)) is smooth enough in y and omega for the rules below (those that must
scale with sigma do: the label's pieces, ERM_LABEL_Y_PIECE above ERM_LABEL_Y_MIN; the teacher step, ERM_LABEL_STEP
above ERM_LABEL_STEP_MIN; the bump's bound of ERM_LABEL_PIECE). Measured worst error against the per-line kernel
(:func:`erf_erm_sums`, 24 Gauss-Hermite noise nodes split at the cusps) at the seven states of the tests (c = 0.07 to
6.35, s = 0.1 to 0.88, q = 1.7, gamma = -0.9) and against the label rule refined 4 times (8-node label pieces, 16-node
tails, 10-node z pieces out to FEATURE_CUT): sigma = 0.5: 2.0e-10 / 1.7e-10, 0.3: 6.0e-11 / 1.4e-11, 0.25: 2.9e-11 /
1.4e-11, 0.2: 3.9e-12 / 1.3e-11, 0.15: 4.2e-12 / 6.4e-12, 0.12: 7.2e-12 / 6.3e-12, 0.1: 4.4e-11 / 4.2e-11. Over the
states at which the benchmark curves (noise 0.1, 0.15, 0.2; 152 or 153 each, every 10th call of the solver) call the
sums, against the rule refined 4 times: 4.9e-11 at sigma = 0.1, 1.7e-11 at 0.12 (the 0.15 curve's states), 1.5e-11 at
0.15, 1.4e-11 at 0.2, 3.6e-11 at 0.25 (the 0.2 curve's states). (The 3.7e-9 at sigma = 0.2 and 3.0e-8 at 0.15 that
held this at 0.3 were measured with the z rules before ERM_LABEL_Z_LEGENDRE; the same rules measured 3.9e-12 and
6.5e-12 at those states since.) CPU per call over those states ~0.9 ms at 0.5, ~1.1 ms at 0.2 and ~1.2 ms at 0.1; the
per-line kernel with its noise rule 1.2 to 43 ms (benchmark curves at noise 0.2 and 0.1, back to back on a loaded
machine: 7.0 and 5.3 CPU s with it, 1.8 and 1.9 s with this)."""

ERM_LABEL_MIN_S = 0.05
"""Below this s = sqrt(1 - m^2/q) (the teacher field's spread given omega) erf's ERM sums keep the per-line kernel:
the teacher field's step (ERM_LABEL_STEP) and hence its grid grow like 1/s. The noise 0.5 benchmark curve has s
>= 0.2, the noise 0.1 one s >= 0.068; at s = 0.051 (m = 0.9987, c = 0.07 and 5) the label path was within 3.7e-12
(noise 0.1) and 1.1e-10 (0.2) of the per-line kernel."""

ERM_LABEL_MAX_SLOPE = 8.0
"""Above this slope |gamma| sqrt(q) of the student's pre-activation erf's ERM sums keep the per-line kernel: the label
path's pieces in z (ERM_LABEL_PIECE, ~0.81/slope) and hence its nodes grow like the slope (a running-away gamma would
take them without bound). The noise 0.5 benchmark curve stays below 3 (the 0.1 to 0.3 curves below 1.3). At slopes 3 and
8 (m = 0.5, c = 9 and 6.4) the label path agreed with its rules refined twice to 4.4e-10 at noise 0.1 and 0.2, where the
per-line kernel was 2.3e-8 to 1.5e-6 off both (noise 0.1, 0.2 and 0.5 alike)."""

ERM_LABEL_Y_PIECE = (2.0, 0.7)
ERM_LABEL_LEGENDRE = 8
ERM_LABEL_TAIL = 1
"""The label rule's Legendre pieces of ERM_LABEL_LEGENDRE nodes are at most min(ERM_LABEL_Y_PIECE[0] sigma,
ERM_LABEL_Y_PIECE[1]) long in y (the labels' density varies on the scale sigma, the line averages on a scale of their
own that shrinks with the slope gamma sqrt(q) and c), its tails take TAIL_ORDERS[ERM_LABEL_TAIL] (10) nodes. Measured
worst errors against pieces of sigma/10 (8 nodes, 16-node tails) over 66 states at noise 0.5 (60 of the benchmark
curve, 6 more with gamma up to 1.3, q = 1.7, m up to 0.995) and 36 at noise 0.3, with the other rules as set: pieces
(sigma, 0.35) of 6 nodes, 16-node tails: 1.4e-10 / 6.9e-11 (2.1 / 3.3 ms a call); (2 sigma, 0.7) of 8 nodes, 10-node
tails: 1.6e-10 / 7.0e-11 (1.7 / 2.5 ms); 8-node tails: 4.4e-10 / 6.4e-11; (2.5 sigma, 0.875) of 8 nodes: 4.5e-10 /
1.6e-10. With 6 nodes, at gamma = 1.3, c = 3.4 (noise 0.5): pieces of 0.5 in y: 6.2e-10, 0.375: 1.4e-10; at the
benchmark curve's states 0.75 sigma: 2.3e-9 (c = 6.3)."""

ERM_LABEL_Y_MIN = 0.3
"""The label rule's pieces are at least this long where ERM_LABEL_Y_PIECE[0] sigma is shorter (sigma < 0.15; noise 0.1:
3 sigma): the labels' density given omega (W0) has the width sqrt(sigma^2 + g'^2 s^2) in y, more than sigma. Measured
at 38 states of the noise 0.1 benchmark curve (as ERM_LABEL_NOISE) against every rule refined 4 times: 0.2 (2 sigma,
~20% more CPU): 1.6e-11; 0.3: 1.7e-11 (4.9e-11 over 152 states); 0.4: 8.4e-9."""

_LABEL_LEGENDRE_X, _LABEL_LEGENDRE_W = np.polynomial.legendre.leggauss(ERM_LABEL_LEGENDRE)
_LABEL_TAIL_FIRST = sum(TAIL_ORDERS[:ERM_LABEL_TAIL])

ERM_LABEL_OUTER = (2.0, 3.0)
"""Beyond |y| = 1 (the erf teacher's range, where the labels' density falls off like a normal tail on the scale sigma)
the label rule's pieces are min(ERM_LABEL_OUTER[0] times as long, ERM_LABEL_OUTER[1] sigma) (76 labels instead of 92
at c = 0.65, whose cusps lie at |y| ~ 3). Measured as ERM_LABEL_Y_PIECE: factor 1: 1.6e-10 / 7.0e-11; 2: 1.6e-10 /
8.4e-11; 3: 3.4e-9 / 1.0e-7; and over the 22 states of ERM_LABEL_NOISE factor 2 alone: 2.8e-10 at sigma = 0.4, 5.2e-10
at 0.3 (c ~ 0.6-0.8, cusps at |y| ~ 2.5); with the bound 3 sigma 7.9e-11 and 7.0e-11."""

ERM_LABEL_GRADE = 0.5
"""The student field's rule of a label's line is graded toward the features of h*(a) (:func:`.erf_erm.erf_erm_branches`)
narrower than this in z (a jump's split always): the pieces of at most ERM_LABEL_PIECE resolve the wider ones. Measured
as ERM_LABEL_Y_PIECE: every feature (9), 1 and 0.5: 1.6e-10 / 8.4e-11; 0.25: 5.3e-10 / 4.3e-10; CPU 15% less at 0.5
than with every feature."""

ERM_LABEL_Z_CUT = 4.0
"""The student field's rule of a label's line (:func:`_label_z_rule`) takes the Gauss rules of the normal tails beyond
|z| = ERM_LABEL_Z_CUT (or beyond its narrow features, if farther): 10-30% fewer nodes than Legendre pieces out to
FEATURE_CUT, the sums unchanged to 1e-13 at the states of ERM_LABEL_Y_PIECE (4.5 and 4.0 alike). With the 10-node
pieces, over 122 of the noise 0.5 benchmark curve's states against z pieces of 0.25 (every other rule as set): 4.5, 4.0
and 3.5: 8e-12 (3% less CPU at 3.5), 3.0: 2.0e-11."""

ERM_LABEL_Z_LEGENDRE = 8
"""Legendre nodes of a piece of the student field's rule of a label's line (:func:`_label_z_rule`; the caller's
``feature_x`` has 10). Measured with ERM_LABEL_PIECE and ERM_LABEL_Z_CUT as set, over 122 of the noise 0.5 benchmark
curve's states against 10-node pieces of 0.25 in z (every other rule as set): 2.6e-11 (10 nodes, pieces 1/0.9 as long,
Z_CUT 4.5: 8e-12), 12% less CPU a call; pieces 0.85 as long: 4.9e-11; with Z_CUT 4.5: 7.4e-11; Z_CUT 3.5: 2.3e-10."""

_LABEL_Z_X, _LABEL_Z_W = np.polynomial.legendre.leggauss(ERM_LABEL_Z_LEGENDRE)

ERM_LABEL_STEP = (0.6, 0.8)
"""The teacher field's step of the trapezoidal rule of W0, W1 (:func:`_label_line`): min(ERM_LABEL_STEP[0] sigma,
ERM_LABEL_STEP[1] s); the rule converges geometrically in 1/step for the entire integrand (Gaussian of width s times
the labels' density, structure on the scale sigma). Measured as above (step 0.02 reference; s >= 0.2): steps 0.1 and
0.2 in tau: 1.3e-11 (the other rules' error), 0.3: 1.3e-11, 0.4: 6e-11; with the final rules (as ERM_LABEL_Y_PIECE)
0.6 sigma: 1.6e-10, 0.8 sigma: 9.3e-10 (but 20% less CPU)."""

ERM_LABEL_STEP_MIN = 0.15
"""The teacher field's step is at least this where ERM_LABEL_STEP[0] sigma is shorter (sigma < 0.25) and
ERM_LABEL_STEP[1] s is not: noise 0.1: 1.5 sigma, 0.2: 0.75 sigma. Measured (38 or 39 states of the noise 0.1 and 0.2
benchmark curves, against every rule refined 4 times, labels' pieces min(2 sigma, 0.7)): steps 0.6 sigma, sigma, 1.2
sigma: 1.6e-11 (0.1) and 1.4e-11 (0.2) alike; 2 sigma: 1.6e-11 and 1.5e-9 (s = 0.78, c = 6.3); with ERM_LABEL_Y_MIN a
floor of 0.18: 7.2e-10 at 0.1 (s = 0.98), 0.2: 1.8e-9. CPU per call at 0.1 ~15% less than with 0.6 sigma."""


ERM_LABEL_REACH = 7.5
"""The trapezoidal rule of the teacher field given omega spans ERM_LABEL_REACH s either side of its mean m omega/q:
the Gaussian is below exp(-7.5^2/2) = 6.6e-13 of its peak beyond; the sums moved by 6e-14 from 7.5 to 9.5 (14 states,
noise 0.5 and 0.3)."""

ERM_LABEL_PIECE = (1.35, 0.81, 2.25)
"""The longest Legendre piece (in z, omega = sqrt(q) z) of the student field's graded rule per label (every line,
:func:`.panels.graded_rule`; the labels' density W0 is a bump in z, which Gauss-Hermite rules integrate poorly):
min(ERM_LABEL_PIECE[0], ERM_LABEL_PIECE[1]/|gamma sqrt(q)| (in a), ERM_LABEL_PIECE[2] times the bump's width
sqrt(s^2 + sigma^2 pi/2) sqrt(q)/|m|). Measured against pieces of 0.3: on the benchmark curve's states 1.5 everywhere:
1.3e-11, 3.0: 5e-7, 4.0: 2e-5 (at s ~ 0.2, the narrowest bump); at m = 0.995, noise 0.3: 1.5 7.7e-10, with the bump's
bound 6.7e-13; at gamma sqrt(q) = 1.3, m = 1.2, q = 1.7: 1.5 1.7e-10, with the bound in a 1.7e-12. With all three
rules' bounds the worst error against every rule refined (pieces sigma/10 in y, 0.25 in z, teacher step min(0.02,
s/2)) was 1.4e-10 over 84 states at noise 0.5 (76 of the benchmark curve, 8 more with gamma up to 1.3, q = 1.7, m up
to 0.995) and 6.9e-11 over 46 at noise 0.3. With ERM_LABEL_Z_LEGENDRE (8) nodes a piece instead of 10 the pieces are 0.9
times those (1.5, 0.9, 2.5) measured here."""

ERM_LABEL_SUPPORT = 1e-18
"""The trapezoidal rule of the teacher field (:func:`_label_line`) runs only over the teacher nodes where the labels'
density or its tau-derivative (times the label's rule weight's normalisation, at most 1 on the pieces) is at least
this: the terms left out are below 1e-18 of a line's total weight."""

NEGLIGIBLE_WEIGHT = 1e-20
"""erf's sums (:func:`erf_erm_sums`, and :func:`gibbs_sums` for erf) skip the nodes (tau, x, eta) whose product weight
is below this: at the default rules they are 57% of the 64 x 8 x 96 nodes of ERM (5e-18 of the weight) and 30% of the
64 x 8 x 32 nodes of Gibbs (3e-18). Every summand is O(1) but the Stein form eta f_w/sqrt(q - m^2) of ERM's slot 3,
whose skipped terms pair up (+-eta, equal weights) into O(eta^2 f_ww): measured change of the sums <= 1e-15 on the
benchmark curves' states."""


@jit
def gibbs_sums(student, teacher, m, q, v, gamma, beta, beta_t, noise,
               tau_x, tau_w, eta_x, eta_w, xi_x, xi_w, feature_x, feature_w, tail_x, tail_w, out):
    """:func:`gibbs_sums_by_quadrature`, in closed form where teacher and student are linear, and for the kinked
    students (relu, sign; teacher linear, relu or sign, gamma != 0, q > 0) with rules refined at the narrow features
    of their channel (:func:`.kinked.kinked_gibbs_sums`; ``feature_x``/``feature_w``: Legendre nodes of a graded
    piece, ``tail_x``/``tail_w``: :func:`statmech_bn.quadrature.normal_tail_rules`); for erf without the nodes of
    weight below NEGLIGIBLE_WEIGHT, with smaller replica rules on smooth lines and the tilted channel on one grid in
    h per teacher field (:func:`_gibbs_quadrature`)."""
    if student == LINEAR and teacher == LINEAR:
        linear_gibbs_sums(m, q, v, gamma, beta, beta_t, noise, out)
    elif (student == RELU or student == SIGN) and teacher != ERF and gamma != 0.0 and q > 0.0:
        kinked_gibbs_sums(student, teacher, m, q, v, gamma, beta, beta_t, noise, feature_x, feature_w, tail_x, tail_w,
                          out)
    else:
        _gibbs_quadrature(student, teacher, m, q, v, gamma, beta, beta_t, noise, tau_x, tau_w, eta_x, eta_w, xi_x, xi_w,
                          NEGLIGIBLE_WEIGHT if student == ERF else 0.0, out)


@jit
def gibbs_sums_by_quadrature(student, teacher, m, q, v, gamma, beta, beta_t, noise,
                             tau_x, tau_w, eta_x, eta_w, xi_x, xi_w, out):
    """Averages of log Z(y, gamma*omega + beta, gamma^2 v) at inverse temperature beta_t.

    f_w = d log Z/d omega = gamma g_a, f_ww = gamma^2 g_aa; d/dgamma log Z = omega g_a
    + gamma v (g_aa + g_a^2); d/dbeta log Z = g_a.
    """
    _gibbs_quadrature(student, teacher, m, q, v, gamma, beta, beta_t, noise, tau_x, tau_w, eta_x, eta_w, xi_x, xi_w,
                      0.0, out)


@jit
def _gibbs_quadrature(student, teacher, m, q, v, gamma, beta, beta_t, noise, tau_x, tau_w, eta_x, eta_w, xi_x, xi_w,
                      negligible, out):
    """The sums of :func:`gibbs_sums_by_quadrature` without the nodes of product weight below ``negligible``; with
    ``negligible`` > 0 for erf, the lines of a unimodal tilted measure (:func:`.erf_erm.smooth_line` at c = b beta_T)
    take a Gauss-Hermite rule with fewer nodes than (eta_x, eta_w) where the slope gamma sqrt(q - m^2) allows it
    (:func:`.erf_erm.smooth_rule`, GIBBS_SMOOTH_SLOPE: measured errors <= 1.1e-11), and the lines of one teacher field
    that share a replica rule take erf's tilted channel on one grid in h (:func:`.erf_gibbs.erf_grid_lines`, b > 0,
    beta_T <= GRID_MAX_BETA; per node by :func:`.channels.tilted` where the grid would exceed GRID_MAX_POINTS)."""
    for i in range(N_SUMS):
        out[i] = 0.0
    cross = math.sqrt(max(q - m * m, 0.0))
    b = gamma * gamma * v
    row = -1
    if student == ERF and negligible > 0.0:
        row = smooth_rule(gamma * cross, GIBBS_SMOOTH_SLOPE, eta_x.shape[0])
    smooth_x = SMOOTH_LINE_X[max(row, 0), :SMOOTH_LINE_N[max(row, 0)]]
    smooth_w = SMOOTH_LINE_W[max(row, 0), :SMOOTH_LINE_N[max(row, 0)]]
    grid = student == ERF and negligible > 0.0 and b > 0.0 and beta_t <= GRID_MAX_BETA
    n_xi = xi_x.shape[0]
    ys = np.empty((2, n_xi))
    line_ws = np.empty((2, n_xi))
    counts = np.zeros(2, dtype=np.int64)
    table = np.empty((2, GRID_MAX_POINTS if grid else 0))
    rows = np.empty((n_xi, 5, GRID_MAX_POINTS if grid else 0))
    gauss = np.empty(GRID_MAX_POINTS if grid else 0)
    for i in range(tau_x.shape[0]):
        tau = tau_x[i]
        clean = activation(teacher, tau)
        counts[:] = 0
        for k in range(n_xi):
            y = clean + noise * xi_x[k]
            smooth = 1 if row >= 0 and smooth_line(y, b * beta_t) else 0
            ys[smooth, counts[smooth]] = y
            line_ws[smooth, counts[smooth]] = tau_w[i] * xi_w[k]
            counts[smooth] += 1
        for smooth in range(2):
            rule_x = smooth_x if smooth == 1 else eta_x
            rule_w = smooth_w if smooth == 1 else eta_w
            if counts[smooth] == 0 or grid and erf_grid_lines(
                    ys[smooth], line_ws[smooth], counts[smooth], tau, m, cross, gamma, beta, v, b, beta_t, rule_x,
                    rule_w, negligible, table, rows, gauss, out):
                continue
            for t in range(counts[smooth]):
                _gibbs_line(student, ys[smooth, t], tau, line_ws[smooth, t], m, cross, gamma, beta, v, b, beta_t,
                            rule_x, rule_w, negligible, out)


@jit
def _gibbs_line(student, y, tau, line_w, m, cross, gamma, beta, v, b, beta_t, eta_x, eta_w, negligible, out):
    """Add the Gibbs summands of one line of the replica field (label y, teacher field tau, weight line_w) by the rule
    (eta_x, eta_w), without the nodes of weight below ``negligible``. Where the replica field drops out (cross =
    sqrt(q - m^2) = 0: q = m^2, or a round-off q <= m^2 near the uninformed point R = q = 0, which the solver crosses
    at every learning transition) every node is the same state, evaluated once with the line's kept weight."""
    if cross == 0.0:
        kept = 0.0
        for j in range(eta_x.shape[0]):
            if line_w * eta_w[j] >= negligible:
                kept += eta_w[j]
        w = line_w * kept
        omega = m * tau
        gibbs_add(student, y, gamma * omega + beta, omega, gamma, v, b, beta_t, w, w * tau, out)
        return
    for j in range(eta_x.shape[0]):
        w = line_w * eta_w[j]
        if w < negligible:
            continue
        omega = m * tau + cross * eta_x[j]
        gibbs_add(student, y, gamma * omega + beta, omega, gamma, v, b, beta_t, w, w * tau, out)


@jit
def _erm_add(student, y, tau, eta, omega, cross, weight, gamma, beta, chi, out):
    a = gamma * omega + beta
    c = gamma * gamma * chi
    envelope, h, dh, loss_h = moreau(student, y, a, c)
    _erm_terms(tau, eta, omega, cross, weight, gamma, chi, a, c, envelope, h, dh, loss_h, out)


@jit
def _erm_terms(tau, eta, omega, cross, weight, gamma, chi, a, c, envelope, h, dh, loss_h, out):
    """Add one node's terms (the Moreau envelope, its minimiser h* and dh*/da at a = gamma omega + beta) to the sums."""
    _erm_node(weight, weight * tau, 0.0, omega, gamma, chi, a, c, envelope, h, loss_h, out)
    if cross > STEIN_FREE_MIN_CROSS:
        out[3] += weight * eta * (gamma * ((h - a) / c)) / cross
    else:
        out[3] += weight * gamma * gamma * (dh - 1.0) / c


@jit
def _erm_node(weight, tau_weight, eta_weight, omega, gamma, chi, a, c, envelope, h, loss_h, out):
    """Add one node's terms with f_w = gamma (h* - a)/c: slots 2 and 3 as tau_weight f_w and eta_weight f_w (the
    weights of E[tau f_w] and of the Stein form E[eta f_w]/sqrt(q - m^2)), the others with ``weight``."""
    g_a = (h - a) / c
    f = gamma * g_a
    out[0] -= weight * envelope
    out[1] += weight * f * f
    out[2] += tau_weight * f
    out[3] += eta_weight * f
    out[4] += weight * (omega * g_a + gamma * chi * g_a * g_a)
    out[5] += weight * g_a
    out[6] += weight * loss_h


@jit
def erm_sums(student, teacher, m, q, chi, gamma, beta, noise,
             tau_x, tau_w, eta_x, eta_w, xi_x, xi_w, piece_x, piece_w, cut, feature_x, feature_w, tail_x, tail_w, out):
    """:func:`erm_sums_by_quadrature`, in closed form where teacher and student are linear, and for a relu student
    where gamma != 0 and the cross term is resolved with the replica field and the label noise in closed form and
    the teacher field by a feature rule (:func:`.relu_erm.relu_erm_sums`; ``feature_x``/``feature_w``: Legendre
    nodes of a graded piece, ``tail_x``/``tail_w``: :func:`statmech_bn.quadrature.normal_tail_rules`), and for an erf
    student with the proximal map solved per line of the replica field (:func:`erf_erm_sums`): :func:`erm_sums_memo`
    remembering nothing, the label noise by the caller's rule (xi_x, xi_w)."""
    erm_sums_memo(student, teacher, m, q, chi, gamma, beta, noise, tau_x, tau_w, eta_x, eta_w, xi_x, xi_w, piece_x,
                  piece_w, cut, feature_x, feature_w, tail_x, tail_w, out, np.empty((0, 3, 0)), np.empty((0, 4)), False)


@jit
def erm_sums_memo(student, teacher, m, q, chi, gamma, beta, noise, tau_x, tau_w, eta_x, eta_w, xi_x, xi_w, piece_x,
                  piece_w, cut, feature_x, feature_w, tail_x, tail_w, out, memo, memo_line, noise_split):
    """:func:`erm_sums`, for an erf student with the memo of :func:`erf_erm_sums` (``memo``: lines x 3 x
    MEMO_NODES, ``memo_line``: lines x 4, NaN at first; lines = tau nodes x n, n >= 1 lines per teacher node, else
    nothing remembered), which a solver passes from call to call, and ``noise_split``: the label noise by
    :func:`_noise_split_rule` (else by xi_x, xi_w)."""
    if student == LINEAR and teacher == LINEAR:
        linear_erm_sums(m, q, chi, gamma, beta, noise, out)
    elif student == ERF and gamma * gamma * chi > 0.0 and math.isfinite(m + q + chi + gamma + beta + noise):
        if label_path(teacher, m, q, gamma, noise):
            erf_erm_label_sums(m, q, chi, gamma, beta, noise, tail_x, tail_w, out, memo, memo_line)
            return
        erf_erm_sums(teacher, m, q, chi, gamma, beta, noise, tau_x, tau_w, eta_x, eta_w, xi_x, xi_w, feature_x,
                     feature_w, tail_x, tail_w, out, memo, memo_line, noise_split)
    elif student == RELU and gamma != 0.0 and q - m * m > STEIN_FREE_MIN_CROSS * STEIN_FREE_MIN_CROSS:
        relu_erm_sums(teacher, m, q, chi, gamma, beta, noise, tau_x, tau_w, feature_x, feature_w, tail_x, tail_w, out)
    else:
        erm_sums_by_quadrature(student, teacher, m, q, chi, gamma, beta, noise, tau_x, tau_w, eta_x, eta_w, xi_x,
                               xi_w, piece_x, piece_w, cut, out)


@jit
def label_path(teacher, m, q, gamma, noise):
    """True where erf's ERM sums take :func:`erf_erm_label_sums`: an erf teacher, noise >= ERM_LABEL_NOISE,
    1 - m^2/q >= ERM_LABEL_MIN_S^2 and |gamma| sqrt(q) <= ERM_LABEL_MAX_SLOPE."""
    return (teacher == ERF and noise >= ERM_LABEL_NOISE and q > 0.0 and 1.0 - m * m / q >= ERM_LABEL_MIN_S**2
            and abs(gamma) * math.sqrt(q) <= ERM_LABEL_MAX_SLOPE)


@jit
def erf_erm_sums(teacher, m, q, chi, gamma, beta, noise, tau_x, tau_w, eta_x, eta_w, xi_x, xi_w, feature_x, feature_w,
                 tail_x, tail_w, out, memo, memo_line, noise_split):
    """:func:`erm_sums_by_quadrature` for an erf student (same slots, c = gamma^2 chi > 0) without the nodes of weight
    below ERM_NEGLIGIBLE_WEIGHT, the proximal map solved along each line of the replica field at once: the pieces of
    h*(a) between its jumps and its narrow features from :func:`.erf_erm.erf_erm_branches`, then safeguarded Newton in
    each piece's convex stretch (:func:`.erf_erm.erf_erm_walk`).

    A line on which h*(a) jumps (inside |eta| < FEATURE_CUT) takes a :func:`.panels.feature_rule` split at every jump
    (the integrand is smooth on each side) and graded toward it and the other narrow features (``feature_x``/
    ``feature_w``: Legendre nodes of a graded piece, ``tail_x``/``tail_w``: Gauss rules of the normal tails); the
    fixed rule (eta_x, eta_w) integrated across the jump (errors up to 1e-3 on a line). Other lines whose objective is
    convex with margin (:func:`.erf_erm.smooth_line`: a smooth integrand in eta) take a Gauss-Hermite rule with fewer
    nodes than (eta_x, eta_w) where the slope gamma sqrt(q - m^2) allows it (:func:`.erf_erm.smooth_rule`, chosen by
    measured errors below 3e-12), the rest (eta_x, eta_w).

    The label noise: with ``noise_split`` (and noise > 0), per teacher node the rule of :func:`_noise_split_rule`,
    split at the labels where a jump of h*(a) is born (:func:`.erf_erm.erf_erm_cusps`; the line averages are not
    analytic there), where one lies within |xi| < FEATURE_CUT; else (xi_x, xi_w) (``tail_x``/``tail_w``: the Gauss
    rules of the normal tails, :func:`statmech_bn.quadrature.normal_tail_rules`, all TAIL_ORDERS).

    ``memo``/``memo_line`` (lines x 3 x MEMO_NODES and lines x 4, lines = tau nodes x n, the first n noise nodes of
    each teacher node remembered; any other shape: nothing remembered): per line (a, h*, dh*/da) at its first
    MEMO_NODES nodes and (y, c, nodes, rule), so that at the next call with the same rule and nodes Newton starts from
    h* moved to first order in a, c and y (:func:`.erf_erm.erf_erm_walk`): near a solution the state moves little from
    call to call (difference quotients, the last iterations), and one Newton step then suffices."""
    for i in range(N_SUMS):
        out[i] = 0.0
    cross = math.sqrt(max(q - m * m, 0.0))
    c = gamma * gamma * chi
    slope = gamma * cross
    row = smooth_rule(slope, ERM_SMOOTH_SLOPE, eta_x.shape[0])
    smooth_x = SMOOTH_LINE_X[max(row, 0), :SMOOTH_LINE_N[max(row, 0)]]
    smooth_w = SMOOTH_LINE_W[max(row, 0), :SMOOTH_LINE_N[max(row, 0)]]
    order = np.argsort(eta_x)
    smooth_order = np.argsort(smooth_x)
    if slope < 0.0:
        order = order[::-1].copy()
        smooth_order = smooth_order[::-1].copy()
    capacity = feature_rule_capacity(MAX_LINE_FEATURES, feature_x.shape[0])
    (nodes, weights, ascending, descending, kept, work, centers, widths, jumps, stretch_lo, stretch_hi,
     scratch) = _line_scratch(capacity, max(eta_x.shape[0], smooth_x.shape[0], capacity), 5)
    per_tau = memo.shape[0] // max(tau_x.shape[0], 1)
    remember = per_tau >= 1 and memo.shape[0] == tau_x.shape[0] * per_tau and memo_line.shape[0] == memo.shape[0]
    no_memo = np.empty((3, 0))
    no_memo_line = np.empty(4)
    eta_peak = eta_w.max()
    cusps = np.empty(MAX_CUSPS)
    n_cusps = erf_erm_cusps(c, cusps) if noise_split and noise > 0.0 else 0
    split_x = np.empty(NOISE_SPLIT_CAPACITY)
    split_w = np.empty(NOISE_SPLIT_CAPACITY)
    for i in range(tau_x.shape[0]):
        tau = tau_x[i]
        clean = activation(teacher, tau)
        offset = gamma * m * tau + beta
        noise_x = xi_x
        noise_w = xi_w
        if n_cusps > 0:
            n_noise = _noise_split_rule(clean, noise, cusps, n_cusps, tail_x, tail_w, split_x, split_w)
            if n_noise > 0:
                noise_x = split_x[:n_noise]
                noise_w = split_w[:n_noise]
        for k in range(noise_x.shape[0]):
            y = clean + noise * noise_x[k]
            line_w = tau_w[i] * noise_w[k]
            if line_w * eta_peak < ERM_NEGLIGIBLE_WEIGHT:
                continue
            line_memo = memo[i * per_tau + k] if remember and k < per_tau else no_memo
            line_state = memo_line[i * per_tau + k] if remember and k < per_tau else no_memo_line
            n_features, n_jumps = erf_erm_branches(y, c, centers, widths, jumps, stretch_lo, stretch_hi, scratch)
            split = False
            for f in range(n_features):
                if slope == 0.0:
                    break
                at = abs(centers[f] - offset) / abs(slope)
                if (max(widths[f] / abs(slope), at - FEATURE_CUT) < ERM_HERMITE_WIDTH
                        and line_w * norm_pdf(max(at - 1.0, 0.0)) >= ERM_NEGLIGIBLE_FEATURE * min(cross, 1.0)):
                    split = True
                    break
            if split:
                for f in range(n_features):
                    centers[f] = (centers[f] - offset) / slope
                    widths[f] = widths[f] / abs(slope)
                longest = ERM_PIECE_LENGTHS[-1]
                for p in range(len(ERM_PIECE_WEIGHTS)):
                    if line_w >= ERM_PIECE_WEIGHTS[p]:
                        longest = ERM_PIECE_LENGTHS[p]
                        break
                count = graded_rule(-FEATURE_CUT, FEATURE_CUT, centers, widths, n_features, feature_x, feature_w,
                                    nodes, weights, longest)
                # the graded pieces are laid from -FEATURE_CUT up, each one's Legendre nodes ascending
                split_order = ascending[:count] if slope > 0.0 else descending[capacity - count:]
                _erf_erm_rule(y, tau, line_w, m, cross, gamma, beta, chi, c, nodes, weights, split_order, jumps,
                              n_jumps, stretch_lo, stretch_hi, ERM_NEGLIGIBLE_WEIGHT * min(cross, 1.0), kept, work,
                              out, line_memo, line_state, -1.0)
            elif row >= 0 and smooth_line(y, c):
                _erf_erm_rule(y, tau, line_w, m, cross, gamma, beta, chi, c, smooth_x, smooth_w, smooth_order, jumps,
                              n_jumps, stretch_lo, stretch_hi, ERM_NEGLIGIBLE_WEIGHT, kept, work, out, line_memo,
                              line_state, float(row))
            else:
                _erf_erm_rule(y, tau, line_w, m, cross, gamma, beta, chi, c, eta_x, eta_w, order, jumps, n_jumps,
                              stretch_lo, stretch_hi, ERM_NEGLIGIBLE_WEIGHT, kept, work, out, line_memo, line_state,
                              -2.0)


@jit
def _line_scratch(capacity, n, rows):
    """Scratch of the line kernels (:func:`erf_erm_sums`, :func:`_label_sums`): a rule's nodes and weights
    (``capacity``), the orders ascending and descending, ``n`` kept indices, ``rows`` x ``n`` work, and the arrays of
    :func:`.erf_erm.erf_erm_branches` (centers, widths, jumps, stretch_lo, stretch_hi, scratch)."""
    ascending = np.arange(capacity)
    return (np.empty(capacity), np.empty(capacity), ascending, ascending[::-1].copy(), np.empty(n, dtype=np.int64),
            np.empty((rows, n)), np.empty(MAX_LINE_FEATURES), np.empty(MAX_LINE_FEATURES), np.empty(2), np.empty(3),
            np.empty(3), np.empty(BRANCH_SCRATCH))


@jit
def _noise_split_rule(clean, noise, cusps, n_cusps, tail_x, tail_w, nodes, weights):
    """Nodes and weights (normal density included) of the standard label noise xi for the teacher label ``clean``,
    split at the cusps' xi = (y - clean)/noise (cusps[:n_cusps] ascending, noise > 0) within |xi| < FEATURE_CUT:
    Legendre pieces (ERM_NOISE_LEGENDRE nodes, at most ERM_NOISE_PIECE long) between the first and the last, Gauss
    rules of the normal tails beyond them (:func:`.panels._normal_tail`, the order by the tail's mass:
    ERM_NOISE_TAIL_MASSES). Returns the number of nodes, 0 where no cusp is within reach (``nodes``/``weights``:
    NOISE_SPLIT_CAPACITY entries)."""
    lo = math.inf
    hi = -math.inf
    for j in range(n_cusps):
        x = (cusps[j] - clean) / noise
        if -FEATURE_CUT < x < FEATURE_CUT:
            lo = min(lo, x)
            hi = max(hi, x)
    if lo > hi:
        return 0
    filled = _noise_tail(lo, -1.0, tail_x, tail_w, nodes, weights, 0)
    start = lo
    for j in range(n_cusps + 1):
        end = hi
        if j < n_cusps:
            x = (cusps[j] - clean) / noise
            if not start < x < hi:
                continue
            end = x
        if end > start:
            first = filled
            filled = _noise_pieces(start, end, ERM_NOISE_PIECE, _NOISE_LEGENDRE_X, _NOISE_LEGENDRE_W, nodes, weights,
                                   filled)
            for t in range(first, filled):
                weights[t] *= norm_pdf(nodes[t])
        start = end
        if start >= hi:
            break
    return _noise_tail(hi, 1.0, tail_x, tail_w, nodes, weights, filled)


@jit
def _noise_pieces(start, end, longest, legendre_x, legendre_w, nodes, weights, filled):
    """Legendre pieces (the rule legendre_x, legendre_w on [-1, 1], at most ``longest`` long, equal) from start to
    end > start, no density; appends after ``filled`` entries and returns the new count."""
    pieces = int(math.ceil((end - start) / longest))
    half = 0.5 * (end - start) / pieces
    for p in range(pieces):
        mid = start + (2 * p + 1) * half
        for k in range(legendre_x.shape[0]):
            nodes[filled] = mid + half * legendre_x[k]
            weights[filled] = half * legendre_w[k]
            filled += 1
    return filled


@jit
def _noise_tail(start, direction, tail_x, tail_w, nodes, weights, filled):
    """The normal tail beyond ``start`` (direction +-1) of :func:`_noise_split_rule`, its order by its mass
    (ERM_NOISE_TAIL_MASSES; TAIL_ORDERS[0] where the table holds no other)."""
    mass = 0.5 * math.erfc(direction * start / math.sqrt(2.0))
    first = 0
    order = TAIL_ORDERS[0]
    column = 0
    for j in range(len(TAIL_ORDERS)):
        if column + TAIL_ORDERS[j] > tail_x.shape[1]:
            break
        first = column
        order = TAIL_ORDERS[j]
        if j < len(ERM_NOISE_TAIL_MASSES) and mass >= ERM_NOISE_TAIL_MASSES[j]:
            break
        column += TAIL_ORDERS[j]
    return _normal_tail(start, direction, tail_x, tail_w, first, order, nodes, weights, filled)


@jit
def _label_rule(noise, cusps, n_cusps, longest, outer_factor, legendre_x, legendre_w, tail_first, tail_order, tail_x,
                tail_w, nodes, weights, centers):
    """The rule of the label y of :func:`erf_erm_label_sums` (no density): Legendre pieces (legendre_x, legendre_w on
    [-1, 1]; at most ``longest`` long, ``outer_factor`` times that beyond |y| = 1) from lo = min(-1, cusps) to
    hi = max(1, cusps), split at -1, 1 and the cusps (cusps[:n_cusps] ascending; those within |y| < 1 + FEATURE_CUT
    noise), and beyond lo and hi the ``tail_order``-node Gauss rules of the normal tails (columns from ``tail_first``
    of ``tail_x``/``tail_w``) in x = (y - hi)/noise (and (lo - y)/noise) with the normal density of x in the weight
    (``centers``: hi or lo; the node's own y on the pieces, where the factor is 1): the sum over j of
    weights[j] F(y_j) exp(-((y_j - g)^2 - (y_j - centers[j])^2)/(2 noise^2)) is the integral of F(y) phi_noise(y - g)
    dy. Returns the number of nodes."""
    reach = 1.0 + FEATURE_CUT * noise
    lo = -1.0
    hi = 1.0
    for j in range(n_cusps):
        if abs(cusps[j]) < reach:
            lo = min(lo, cusps[j])
            hi = max(hi, cusps[j])
    filled = _normal_tail(0.0, -1.0, tail_x, tail_w, tail_first, tail_order, nodes, weights, 0)
    for t in range(filled):
        nodes[t] = lo + noise * nodes[t]
        centers[t] = lo
    points = np.empty(n_cusps + 3)
    points[:n_cusps] = cusps[:n_cusps]
    points[n_cusps] = -1.0
    points[n_cusps + 1] = 1.0
    points[n_cusps + 2] = hi
    points.sort()
    start = lo
    first = filled
    for j in range(points.shape[0]):
        end = points[j]
        if not start < end <= hi:
            continue
        outer = end <= -1.0 or start >= 1.0
        filled = _noise_pieces(start, end, longest * outer_factor if outer else longest, legendre_x, legendre_w, nodes,
                               weights, filled)
        start = end
    for t in range(first, filled):
        centers[t] = nodes[t]
        weights[t] /= noise * math.sqrt(2.0 * math.pi)
    last = filled
    filled = _normal_tail(0.0, 1.0, tail_x, tail_w, tail_first, tail_order, nodes, weights, filled)
    for t in range(last, filled):
        nodes[t] = hi + noise * nodes[t]
        centers[t] = hi
    return filled


@jit
def erf_erm_label_sums(m, q, chi, gamma, beta, noise, tail_x, tail_w, out, memo, memo_line):
    """:func:`erf_erm_sums` for an erf teacher and student with label noise (noise > 0, q > m^2), the proximal map
    solved on one line of the student field omega per label y (the change of variables of :data:`ERM_LABEL_NOISE`):
    the label y by :func:`_label_rule` split at the cusps (:func:`.erf_erm.erf_erm_cusps`), omega = sqrt(q) z by a
    :func:`.panels.graded_rule` in z (ERM_LABEL_Z_LEGENDRE nodes a piece) graded toward the narrow features of h*(a)
    (:func:`.erf_erm.erf_erm_branches`),
    the teacher field given omega by the trapezoidal rule of step ERM_LABEL_STEP (:func:`_label_line`). ``memo``/
    ``memo_line`` as in :func:`erf_erm_sums`, one row per label (none where there are fewer rows than labels)."""
    y_piece, step, z_piece = label_rule_sizes(m, q, gamma, noise)
    _label_sums(m, q, chi, gamma, beta, noise, _LABEL_Z_X, _LABEL_Z_W, tail_x, tail_w, out, memo, memo_line, y_piece,
                step, z_piece, _LABEL_LEGENDRE_X, _LABEL_LEGENDRE_W, _LABEL_TAIL_FIRST,
                TAIL_ORDERS[ERM_LABEL_TAIL], ERM_LABEL_Z_CUT)


@jit
def label_rule_sizes(m, q, gamma, noise):
    """(longest piece of the label y, the teacher field's step, longest piece in z) of :func:`erf_erm_label_sums`:
    ERM_LABEL_Y_PIECE, ERM_LABEL_STEP, ERM_LABEL_PIECE."""
    s = math.sqrt(1.0 - m * m / q)
    bump = math.sqrt(s * s + noise * noise / (2.0 / math.pi)) * math.sqrt(q) / abs(m) if m != 0.0 else math.inf
    return (min(max(ERM_LABEL_Y_PIECE[0] * noise, ERM_LABEL_Y_MIN), ERM_LABEL_Y_PIECE[1]),
            min(max(ERM_LABEL_STEP[0] * noise, ERM_LABEL_STEP_MIN), ERM_LABEL_STEP[1] * s),
            min(ERM_LABEL_PIECE[0], ERM_LABEL_PIECE[1] / abs(gamma * math.sqrt(q)), ERM_LABEL_PIECE[2] * bump))


@jit
def _label_sums(m, q, chi, gamma, beta, noise, feature_x, feature_w, tail_x, tail_w, out, memo, memo_line, y_piece,
                step, z_piece, label_x, label_w, tail_first, tail_order, z_cut):
    """:func:`erf_erm_label_sums` with the label rule's pieces at most ``y_piece`` long (``label_x``/``label_w``:
    Legendre nodes of a piece, ``tail_first``/``tail_order``: the columns of the tails' rules), the teacher field's
    step ``step``, the student field's pieces at most ``z_piece`` long and its tails beyond ``z_cut`` (the tests'
    references refine them)."""
    for i in range(N_SUMS):
        out[i] = 0.0
    c = gamma * gamma * chi
    root = math.sqrt(q)
    s = math.sqrt(max(1.0 - m * m / q, 0.0))
    slope = gamma * root
    cusps = np.empty(MAX_CUSPS)
    n_cusps = erf_erm_cusps(c, cusps)
    pieces = int(2.0 * (1.0 + FEATURE_CUT * noise) / y_piece) + 4 + n_cusps
    capacity = 2 * tail_order + pieces * label_x.shape[0]
    ys = np.empty(capacity)
    yw = np.empty(capacity)
    yc = np.empty(capacity)
    n_y = _label_rule(noise, cusps, n_cusps, y_piece, min(ERM_LABEL_OUTER[0], ERM_LABEL_OUTER[1] * noise / y_piece),
                      label_x, label_w, tail_first, tail_order, tail_x, tail_w, ys, yw, yc)
    # the teacher field on one grid tau_k = (k - half) step wide enough for every omega of the lines
    reach = ERM_LABEL_REACH * s
    half = int(math.ceil((abs(m) / root * FEATURE_CUT + reach) / step))
    n_tau = 2 * half + 1
    p0 = np.empty((n_y, n_tau))
    p1 = np.empty((n_y, n_tau))
    g = np.empty(n_tau)
    dg = np.empty(n_tau)
    for k in range(n_tau):
        tau = (k - half) * step
        g[k] = math.erf(tau * _INV_SQRT2)
        dg[k] = _SQRT_2_OVER_PI * math.exp(-0.5 * tau * tau)
    inv_var = 1.0 / (noise * noise)
    bound = np.empty(n_y)
    support = np.empty((n_y, 2), dtype=np.int64)
    for j in range(n_y):
        y = ys[j]
        shift = (y - yc[j]) ** 2
        largest = 0.0
        first = n_tau
        last = -1
        # p0 >= ERM_LABEL_SUPPORT 1e-4 only where |y - g| <= reach_y, and |p1| = p0 |y - g| g'/noise^2 < 1e4 p0
        # (|y - g| < 3, noise >= ERM_LABEL_NOISE): p0 and p1 are set there only
        reach_y = math.sqrt(shift - 2.0 * noise * noise * math.log(ERM_LABEL_SUPPORT * 1e-4))
        for k in range(np.searchsorted(g, y - reach_y), np.searchsorted(g, y + reach_y, side="right")):
            r = y - g[k]
            p0[j, k] = math.exp(-0.5 * (r * r - shift) * inv_var)
            p1[j, k] = p0[j, k] * r * dg[k] * inv_var
            size = p0[j, k] + abs(p1[j, k])
            largest = max(largest, size)
            if size >= ERM_LABEL_SUPPORT:
                first = min(first, k)
                last = k
        bound[j] = yw[j] * largest
        support[j, 0] = first
        support[j, 1] = last
    capacity = graded_rule_capacity(MAX_LINE_FEATURES, feature_x.shape[0], z_piece)
    (nodes, weights, ascending, descending, kept, work, centers, widths, jumps, stretch_lo, stretch_hi,
     scratch) = _line_scratch(capacity, capacity, 7)
    remember = memo.shape[0] >= n_y and memo_line.shape[0] == memo.shape[0]
    no_memo = np.empty((3, 0))
    no_memo_line = np.empty(4)
    for j in range(n_y):
        if bound[j] < ERM_NEGLIGIBLE_WEIGHT:
            continue
        y = ys[j]
        n_features, n_jumps = erf_erm_branches(y, c, centers, widths, jumps, stretch_lo, stretch_hi, scratch)
        kept_features = 0
        for f in range(n_features):
            width = widths[f] / abs(slope)
            if width < ERM_LABEL_GRADE:
                centers[kept_features] = (centers[f] - beta) / slope
                widths[kept_features] = width
                kept_features += 1
        count = _label_z_rule(centers, widths, kept_features, z_cut, z_piece, feature_x, feature_w, tail_x, tail_w,
                              nodes, weights)
        order = ascending[:count] if slope > 0.0 else descending[capacity - count:]
        _label_line(y, yw[j], p0[j], p1[j], support[j, 0], support[j, 1], step, half, reach, m, q, s, root, gamma,
                    beta, chi, c, nodes, weights, order, jumps, n_jumps, stretch_lo, stretch_hi, kept, work, out,
                    memo[j] if remember else no_memo, memo_line[j] if remember else no_memo_line)


@jit
def _label_z_rule(centers, widths, count, cut, longest, feature_x, feature_w, tail_x, tail_w, nodes, weights):
    """The rule of the student field z of one label's line (normal density included, nodes ascending): Legendre pieces
    at most ``longest`` long graded toward the features (:func:`.panels.graded_rule`) on [-z_c, z_c], z_c the larger
    of ``cut`` and 1.5 FEATURE_PIECE beyond every feature narrower than FEATURE_BROAD (at most FEATURE_CUT), and the
    Gauss rules of the normal tails beyond (:func:`_noise_tail`, the order by the tail's mass). Returns the count."""
    for f in range(count):
        if widths[f] < FEATURE_BROAD:
            cut = max(cut, abs(centers[f]) + 1.5 * FEATURE_PIECE)
    if cut >= FEATURE_CUT:
        return graded_rule(-FEATURE_CUT, FEATURE_CUT, centers, widths, count, feature_x, feature_w, nodes, weights,
                           longest)
    filled = _noise_tail(-cut, -1.0, tail_x, tail_w, nodes, weights, 0)
    nodes[:filled] = nodes[:filled][::-1].copy()
    weights[:filled] = weights[:filled][::-1].copy()
    filled = _graded_pieces(-cut, cut, centers, widths, count, feature_x, feature_w, nodes, weights, filled, longest)
    return _noise_tail(cut, 1.0, tail_x, tail_w, nodes, weights, filled)


@jit
def _label_line(y, y_w, p0, p1, k_first, k_last, step, half, reach, m, q, s, root, gamma, beta, chi, c, z_x, z_w,
                order, jumps, n_jumps, stretch_lo, stretch_hi, kept, work, out, memo, state):
    """Add the terms of the line of label y (rule weight y_w) at omega = root z, z by the nodes z_x[order] (increasing
    a) and weights z_w (normal density included): per node W0 and W1 (:data:`ERM_LABEL_NOISE`) by the trapezoidal
    rule of the teacher field over tau_k = (k - half) step within ``reach`` of its mean m omega/q and within k_first
    <= k <= k_last (:data:`ERM_LABEL_SUPPORT`; ``p0``, ``p1``: the line's row of the labels' density and its
    tau-derivative at tau_k, set there), the nodes whose weight times W0 + |W1| is below ERM_NEGLIGIBLE_WEIGHT
    skipped."""
    delta = step / s
    decay = math.exp(-delta * delta)
    decay2 = decay * decay
    decay4 = decay2 * decay2
    norm = step / (s * math.sqrt(2.0 * math.pi))
    count = 0
    for t in range(order.shape[0]):
        i = order[t]
        omega = root * z_x[i]
        mu = m * omega / q
        k_lo = max(int(math.ceil((mu - reach) / step)) + half, k_first)
        k_hi = min(int(math.floor((mu + reach) / step)) + half, k_last)
        if k_lo > k_hi:
            continue
        d = ((k_lo - half) * step - mu) / s
        # the Gaussian factor at tau_k by recurrence, the even and the odd k apart (two independent chains of products
        # and of sums): G_{k+1} = G_k r_k, r_{k+1} = r_k decay, so G_{k+2} = G_k R_k with R_{k+2} = R_k decay^4
        ratio = math.exp(-(d * delta + 0.5 * delta * delta))
        even = math.exp(-0.5 * d * d)
        odd = even * ratio
        even_ratio = ratio * ratio * decay
        odd_ratio = even_ratio * decay2
        w0 = 0.0
        w1 = 0.0
        odd_w0 = 0.0
        odd_w1 = 0.0
        for k in range(k_lo, k_hi, 2):
            w0 += even * p0[k]
            w1 += even * p1[k]
            odd_w0 += odd * p0[k + 1]
            odd_w1 += odd * p1[k + 1]
            even *= even_ratio
            odd *= odd_ratio
            even_ratio *= decay4
            odd_ratio *= decay4
        if (k_hi - k_lo) % 2 == 0:
            w0 += even * p0[k_hi]
            w1 += even * p1[k_hi]
        w0 += odd_w0
        w1 += odd_w1
        w = y_w * z_w[i] * norm
        if w * (w0 + abs(w1)) < ERM_NEGLIGIBLE_WEIGHT:
            continue
        kept[count] = i
        count += 1
        work[0, i] = gamma * omega + beta
        work[5, i] = w * w0
        work[6, i] = w * w1
    if count == 0:
        return
    _walk_kept(y, c, work, kept[:count], jumps, n_jumps, stretch_lo, stretch_hi, memo, state, -3.0)
    for t in range(count):
        i = kept[t]
        omega = root * z_x[i]
        w0 = work[5, i]
        w1 = work[6, i]
        _erm_node(w0, (m * omega / q) * w0 + s * s * w1, (omega * w0 - m * w1) / q, omega, gamma, chi, work[0, i], c,
                  work[4, i], work[1, i], work[3, i], out)


@jit
def _erf_erm_rule(y, tau, line_w, m, cross, gamma, beta, chi, c, eta_x, eta_w, order, jumps, n_jumps, stretch_lo,
                  stretch_hi, negligible, kept, work, out, memo, state, rule):
    """Add the terms of one line of the replica field (label y, teacher field tau, weight line_w) by the nodes
    eta_x[order] (increasing a) and weights eta_w (normal density included), without the nodes of weight below
    ``negligible``, h*(a) by the pieces of :func:`.erf_erm.erf_erm_branches`; ``kept`` and the five rows of
    ``work`` are scratch; ``memo`` and ``state`` (y, c, nodes, rule) the line's memo (:func:`erf_erm_sums`), reused
    where the number of nodes and the ``rule`` (a code) are those remembered."""
    count = 0
    for t in range(order.shape[0]):
        j = order[t]
        if line_w * eta_w[j] >= negligible:
            kept[count] = j
            count += 1
            work[0, j] = gamma * (m * tau + cross * eta_x[j]) + beta
    if count == 0:
        return
    _walk_kept(y, c, work, kept[:count], jumps, n_jumps, stretch_lo, stretch_hi, memo, state, rule)
    for t in range(count):
        j = kept[t]
        _erm_terms(tau, eta_x[j], m * tau + cross * eta_x[j], cross, line_w * eta_w[j], gamma, chi, work[0, j], c,
                   work[4, j], work[1, j], work[2, j], work[3, j], out)


@jit
def _walk_kept(y, c, work, kept, jumps, n_jumps, stretch_lo, stretch_hi, memo, state, rule):
    """The proximal map at a = work[0, kept[t]] (increasing in t) into rows 1 to 4 of ``work`` (h*, dh*/da, the loss,
    the envelope) by :func:`.erf_erm.erf_erm_walk`, from the line's memo where ``state`` (y, c, nodes, rule) shows the
    same number of nodes and the same ``rule`` (a code); ``state`` updated."""
    count = kept.shape[0]
    reuse = state[2] == count and state[3] == rule and state[1] > 0.0
    erf_erm_walk(y, c, work[0], kept, jumps, n_jumps, stretch_lo, stretch_hi, work[1], work[2], work[3], work[4],
                 memo, reuse, state[1] if reuse else c, state[0] if reuse else y)
    state[0] = y
    state[1] = c
    state[2] = count
    state[3] = rule


@jit
def erm_sums_by_quadrature(student, teacher, m, q, chi, gamma, beta, noise,
                           tau_x, tau_w, eta_x, eta_w, xi_x, xi_w, piece_x, piece_w, cut, out):
    """Averages of -M(y, gamma*omega + beta, gamma^2 chi), the T -> 0 limit of ``gibbs_sums``/beta_t.

    With g_a = (h* - a)/c: f_w = gamma g_a, d/dgamma(-M) = omega g_a + gamma chi g_a^2,
    d/dbeta(-M) = g_a; slot 6 is l(y, h*). Slot 3, E[f_ww], is computed as E[eta f_w]/sqrt(q - m^2): by
    Stein's lemma the two agree where f_w is smooth, but the proximal map can jump (relu with y > 0, erf
    with two competing minima), and then only the second form carries the jump's contribution, which the
    free energy's derivative needs. Below STEIN_FREE_MIN_CROSS the a.e. derivative (dh*/da - 1)/c is used.

    Where the proximal map has known kinks (relu, :func:`moreau_kinks`) the replica field eta is
    integrated piecewise between them (:func:`.panels.legendre_panels` with the rule ``piece_x``, ``piece_w`` on
    [-1, 1] on each piece of [-cut, cut]); otherwise with the Gauss-Hermite rule (eta_x, eta_w).
    """
    for i in range(N_SUMS):
        out[i] = 0.0
    cross = math.sqrt(max(q - m * m, 0.0))
    c = gamma * gamma * chi
    kinks = np.empty(3)
    cuts = np.empty(3)
    nodes = np.empty(4 * piece_x.shape[0])
    weights = np.empty(4 * piece_x.shape[0])
    for i in range(tau_x.shape[0]):
        tau = tau_x[i]
        clean = activation(teacher, tau)
        for k in range(xi_x.shape[0]):
            y = clean + noise * xi_x[k]
            n_kinks = moreau_kinks(student, y, c, kinks)
            if n_kinks == 0 or gamma * cross <= 0.0:
                for j in range(eta_x.shape[0]):
                    _erm_add(student, y, tau, eta_x[j], m * tau + cross * eta_x[j], cross,
                             tau_w[i] * xi_w[k] * eta_w[j], gamma, beta, chi, out)
                continue
            for n in range(n_kinks):
                cuts[n] = min(max((kinks[n] - beta - gamma * m * tau) / (gamma * cross), -cut), cut)
            cuts[:n_kinks].sort()
            count = (n_kinks + 1) * piece_x.shape[0]
            legendre_panels(-cut, cut, cuts, n_kinks, piece_x, piece_w, nodes, weights)
            for j in range(count):
                if weights[j] == 0.0:
                    continue  # a piece of zero width
                eta = nodes[j]
                weight = tau_w[i] * xi_w[k] * weights[j] * norm_pdf(eta)
                _erm_add(student, y, tau, eta, m * tau + cross * eta, cross, weight, gamma, beta, chi, out)


@jit
def loss_sums(student, teacher, m, v, gamma, beta, noise, tau_x, tau_w, xi_x, xi_w, feature_x, feature_w, tail_x,
              tail_w, out):
    """:func:`loss_sums_by_quadrature`, in closed form where teacher and student are linear; for the kinked students
    (relu, sign) the teacher field's rule is a :func:`.panels.feature_rule` split at the teacher's kink and graded at
    tau* = -beta/(gamma m), where the student's smoothed kink (width sqrt(v)/|m|) sits."""
    if student == LINEAR and teacher == LINEAR:
        linear_loss_sums(m, v, gamma, beta, noise, out)
    elif student == RELU or student == SIGN:
        centers = np.empty(2)
        widths = np.empty(2)
        count = 0
        if teacher == RELU or teacher == SIGN:
            centers[count] = 0.0
            widths[count] = 0.0  # a kink
            count += 1
        if gamma * m != 0.0:
            centers[count] = -beta / (gamma * m)
            widths[count] = math.sqrt(max(v, 0.0)) / abs(m)
            count += 1
        nodes = np.empty(MAX_NODES)
        weights = np.empty(MAX_NODES)
        n = feature_rule(-math.inf, math.inf, centers, widths, count, feature_x, feature_w, tail_x, tail_w, nodes,
                         weights)
        _loss_sums(student, teacher, m, v, gamma, beta, noise, nodes, weights, n, xi_x, xi_w, out)
    else:
        loss_sums_by_quadrature(student, teacher, m, v, gamma, beta, noise, tau_x, tau_w, xi_x, xi_w, out)


@jit
def loss_sums_by_quadrature(student, teacher, m, v, gamma, beta, noise, tau_x, tau_w, xi_x, xi_w, out):
    """Averages of e(y, a, b) = E[l(y, h)] with a = gamma*m*tau + beta and b = gamma^2 v.

    This is the training loss of the high-temperature limit (the student field given the teacher's is
    N(m tau, v)); with ``noise = 0`` slot 0 is the generalization error. Slots: 0 E[e], 2 E[tau e_a],
    5 E[e_a], 4 E[e_b]; the others are zero.
    """
    _loss_sums(student, teacher, m, v, gamma, beta, noise, tau_x, tau_w, tau_x.shape[0], xi_x, xi_w, out)


@jit
def _loss_sums(student, teacher, m, v, gamma, beta, noise, tau_x, tau_w, n_tau, xi_x, xi_w, out):
    """The sums of :func:`loss_sums_by_quadrature` over the first n_tau nodes of the teacher field's rule."""
    for i in range(N_SUMS):
        out[i] = 0.0
    b = gamma * gamma * v
    for i in range(n_tau):
        tau = tau_x[i]
        clean = activation(teacher, tau)
        a = gamma * m * tau + beta
        for k in range(xi_x.shape[0]):
            w = tau_w[i] * xi_w[k]
            e, e_a, e_b = expected_loss(student, clean + noise * xi_x[k], a, b)
            out[0] += w * e
            out[2] += w * tau * e_a
            out[4] += w * e_b
            out[5] += w * e_a
