"""The integer codes by which kernels select an activation, a training kind and an input law.

Plain constants, without Numba: the driver's tables (:mod:`statmech_bn.model`) and the command line's schemas read
them without loading the compiler, so ``--help``, ``info`` and a refused config start in a fraction of a second.
"""

LINEAR = 0
"""g(z) = z."""
RELU = 1
"""g(z) = max(z, 0)."""
ERF = 2
"""g(z) = erf(z / sqrt 2)."""
SIGN = 3
"""g(z) = sign(z)."""

BATCH = 0
"""SGD through the statistics of its batch (bn)."""
POPULATION = 1
"""SGD through population statistics (pn, wn, pn_gd)."""
PLAIN = 2
"""SGD without normalization (none)."""

GAUSSIAN = 0
"""Gaussian pre-activation law of the BN decomposition (kurtosis 3)."""
LAPLACE = 1
"""Laplace pre-activation law of the BN decomposition (kurtosis 6)."""
