"""Numba kernels of statmech_bn: pure functions over arrays and scalars.

Shipped as ``statmech_bn.kernels``. Nothing in here imports the driver package; every kernel is
compiled through :mod:`statmech_bn.kernels._jit`, the one place that sets Numba options.
"""
