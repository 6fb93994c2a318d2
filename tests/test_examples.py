"""Every example config shipped in data/ and every embedded showcase is valid (the README points users at them)."""

from pathlib import Path

import pytest

from statmech_bn.analysis.reproduce import RUNS, config_text
from statmech_bn.config import BUILDERS, parse_toml, showcase_text

DATA = Path(__file__).resolve().parent.parent / "data"


def command_of(name: str) -> str:
    return next((c for c in ("decompose", "dynamics") if name.startswith(c)), "sweep")


@pytest.mark.parametrize("path", sorted(DATA.glob("*.toml")), ids=lambda p: p.name)
def test_example_config_is_valid(path):
    config = BUILDERS[command_of(path.name)](parse_toml(path.read_text(), str(path)))
    assert config.curves


@pytest.mark.parametrize("stem, command", RUNS)
@pytest.mark.parametrize("quick", [False, True])
def test_reproduction_configs_are_valid(stem, command, quick):
    assert BUILDERS[command](parse_toml(config_text(stem, quick), stem)).curves


@pytest.mark.parametrize("command", sorted(BUILDERS))
def test_showcase_is_valid(command):
    assert BUILDERS[command](parse_toml(showcase_text(command), command)).curves
