"""Shared fixtures. Tests import the installed package (``pip install .[test]`` or ``-e``)."""

from statmech_bn.blas import pin_single_thread

pin_single_thread()  # as the command line does, before NumPy loads: in-process runs equal the CLI's bit for bit

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture
def rng():
    return np.random.default_rng(20261126)
