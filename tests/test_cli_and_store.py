"""The sweep command and its HDF5 store: layout, provenance, resume after a kill, refusals, bad input."""

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime

import h5py
import numpy as np
import pytest

from statmech_bn import __version__
from statmech_bn.cli import main
from statmech_bn.config import build_config, parse_toml
from statmech_bn.records import MEAN_FIELD_SCHEMA, SIMULATION_SCHEMA, SWEEP, THEORY_SCHEMA
from statmech_bn.store import CurveStore, read_curves

FIELDS = THEORY_SCHEMA.names

QUICK = """
output = "quick.h5"
[run]
workers = 1
[model]
activation = "linear"
normalizer = ["pn_gd", "none"]
method = ["high_temperature", "erm"]
temperature = 0.5
zeta = 0.1
weight_decay = 0.2
noise = 0.1
[alpha]
values = [0.5, 1.0, 2.0]
"""


def run_cli(args, cwd):
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return main(args if args[:1] in (["sweep"], ["info"]) else ["sweep", *args])
    finally:
        os.chdir(old)


@pytest.fixture
def quick_config(tmp_path):
    path = tmp_path / "quick.toml"
    path.write_text(QUICK)
    return path


def test_sweep_writes_the_documented_layout_and_provenance(tmp_path, quick_config, capsys):
    assert run_cli([str(quick_config), "--no-progress"], tmp_path) == 0
    config = build_config(parse_toml(QUICK, "test"))
    with h5py.File(tmp_path / "quick.h5", "r") as f:
        attrs = dict(f.attrs)
        assert attrs["format"] == "statmech_bn.sweep" and attrs["format_version"] == 2
        assert attrs["package_version"] == __version__
        assert attrs["config"] == QUICK
        assert json.loads(attrs["resolved_config"]) == json.loads(json.dumps(config.resolved))
        assert attrs["config_fingerprint"] == config.fingerprint
        assert "sweep" in attrs["command_line"] and str(quick_config) in attrs["command_line"]
        datetime.fromisoformat(attrs["created"])
        assert sorted(f["curves"]) == [c.name for c in config.curves]
        for spec in config.curves:
            group = f["curves"][spec.name]
            for key, value in spec.attributes().items():
                assert group.attrs[key] == value, key
            assert group.attrs["n_points"] == 3 and group.attrs["complete"]
            assert sorted(group) == sorted(FIELDS)
            assert all(group[k].shape == (3,) for k in FIELDS)
            np.testing.assert_array_equal(group["alpha"][:], [0.5, 1.0, 2.0])
            assert group["converged"][:].all()
    assert "wrote quick.h5" in capsys.readouterr().out


SLOW_SWEEP = """
output = "killed.h5"
[run]
workers = 1
[model]
activation = "relu"
normalizer = ["pn", "none"]
method = "gibbs"
temperature = 0.5
weight_decay = 0.5
[alpha]
start = 1.0
stop = 8.0
num = 60
[solver]
branches = "forward"
"""


