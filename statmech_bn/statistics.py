"""The one statistics policy: the mean over independent seeds and its standard error.

The standard error of a mean over k independent values is std(ddof=1)/sqrt(k) (the sample standard deviation with
Bessel's correction over sqrt(k)); with one value it is undefined, and callers say what they store then.
"""

from __future__ import annotations

import math

import numpy as np


def mean_and_sem(values, axis: int | None = None, single: float = math.nan):
    """(mean, standard error of the mean) of ``values`` along ``axis`` (all of them by default); the error is
    ``single`` when there is only one value."""
    values = np.asarray(values, dtype=float)
    k = values.size if axis is None else values.shape[axis]
    mean = values.mean(axis=axis)
    if k > 1:
        return mean, values.std(axis=axis, ddof=1) / math.sqrt(k)
    return mean, np.full_like(mean, single) if np.ndim(mean) else single
