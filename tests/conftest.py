"""Shared fixtures. Tests import the installed package (``pip install .[test]`` or ``-e``)."""

import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(20261126)
