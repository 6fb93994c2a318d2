"""Every example config shipped in data/ is valid (the README points users at them)."""

from pathlib import Path

import pytest

from statmech_bn.config import build_config, build_decompose_config, parse_toml

DATA = Path(__file__).resolve().parent.parent / "data"


@pytest.mark.parametrize("path", sorted(DATA.glob("*.toml")), ids=lambda p: p.name)
def test_example_config_is_valid(path):
    raw = parse_toml(path.read_text(), str(path))
    if path.name.startswith("decompose"):
        config = build_decompose_config(raw)
    else:
        config = build_config(raw)
    assert config.curves
