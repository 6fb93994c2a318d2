"""ERM's averages for an erf student: the proximal map solved once per line of the replica field.

:func:`.saddle.erm_sums_by_quadrature` solves the proximal map h*(a) of erf (:func:`.channels.moreau`) afresh at
every node (tau, x, eta) of the outer rules: from a, with a grid search around a wherever the Moreau objective may be
non-convex. Along one line of the replica field (tau and the noise x fixed, so the label y and c = gamma^2 chi are
fixed) only a = A + B eta moves. :func:`erf_erm_line` walks the line's nodes in increasing a:

- where the objective is convex for every a (:func:`.channels.erf_prox_convex`), by safeguarded Newton
  (:func:`.channels.erf_newton`) from the previous node's h* extrapolated along dh*/da (h*(a) is smooth there);
- elsewhere by :func:`.channels.erf_prox_on_grid` on one grid of h for the whole line (the spacing of the per-node
  search, 2 bound/ERF_PROX_GRID), whose losses are computed once per line instead of once per node.

Both give the global minimiser as the per-node search does (the same Newton iteration to 1e-14 and, on the
non-convex lines, every discrete local minimum refined), within round-off.
"""

import math

from ._jit import jit
from .channels import (
    ERF_PROX_GRID,
    erf_loss_grid,
    erf_newton,
    erf_prox_bound,
    erf_prox_convex,
    erf_prox_on_grid,
    erf_prox_terms,
)


@jit
def erf_erm_line(y, c, a_x, order, h_out, dh_out, loss_out, env_out):
    """Proximal map of erf at the nodes a_x[order[0]], a_x[order[1]], ... (non-decreasing, c > 0), written at the
    same indices of ``h_out`` (h*), ``dh_out`` (dh*/da), ``loss_out`` (l(y, h*)) and ``env_out`` (the Moreau
    envelope)."""
    n = order.shape[0]
    bound = erf_prox_bound(y, c)
    convex = erf_prox_convex(y, c)
    step = 2.0 * bound / ERF_PROX_GRID
    low = a_x[order[0]] - bound
    size = 0 if convex else int(math.ceil((a_x[order[n - 1]] + bound - low) / step)) + 2
    grid_loss = erf_loss_grid(y, low, step, size)
    prev_a = math.nan
    prev_h = 0.0
    prev_dh = 0.0
    for t in range(n):
        j = order[t]
        a = a_x[j]
        if convex:
            start = a if math.isnan(prev_a) else prev_h + prev_dh * (a - prev_a)
            h = erf_newton(y, a, c, min(max(start, a - bound), a + bound), a - bound, a + bound)
        else:
            h = erf_prox_on_grid(y, a, c, low, step, grid_loss)
        lh, dh = erf_prox_terms(y, h, c)
        h_out[j] = h
        dh_out[j] = dh
        loss_out[j] = lh
        env_out[j] = lh + (h - a) ** 2 / (2.0 * c)
        prev_a = a
        prev_h = h
        prev_dh = dh