def test_killed_sweep_resumes_without_recomputing_or_losing_points(tmp_path):
    (tmp_path / "slow.toml").write_text(SLOW_SWEEP)
    cmd = [sys.executable, "-m", "statmech_bn", "sweep", "slow.toml", "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    target = tmp_path / "killed.h5"
    deadline = time.time() + 300
    before = None
    while time.time() < deadline:
        time.sleep(0.05)
        if target.exists():
            try:
                curves = read_curves(str(target))
            except Exception:  # the writer may be mid-append; try again
                continue
            if curves and sum(len(c["alpha"]) for c in curves.values()) >= 10:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                before = curves
                break
    assert before is not None, "the sweep never wrote 10 points"
    done_before = {name: len(c["alpha"]) for name, c in before.items()}
    assert sum(done_before.values()) < 120, "killed too late to test resuming"

    finished = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr
    after = read_curves(str(target))
    for name, curve in after.items():
        n = done_before.get(name, 0)
        assert len(curve["alpha"]) == 60 and curve["attrs"]["complete"]
        for field in FIELDS:  # points finished before the kill are untouched, bit for bit
            np.testing.assert_array_equal(curve[field][:n], before[name][field][:n])

    (tmp_path / "fresh.toml").write_text(SLOW_SWEEP.replace("killed.h5", "fresh.h5"))
    assert run_cli(["fresh.toml", "--no-progress"], tmp_path) == 0
    fresh = read_curves(str(tmp_path / "fresh.h5"))
    for name in fresh:  # the resumed run warm-starts from stored values: equal up to round-off
        np.testing.assert_allclose(after[name]["eps_gen"], fresh[name]["eps_gen"], rtol=1e-8)
        np.testing.assert_array_equal(after[name]["converged"], fresh[name]["converged"])


def test_rerunning_a_finished_sweep_recomputes_nothing(tmp_path, quick_config):
    assert run_cli([str(quick_config), "--no-progress"], tmp_path) == 0
    mtime = os.stat(tmp_path / "quick.h5").st_mtime_ns
    assert run_cli([str(quick_config), "--no-progress"], tmp_path) == 0
    assert read_curves(str(tmp_path / "quick.h5"))["000-linear-pn_gd-high_temperature"]["alpha"].shape == (3,)
    assert os.stat(tmp_path / "quick.h5").st_mtime_ns == mtime


def one_error_line(capsys):
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("statmech_bn: error: ")
    return lines[0]


def test_concurrent_writer_is_refused(tmp_path, quick_config, capsys):
    config = build_config(parse_toml(QUICK, "test"))
    path = str(tmp_path / "quick.h5")
    with CurveStore(path, fingerprint=config.fingerprint, config_text=QUICK, resolved_config=config.resolved,
                    command_line="test", format_name=SWEEP):
        assert run_cli([str(quick_config), "--no-progress"], tmp_path) == 2
        assert "being written by another run" in one_error_line(capsys)
    assert run_cli([str(quick_config), "--no-progress"], tmp_path) == 0


def test_foreign_files_are_refused_and_left_untouched(tmp_path, quick_config, capsys):
    junk = tmp_path / "quick.h5"
    junk.write_bytes(b"not an HDF5 file at all")
    assert run_cli([str(quick_config), "--no-progress"], tmp_path) == 2
    assert "not a readable HDF5 file" in one_error_line(capsys)
    assert junk.read_bytes() == b"not an HDF5 file at all"

    with h5py.File(junk, "w") as f:
        f["data"] = np.arange(3)
    assert run_cli([str(quick_config), "--no-progress"], tmp_path) == 2
    assert "not a statmech_bn file" in one_error_line(capsys)
    assert run_cli(["info", str(junk)], tmp_path) == 2  # (argv[0] is the subcommand here)
    one_error_line(capsys)

    junk.unlink()
    assert run_cli([str(quick_config), "--no-progress"], tmp_path) == 0
    capsys.readouterr()
    before = junk.read_bytes()
    assert run_cli([str(quick_config), "--no-progress", "--noise", "0.2"], tmp_path) == 2
    assert "different configuration" in one_error_line(capsys)
    assert junk.read_bytes() == before


def test_parallel_sweep_matches_serial(tmp_path, quick_config):
    assert run_cli([str(quick_config), "--no-progress", "-o", "serial.h5"], tmp_path) == 0
    assert run_cli([str(quick_config), "--no-progress", "-o", "parallel.h5", "--workers", "2"], tmp_path) == 0
    serial, parallel = read_curves(str(tmp_path / "serial.h5")), read_curves(str(tmp_path / "parallel.h5"))
    for name in serial:
        for field in FIELDS:
            np.testing.assert_array_equal(serial[name][field], parallel[name][field])


SIMULATED = """
output = "sim.h5"
[run]
workers = 1
[model]
activation = "relu"
normalizer = ["pn_gd", "bn"]
method = ["erm", "sim_sgd"]
zeta = 0.1
noise = 0.5
batch_size = 8
[alpha]
values = [1.0, 2.0]
[simulation]
size = 40
seeds = 3
max_epochs = 40
"""


def test_simulation_curves_share_the_file_with_their_theory(tmp_path):
    (tmp_path / "sim.toml").write_text(SIMULATED)
    assert run_cli(["sweep", "sim.toml", "--no-progress"], tmp_path) == 0
    curves = read_curves(str(tmp_path / "sim.h5"))
    kinds = {name: c["attrs"]["kind"] for name, c in curves.items()}
    assert sorted(kinds.values()) == ["simulation", "simulation", "theory", "theory"]
    for name, curve in curves.items():
        if kinds[name] == "theory":
            assert sorted(k for k in curve if k != "attrs") == sorted(FIELDS)
            continue
        assert sorted(k for k in curve if k != "attrs") == sorted(SIMULATION_SCHEMA.names)
        assert curve["eps_gen_seeds"].shape == (2, 3) and curve["seeds"].shape == (2, 3)
        np.testing.assert_allclose(curve["eps_gen"], curve["eps_gen_seeds"].mean(axis=1), rtol=1e-12)
        sem = curve["eps_gen_seeds"].std(axis=1, ddof=1) / np.sqrt(3)
        np.testing.assert_allclose(curve["eps_gen_sem"], sem, rtol=1e-12)
        attrs = curve["attrs"]
        assert attrs["simulation_size"] == 40 and attrs["simulation_seeds"] == 3 and attrs["batch_size"] == 8
        assert "simulation_learning_rate_definition" in attrs and attrs["simulation_learning_rate"] == 0.5
    # the stored seeds reproduce a point bit for bit
    from statmech_bn.config import build_config, parse_toml
    from statmech_bn.simulate import SIMULATION_TABLE, point_seeds

    config = build_config(parse_toml(SIMULATED, "test"))
    spec = next(c for c in config.curves if c.problem.normalizer == "bn" and c.is_simulation)
    stored = curves[spec.name]
    seeds = point_seeds(config.simulation.seed, spec.key, 2.0, 3)
    assert list(stored["seeds"][1]) == seeds
    again = SIMULATION_TABLE["sim_sgd"](spec.problem, 2.0, config.simulation, seeds[2])
    assert again.eps_gen == stored["eps_gen_seeds"][1, 2]


def test_simulation_sweep_is_the_same_in_parallel_and_resumes(tmp_path):
    (tmp_path / "sim.toml").write_text(SIMULATED)
    assert run_cli(["sweep", "sim.toml", "--no-progress", "-o", "serial.h5"], tmp_path) == 0
    assert run_cli(["sweep", "sim.toml", "--no-progress", "-o", "parallel.h5", "--workers", "2"], tmp_path) == 0
    serial, parallel = read_curves(str(tmp_path / "serial.h5")), read_curves(str(tmp_path / "parallel.h5"))
    for name in serial:
        for field in serial[name]:
            if field != "attrs":
                np.testing.assert_array_equal(serial[name][field], parallel[name][field])
    # drop the last point of every curve, as a kill would, and resume
    with h5py.File(tmp_path / "parallel.h5", "r+") as f:
        for group in f["curves"].values():
            group.attrs["n_points"] = 1
    assert run_cli(["sweep", "sim.toml", "--no-progress", "-o", "parallel.h5"], tmp_path) == 0
    resumed = read_curves(str(tmp_path / "parallel.h5"))
    for name in serial:
        for field in serial[name]:
            if field != "attrs":
                np.testing.assert_array_equal(serial[name][field], resumed[name][field])


def test_a_runaway_saddle_point_is_stored_as_diverged(tmp_path, capsys):
    """relu ERM with pn, noise 0.5: below alpha ~ 4.5 the iteration's gamma grows without bound (no finite RS saddle
    point); such a point is stored not converged and diverged, a converged one never diverged, and info says so."""
    assert run_cli(["--activation", "relu", "--normalizer", "pn", "--method", "erm", "--noise", "0.5", "--alpha", "2,8",
                    "-o", "runaway.h5", "--no-progress"], tmp_path) == 0
    curve = read_curves(str(tmp_path / "runaway.h5"))["000-relu-pn-erm"]
    assert curve["converged"].tolist() == [False, True]
    assert curve["diverged"].tolist() == [True, False]
    assert abs(curve["gamma"][0]) > 1e6 > abs(curve["gamma"][1])
    capsys.readouterr()
    assert main(["info", str(tmp_path / "runaway.h5")]) == 0
    assert "1 converged, 1 diverged (no finite saddle point)" in capsys.readouterr().out


def test_a_zero_temperature_curve_says_where_replica_symmetry_fails(tmp_path):
    """relu's square loss is not convex in the pre-activation, and erf's is not for labels in the noise tail (ERM's
    proximal map jumps): their erm curves' converged field says that replica symmetry is unstable there; linear's
    (convex) and erf's without label noise (nothing claimed) keep the schema's description."""
    assert run_cli(["--activation", "relu,linear,erf", "--normalizer", "pn", "--method", "erm", "--noise", "0,0.5",
                    "--alpha", "8", "-o", "rs.h5", "--no-progress"], tmp_path) == 0
    with h5py.File(tmp_path / "rs.h5") as f:
        described = {(group.attrs["activation"], float(group.attrs["noise"])): group["converged"].attrs["description"]
                     for group in f["curves"].values()}
    plain = THEORY_SCHEMA.fields["converged"].description
    assert len(described) == 6
    for (activation, noise), text in described.items():
        noted = activation == "relu" or (activation == "erf" and noise > 0.0)
        assert text.startswith(plain)
        assert ("Replica symmetry is unstable" in text) == noted, (activation, noise)


MEAN_FIELD_CHEAP = {"batches": 400, "outer_nodes": 8, "eta_nodes": 16, "grid": 61}
"""Cheap settings of bn's finite-M mean field (~0.2 CPU s per point): the test checks the wiring (the stored values
are those of a direct solve_finite_batch call), not the accuracy, which tests/test_bn_meanfield.py covers."""


def _mean_field_flags(output: str, activation: str = "relu") -> list[str]:
    """A two-point mean-field sweep (bn M = 4, alpha 3 and 8) at the cheap settings, one worker."""
    return ["--activation", activation, "--normalizer", "bn", "--method", "erm", "--batch-size", "4",
            "--bn-regularizer", "mean_field", "--noise", "0.5", "--alpha", "3,8", "--workers", "1", "-o", output,
            "--no-progress", *(a for k, v in MEAN_FIELD_CHEAP.items()
                               for a in ("--set", f"quadrature.mean_field_{k}={v}"))]


@pytest.mark.parametrize("activation", ["relu", "linear", "erf"])
def test_bn_mean_field_sweep_stores_solve_finite_batch_with_its_seed(tmp_path, activation):
    """``--bn-regularizer mean_field`` stores, per load, exactly what solve_finite_batch gives at the stored seed
    (derived from the master seed, the curve's physics and alpha) warm-started from the previous converged point;
    one forward branch, the fields it has no value for NaN."""
    from statmech_bn.drivers.sweep import mean_field_seed
    from statmech_bn.theory.bn_finite_m import solve_finite_batch

    assert run_cli(_mean_field_flags("mf.h5", activation), tmp_path) == 0
    config = build_config({}, {"model.activation": [activation], "model.normalizer": ["bn"], "model.method": ["erm"],
                               "model.batch_size": [4], "model.bn_regularizer": ["mean_field"],
                               "model.noise": [0.5], "alpha.values": [3.0, 8.0]})
    (spec,) = config.curves
    (curve,) = read_curves(str(tmp_path / "mf.h5")).values()
    assert curve["attrs"]["solver_branches_run"] == "forward" and curve["attrs"]["bn_regularizer"] == "mean_field"
    arguments = {"n_batches": 400, "n_outer": 8, "n_eta": 16, "n_grid": 61}
    start = {}
    for i, alpha in enumerate((3.0, 8.0)):
        seed = mean_field_seed(config.simulation.seed, spec, alpha)
        assert curve["seed"][i] == seed
        direct = solve_finite_batch(4, alpha, 0.5, seed, activation=activation, **arguments, **start)
        # the same calls in the same order on one thread: equal to rounding (1e-12 leaves room for BLAS dot order)
        for field, value in (("eps_gen", direct.eps_g), ("R", direct.R), ("gamma", direct.gamma),
                             ("beta", direct.beta), ("chi", direct.chi), ("eps_train", direct.training_loss),
                             ("residual", direct.residual)):
            np.testing.assert_allclose(curve[field][i], value, rtol=1e-12, atol=1e-15, err_msg=field)
        assert curve["iterations"][i] == direct.iterations and curve["converged"][i] == direct.converged
        assert np.isnan([curve[f][i] for f in ("L", "zeta_in_force", "penalty_in_force")]).all()
        assert curve["q"][i] == 1.0 and curve["branch"][i] == 0
        if direct.converged:
            start = {"start": (direct.R, direct.chi, direct.gamma, direct.beta)}
    assert start, "no converged point: the warm start was not exercised"


def test_a_killed_mean_field_sweep_resumes_to_the_same_values(tmp_path):
    """Dropping the last point, as a kill would, and rerunning: the resumed point warm-starts from the stored one
    and equals the uninterrupted run's (same seed, same start)."""
    assert run_cli(_mean_field_flags("whole.h5"), tmp_path) == 0
    assert run_cli(_mean_field_flags("killed.h5"), tmp_path) == 0
    with h5py.File(tmp_path / "killed.h5", "r+") as f:
        for group in f["curves"].values():
            group.attrs["n_points"] = 1
            group.attrs["complete"] = False
    assert run_cli(_mean_field_flags("killed.h5"), tmp_path) == 0
    (whole,) = read_curves(str(tmp_path / "whole.h5")).values()
    (resumed,) = read_curves(str(tmp_path / "killed.h5")).values()
    assert resumed["attrs"]["complete"] and len(resumed["alpha"]) == 2
    for field in whole:
        if field != "attrs":
            np.testing.assert_allclose(resumed[field], whole[field], rtol=1e-12, atol=1e-15, err_msg=field)


def test_a_non_converged_mean_field_point_is_stored_as_not_converged():
    from statmech_bn.drivers.sweep import mean_field_record
    from statmech_bn.theory.bn_finite_m import solve_finite_batch

    solution = solve_finite_batch(4, 3.0, 0.5, 1, n_batches=100, n_outer=6, n_eta=8, n_grid=41, iterations=2)
    record = mean_field_record(solution, 1)
    assert not solution.converged and record["converged"] is False and record["seed"] == 1
    assert set(record) == set(MEAN_FIELD_SCHEMA.names)


def test_mean_field_settings_defaults_are_solve_finite_batch_defaults():
    import inspect

    from statmech_bn.config.sweep import MeanFieldSettings
    from statmech_bn.theory.bn_finite_m import solve_finite_batch

    defaults = {k: p.default for k, p in inspect.signature(solve_finite_batch).parameters.items()}
    assert all(defaults[k] == v for k, v in MeanFieldSettings().solver_arguments().items())
