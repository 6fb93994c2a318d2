"""The model tables (statmech_bn.model) and the layers of the house.

Every activation's NumPy twin agrees with its kernel and with the slow reference of tests/naive.py; every rule the
records state is the one the code applies; and the import arrows only run down: kernels import nothing from
statmech_bn, and the model packages (theory, simulate, dynamics) import no driver, store, config or CLI.
"""

import ast
from pathlib import Path

import naive
import numpy as np
import pytest

from statmech_bn.kernels.activations import activation
from statmech_bn.model import ACTIVATIONS, NORMALIZERS, Penalty, allowed_methods, allowed_normalizers

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_numpy_twin_is_the_kernel_and_the_reference(name):
    z = np.linspace(-4.0, 4.0, 161)
    twin = ACTIVATIONS[name].numpy(z)
    kernel = np.array([activation(ACTIVATIONS[name].code, v) for v in z])
    np.testing.assert_allclose(twin, kernel, rtol=1e-15, atol=0.0)
    np.testing.assert_allclose(twin, [naive.act(name, v) for v in z], rtol=1e-12, atol=1e-15)


def test_codes_are_distinct_and_rules_follow_the_records():
    assert len({a.code for a in ACTIVATIONS.values()}) == len(ACTIVATIONS)
    assert allowed_methods("sign") == ("high_temperature", "gibbs", "sim_gibbs")
    assert "erm" in allowed_methods("relu") and "sim_sgd" in allowed_methods("erf")
    assert allowed_normalizers("sim_gibbs") == ("pn", "wn", "pn_gd", "none")
    assert "bn" in allowed_normalizers("sim_sgd") and "bn" in allowed_normalizers("gibbs")
    assert [n for n, r in NORMALIZERS.items() if r.stationary_branch] == ["pn_gd", "bn"]
    assert [n for n, r in NORMALIZERS.items() if not r.scale_invariant] == ["none"]
    assert NORMALIZERS["none"].penalty is Penalty.WEIGHT_DECAY and NORMALIZERS["bn"].penalty is Penalty.BATCH_ZETA


def _imports(path: Path) -> list[str]:
    """The absolute module names a file imports (relative imports resolved against its package)."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    if package.startswith("kernels"):
        package = "statmech_bn." + package
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                out.append(".".join(base + ([node.module] if node.module else [])))
            else:
                out.append(node.module)
    return out


def test_kernels_import_nothing_from_the_driver():
    for path in sorted((ROOT / "kernels").glob("*.py")):
        bad = [m for m in _imports(path) if m.startswith("statmech_bn") and not m.startswith("statmech_bn.kernels")]
        assert not bad, f"{path.name} imports {bad}"


FORBIDDEN_FOR_MODELS = ("statmech_bn.drivers", "statmech_bn.store", "statmech_bn.config", "statmech_bn.cli",
                        "statmech_bn.executors", "statmech_bn.signals")


@pytest.mark.parametrize("package", ["theory", "simulate", "dynamics"])
def test_model_packages_import_no_driver_store_config_or_cli(package):
    files = sorted((ROOT / "statmech_bn" / package).glob("*.py"))
    files += [ROOT / "statmech_bn" / name for name in ("model.py", "quadrature.py", "rng.py", "seeds.py")]
    for path in files:
        bad = [m for m in _imports(path) if m.startswith(FORBIDDEN_FOR_MODELS)]
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_the_store_knows_records_not_physics():
    bad = [m for m in _imports(ROOT / "statmech_bn" / "store.py")
           if m.startswith(("statmech_bn.theory", "statmech_bn.simulate", "statmech_bn.dynamics",
                            "statmech_bn.kernels", "statmech_bn.model", "statmech_bn.drivers"))]
    assert not bad, bad
