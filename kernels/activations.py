"""Activation functions g of the block and their derivatives, selected by an integer code.

Codes (:mod:`.codes`, read by the table :data:`statmech_bn.model.ACTIVATIONS`): 0 linear g(z) = z; 1 relu max(z, 0);
2 erf g(z) = erf(z/sqrt 2); 3 sign. Derivatives are the classical ones away from the kinks (the kink
points of relu and sign have measure zero and are never differentiated through by the theory, which
integrates them out in closed form).
"""

import math

from ._jit import jit
from .codes import ERF, LINEAR, RELU

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT2 = 1.0 / math.sqrt(2.0)


@jit
def activation(code, z):
    """g(z) for the activation with the given code."""
    if code == LINEAR:
        return z
    if code == RELU:
        return z if z > 0.0 else 0.0
    if code == ERF:
        return math.erf(z * _INV_SQRT2)
    if z > 0.0:
        return 1.0
    if z < 0.0:
        return -1.0
    return 0.0


@jit
def activation_derivatives(code, z):
    """(g'(z), g''(z)); zero for sign, (1[z>0], 0) for relu."""
    if code == LINEAR:
        return 1.0, 0.0
    if code == RELU:
        return (1.0 if z > 0.0 else 0.0), 0.0
    if code == ERF:
        d = _SQRT_2_OVER_PI * math.exp(-0.5 * z * z)
        return d, -z * d
    return 0.0, 0.0
