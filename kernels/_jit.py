"""The one place that sets Numba options for every kernel.

- ``cache=True``: compiled machine code is stored next to the sources (or in ``NUMBA_CACHE_DIR``), so
  worker processes and later runs skip compilation.
- ``fastmath``: only flags that keep IEEE NaN and infinity semantics (no ``nnan``/``ninf``), so a
  diverged computation still shows up as NaN/inf instead of silently becoming a number.
- ``error_model="numpy"``: division by zero gives inf/NaN like NumPy instead of raising, and removes the
  Python-style zero checks from inner loops.
"""

import numba

FASTMATH_FLAGS = {"contract", "arcp", "nsz", "afn"}

jit = numba.njit(cache=True, fastmath=FASTMATH_FLAGS, error_model="numpy", nogil=True)

jit_parallel = numba.njit(cache=True, fastmath=FASTMATH_FLAGS, error_model="numpy", nogil=True, parallel=True)
"""The same options with ``numba.prange`` loops run on threads: for kernels whose result does not depend on the
thread count (fixed blocks, each summed in order, combined in order)."""

jit_inline = numba.njit(cache=True, fastmath=FASTMATH_FLAGS, error_model="numpy", nogil=True, inline="always")
"""The same options, inlined into the caller at Numba's IR level: for small helpers that take arrays and run inside
a hot loop (a call with array arguments costs reference counting that can exceed the helper's work)."""
