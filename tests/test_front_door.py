"""The front door: defaults you can see, one schema, bounded inputs, the plan, config show, signals and pipes.

The table of bad inputs (:data:`BAD_INPUTS`) is the one place every refused input is listed: each gives one line on
stderr naming the problem, exit status 2, and leaves the folder as it was (no output file, no lock file).
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from statmech_bn.cli import main
from statmech_bn.config import BUILDERS, SCHEMAS, parse_toml, showcase_text
from statmech_bn.store import read_curves, read_root_attributes

README = Path(__file__).resolve().parent.parent / "README.md"


def run(args, cwd):
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return main(list(args))
    finally:
        os.chdir(old)


def listing(folder: Path) -> dict:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


# -- bad inputs ---------------------------------------------------------------------------------------------------
def _junk(path):
    (path / "out.h5").write_bytes(b"not an HDF5 file at all")


def _foreign(path):
    with h5py.File(path / "out.h5", "w") as f:
        f["data"] = np.arange(3)


def _damaged(path):
    with h5py.File(path / "out.h5", "w") as f:
        f.attrs["format"] = "statmech_bn.sweep"
        f.attrs["format_version"] = 1
        f.create_group("curves").create_group("000-relu-pn-gibbs")


def _decompose_file(path):
    assert run(["decompose", "--activation", "relu", "--batch-sizes", "4", "--samples", "2000", "-o", "out.h5",
                "--quiet"], path) == 0


def _sweep_file(path):
    assert run(["sweep", "--method", "high_temperature", "--alpha", "1", "-o", "out.h5", "--quiet"], path) == 0


def _toml(text):
    def write(path):
        (path / "bad.toml").write_text(text)
    return write


def _binary_config(path):
    (path / "bad.toml").write_bytes(b"\xff\xfe\x00binary")


def _plain_file(path):
    (path / "afile").write_text("not a folder")


def _folder(path):
    (path / "adir").mkdir()


SWEEP = ["sweep", "-o", "out.h5"]
DEC = ["decompose", "-o", "out.h5"]
DYN = ["dynamics", "-o", "out.h5"]
MANY_T = ",".join(f"{0.01 * (k + 1):.2f}" for k in range(2000))

BAD_INPUTS = [
    # sweep: flag values
    ("t0", [*SWEEP, "--temperature", "0"], None, "model.temperature must be > 0"),
    ("gh-nodes", [*SWEEP, "--set", "quadrature.replica_nodes=1000"], None,
     "quadrature.replica_nodes must be in [1, 360]"),
    ("t-neg", [*SWEEP, "--temperature", "-1"], None, "model.temperature must be > 0"),
    ("t-word", [*SWEEP, "--temperature", "hot"], None, "model.temperature expects numbers"),
    ("t-nan", [*SWEEP, "--temperature", "nan"], None, "model.temperature must be finite"),
    ("t-inf", [*SWEEP, "--temperature", "inf"], None, "model.temperature must be finite"),
    ("t-empty", [*SWEEP, "--temperature", ""], None, "model.temperature expects numbers"),
    ("t-gap", [*SWEEP, "--temperature", "1,,2"], None, "model.temperature expects numbers"),
    ("t-2000", [*SWEEP, "--normalizer", "pn,wn,pn_gd,none", "--zeta", "0.1", "--weight-decay", "0.5",
                "--temperature", MANY_T], None, "above limits.max_curves"),
    ("zeta-neg", [*SWEEP, "--zeta", "-0.1"], None, "model.zeta must be >= 0"),
    ("wd-neg", [*SWEEP, "--weight-decay", "-1"], None, "model.weight_decay must be >= 0"),
    ("noise-neg", [*SWEEP, "--noise", "-1"], None, "model.noise must be >= 0"),
    ("noise-huge", [*SWEEP, "--noise", "1e400"], None, "model.noise must be finite"),
    ("act-unknown", [*SWEEP, "--activation", "tanh"], None, "unknown model.activation 'tanh'"),
    ("sign-erm", [*SWEEP, "--activation", "sign", "--method", "erm"], None, "method 'erm' is not defined"),
    ("sign-sim-erm", [*SWEEP, "--activation", "sign", "--method", "sim_erm"], None, "not defined for activation"),
    ("sign-sgd", [*SWEEP, "--activation", "sign", "--method", "sim_sgd"], None, "not defined for activation"),
    ("norm-unknown", [*SWEEP, "--normalizer", "batchnorm"], None, "unknown model.normalizer 'batchnorm'"),
    ("bn-sign", [*SWEEP, "--normalizer", "bn", "--activation", "sign"], None, "needs a differentiable activation"),
    ("none-gibbs", [*SWEEP, "--normalizer", "none"], None, "add --weight-decay"),
    ("none-gibbs-zero-in-list", [*SWEEP, "--normalizer", "none", "--weight-decay", "0,0.5"], None,
     "needs model.weight_decay > 0"),
    ("none-sim-gibbs", [*SWEEP, "--normalizer", "none", "--method", "sim_gibbs"], None, "add --weight-decay"),
    ("pn_gd-zeta0", [*SWEEP, "--normalizer", "pn_gd"], None, "pn_gd at model.zeta = 0 has no gamma decay"),
    ("bn-M1", [*SWEEP, "--normalizer", "bn", "--batch-size", "1"], None, "bn needs model.batch_size >= 2"),
    ("bn-sgd-M2", [*SWEEP, "--normalizer", "bn", "--method", "sim_sgd", "--batch-size", "2"], None,
     "sim_sgd of bn needs model.batch_size >= 3"),
    ("M0", [*SWEEP, "--batch-size", "0"], None, "model.batch_size must be >= 1"),
    ("M-float", [*SWEEP, "--batch-size", "2.5"], None, "model.batch_size must be an integer (got 2.5)"),
    ("M-neg", [*SWEEP, "--batch-size=-4"], None, "model.batch_size must be >= 1"),
    ("M-above-P", [*SWEEP, "--method", "sim_sgd", "--batch-size", "100", "--size", "40", "--alpha", "0.5:1:2"], None,
     "exceeds the P = 20 training samples"),
    ("method-unknown", [*SWEEP, "--method", "replica"], None, "unknown model.method 'replica'"),
    ("bn-sim-gibbs", [*SWEEP, "--normalizer", "bn", "--method", "sim_gibbs"], None, "simulated by sim_sgd"),
    ("bn-mean-field-gibbs", [*SWEEP, "--normalizer", "bn", "--bn-regularizer", "mean_field", "--noise", "0.5"], None,
     "bn_regularizer 'mean_field' is the ERM (T -> 0) theory of bn: method 'gibbs' has none"),
    ("bn-mean-field-high-t", [*SWEEP, "--normalizer", "bn", "--bn-regularizer", "mean_field", "--noise", "0.5",
                              "--method", "erm,high_temperature"], None, "method 'high_temperature' has none"),
    ("bn-mean-field-noise0", [*SWEEP, "--normalizer", "bn", "--bn-regularizer", "mean_field", "--method", "erm"],
     None, "bn_regularizer 'mean_field' needs label noise: model.noise > 0"),
    ("bn-sim-erm", [*SWEEP, "--normalizer", "bn", "--method", "sim_erm"], None, "simulated by sim_sgd"),
    ("alpha-zero", [*SWEEP, "--alpha", "0:2:5"], None, "alpha.start must be > 0"),
    ("alpha-neg", [*SWEEP, "--alpha", "-1,2"], None, "alpha.values must be > 0"),
    ("alpha-neg-range", [*SWEEP, "--alpha", "-1:2:3"], None, "alpha.start must be > 0"),
    ("alpha-2parts", [*SWEEP, "--alpha", "1:2"], None, "expected start:stop:num"),
    ("alpha-5parts", [*SWEEP, "--alpha", "1:2:3:4:5"], None, "expected start:stop:num"),
    ("alpha-num-word", [*SWEEP, "--alpha", "1:2:x"], None, "alpha.num expects integers"),
    ("alpha-spacing", [*SWEEP, "--alpha", "1:2:3:cubic"], None, "unknown alpha.spacing 'cubic'"),
    ("alpha-reversed", [*SWEEP, "--alpha", "2:1:5"], None, "alpha.stop (1.0) must be >= alpha.start"),
    ("alpha-equal", [*SWEEP, "--alpha", "1:1:5"], None, "between equal alpha.start and alpha.stop"),
    ("alpha-huge", [*SWEEP, "--alpha", "0.5:10:100000000000"], None, "above limits.max_points"),
    ("alpha-num0", [*SWEEP, "--alpha", "1:2:0"], None, "alpha.num must be >= 1"),
    ("alpha-num-float", [*SWEEP, "--alpha", "1:2:2.5"], None, "alpha.num must be an integer (got 2.5)"),
    ("alpha-nan", [*SWEEP, "--alpha", "nan,1"], None, "alpha.values must be finite"),
    ("alpha-empty", [*SWEEP, "--alpha", ""], None, "alpha.values expects numbers"),
    ("alpha-points", [*SWEEP, "--normalizer", "pn,wn", "--alpha", "0.5:10:60000"], None, "above limits.max_points"),
    ("workers-neg", [*SWEEP, "--workers", "-1"], None, "run.workers must be in [0, 1024]"),
    ("workers-word", [*SWEEP, "--workers", "all"], None, "run.workers expects integers"),
    ("workers-huge", [*SWEEP, "--workers", "100000"], None, "run.workers must be in [0, 1024]"),
    ("size-small", [*SWEEP, "--method", "sim_sgd", "--size", "5"], None, "simulation.size must be >= 10"),
    ("size-huge", [*SWEEP, "--method", "sim_sgd", "--size", "10000000000"], None, "above limits.max_memory_gb"),
    ("size-float", [*SWEEP, "--size", "1e3"], None, "simulation.size must be an integer"),
    ("seeds-one", [*SWEEP, "--seeds", "1"], None, "simulation.seeds must be in [2, 100000]"),
    ("seeds-huge", [*SWEEP, "--seeds", "1000000"], None, "simulation.seeds must be in [2, 100000]"),
    ("seed-neg", [*SWEEP, "--seed", "-1"], None, "simulation.seed must be in [0, "),
    ("seed-float", [*SWEEP, "--seed", "1e30"], None, "simulation.seed must be an integer"),
    ("seed-huge", [*SWEEP, "--seed", "99999999999999999999"], None, "simulation.seed must be in [0, "),
    ("lr-zero", [*SWEEP, "--learning-rate", "0"], None, "simulation.learning_rate must be > 0"),
    ("lr-neg", [*SWEEP, "--learning-rate", "-0.1"], None, "simulation.learning_rate must be > 0"),
    ("branches", [*SWEEP, "--branches", "sideways"], None, "unknown solver.branches 'sideways'"),
    ("unknown-flag", [*SWEEP, "--bogus"], None, "unrecognized arguments: --bogus"),
    ("missing-config", ["sweep", "missing.toml"], None, "cannot read missing.toml"),
    ("config-folder", ["sweep", "adir"], _folder, "cannot read adir"),
    ("config-binary", ["sweep", "bad.toml", "-o", "out.h5"], _binary_config, "is not a UTF-8 text file"),
    ("set-damping", [*SWEEP, "--set", "solver.damping=1"], None, "solver.damping must be in [0, 1)"),
    ("set-tolerance", [*SWEEP, "--set", "solver.tolerance=0"], None, "solver.tolerance must be > 0"),
    ("set-unknown-section", [*SWEEP, "--set", "nosuch.key=1"], None, "--set: unknown key 'nosuch.key'"),
    ("set-typo", [*SWEEP, "--set", "model.temprature=1"], None, "--set: unknown key 'model.temprature'"),
    ("set-no-equals", [*SWEEP, "--set", "solver.damping"], None, "--set: expected KEY=VALUE"),
    ("set-no-key", [*SWEEP, "--set", "=1"], None, "--set: expected KEY=VALUE"),
    ("set-nodes0", [*SWEEP, "--set", "quadrature.teacher_nodes=0"], None, "quadrature.teacher_nodes must be in"),
    ("set-nodes-float", [*SWEEP, "--set", "quadrature.teacher_nodes=1e9"], None, "must be an integer"),
    ("set-nodes-huge", [*SWEEP, "--set", "quadrature.teacher_nodes=100000"], None, "must be in [1, 4096]"),
    ("set-rhat", [*SWEEP, "--set", "simulation.rhat_max=1"], None, "simulation.rhat_max must be > 1"),
    ("set-limit0", [*SWEEP, "--set", "limits.max_points=0"], None, "limits.max_points must be >= 1"),
    ("set-branch-list", [*SWEEP, "--set", "solver.branches=[1, 2]"], None, "takes one string, not a list"),
    ("out-folder", ["sweep", "-o", "."], None, "is a folder, not a file name"),
    ("out-no-folder", ["sweep", "-o", "nodir/out.h5"], None, "folder 'nodir' does not exist"),
    ("out-empty", ["sweep", "-o", ""], None, "output must be a non-empty string"),
    ("out-junk", [*SWEEP, "--method", "high_temperature", "--alpha", "1"], _junk, "not a readable HDF5 file"),
    ("out-foreign", [*SWEEP, "--method", "high_temperature", "--alpha", "1"], _foreign, "not a statmech_bn file"),
    ("out-damaged", ["info", "out.h5"], _damaged, "is damaged (root attribute"),
    ("out-other-config", [*SWEEP, "--method", "high_temperature", "--alpha", "2"], _sweep_file,
     "written by a different configuration"),
    ("out-other-kind", [*SWEEP], _decompose_file, "is a statmech_bn.decompose file, not a statmech_bn.sweep file"),
    ("force-junk", [*SWEEP, "--method", "high_temperature", "--alpha", "1", "--force"], _junk,
     "not a readable HDF5 file"),
    ("dry-run-bad", [*SWEEP, "--temperature", "-1", "--dry-run"], None, "model.temperature must be > 0"),
    # sweep: TOML
    ("toml-typo", ["sweep", "bad.toml"], _toml("[model]\ntemprature = 1.0\n"), "unknown key 'model.temprature'"),
    ("toml-top-unknown", ["sweep", "bad.toml"], _toml("colour = 'red'\n"), "unknown key 'colour'"),
    ("toml-invalid", ["sweep", "bad.toml"], _toml("[model\n"), "is not valid TOML"),
    ("toml-values-and-start", ["sweep", "bad.toml"], _toml("[alpha]\nvalues = [1.0]\nstart = 2.0\n"),
     "alpha.values cannot be combined with alpha.start"),
    ("toml-damping", ["sweep", "bad.toml"], _toml("[solver]\ndamping = 1.0\n"), "solver.damping must be in [0, 1)"),
    ("toml-branches", ["sweep", "bad.toml"], _toml("[solver]\nbranches = 'sideways'\n"), "solver.branches"),
    ("toml-nodes", ["sweep", "bad.toml"], _toml("[quadrature]\nteacher_nodes = 0\n"), "quadrature.teacher_nodes"),
    ("toml-t-word", ["sweep", "bad.toml"], _toml("[model]\ntemperature = 'hot'\n"), "must be a number"),
    ("toml-bn-sim-gibbs", ["sweep", "bad.toml"], _toml("[model]\nnormalizer = 'bn'\nmethod = 'sim_gibbs'\n"),
     "the real bn student is simulated by sim_sgd"),
    ("toml-sign-sim-erm", ["sweep", "bad.toml"], _toml("[model]\nactivation = 'sign'\nmethod = 'sim_erm'\n"),
     "not defined for activation 'sign'"),
    ("toml-size", ["sweep", "bad.toml"], _toml("[simulation]\nsize = 5\n"), "simulation.size must be >= 10"),
    ("toml-seeds", ["sweep", "bad.toml"], _toml("[simulation]\nseeds = 1\n"), "simulation.seeds must be in"),
    ("toml-rhat", ["sweep", "bad.toml"], _toml("[simulation]\nrhat_max = 1.0\n"), "simulation.rhat_max must be > 1"),
    ("toml-lr", ["sweep", "bad.toml"], _toml("[simulation]\nlearning_rate = -0.1\n"), "learning_rate must be > 0"),
    ("toml-unknown-sim", ["sweep", "bad.toml"], _toml("[simulation]\nsteps = 3\n"), "unknown key 'simulation.steps'"),
    ("toml-num-float", ["sweep", "bad.toml"], _toml("[alpha]\nnum = 2e12\n"), "alpha.num must be an integer"),
    ("toml-num-huge", ["sweep", "bad.toml"], _toml("[alpha]\nnum = 2000000000000\n"), "above limits.max_points"),
    ("toml-model-scalar", ["sweep", "bad.toml"], _toml("model = 3\n"), "'model' must be a table"),
    ("toml-subtable", ["sweep", "bad.toml"], _toml("[model.sub]\nx = 1\n"), "unknown table [model.sub]"),
    ("toml-unknown-table", ["sweep", "bad.toml"], _toml("[nosuch]\na = 1\n"), "unknown table [nosuch]"),
    ("toml-empty-list", ["sweep", "bad.toml"], _toml("[model]\nactivation = []\n"), "is an empty list"),
    ("toml-M-float", ["sweep", "bad.toml"], _toml("[model]\nbatch_size = [4.0]\n"), "write 4"),
    ("toml-spacing", ["sweep", "bad.toml"], _toml("[alpha]\nspacing = 'cubic'\n"), "unknown alpha.spacing"),
    ("toml-workers-float", ["sweep", "bad.toml"], _toml("[run]\nworkers = 1.5\n"), "run.workers must be an integer"),
    ("toml-nested-list", ["sweep", "bad.toml"], _toml("[model]\ntemperature = [[1.0]]\n"), "must be a number"),
    ("toml-limit0", ["sweep", "bad.toml"], _toml("[limits]\nmax_curves = 0\n"), "limits.max_curves must be >= 1"),
    ("toml-output-number", ["sweep", "bad.toml"], _toml("output = 5\n"), "output must be a non-empty string"),
    ("toml-values-empty", ["sweep", "bad.toml"], _toml("[alpha]\nvalues = []\n"), "alpha.values is an empty list"),
    ("toml-zeta-bool", ["sweep", "bad.toml"], _toml("[model]\nzeta = true\n"), "model.zeta must be a number"),
    ("toml-foreign-table", ["sweep", "bad.toml"], _toml("[thresholds]\nrtol = 1e-6\n"),
     "unknown table [thresholds]"),
    ("toml-workers-old-place", ["sweep", "bad.toml"], _toml("workers = 1\n"), "unknown key 'workers'"),
    # decompose
    ("dec-M1", [*DEC, "--batch-sizes", "1"], None, "batch.sizes must be >= 2"),
    ("dec-input", [*DEC, "--input", "cauchy"], None, "unknown model.input 'cauchy'"),
    ("dec-gamma0", [*DEC, "--gamma", "0"], None, "model.gamma must be > 0"),
    ("dec-sign", [*DEC, "--activation", "sign"], None, "unknown model.activation 'sign'"),
    ("dec-overlap", [*DEC, "--overlap", "1.5"], None, "model.overlap must be in [-1, 1]"),
    ("dec-samples0", [*DEC, "--samples", "0"], None, "batch.samples must be >= 1"),
    ("dec-samples-huge", [*DEC, "--samples", "1000000000000000"], None, "above limits.max_samples"),
    ("dec-M-huge", [*DEC, "--batch-sizes", "2000000000"], None, "above limits.max_samples"),
    ("dec-seed-neg", [*DEC, "--seed=-5"], None, "batch.seed must be in [0, "),
    ("dec-sizes-empty", ["decompose", "bad.toml", "-o", "out.h5"], _toml("[batch]\nsizes = []\n"),
     "batch.sizes is an empty list"),
    ("dec-beta-nan", [*DEC, "--beta", "nan"], None, "model.beta must be finite"),
    ("dec-noise-neg", [*DEC, "--noise=-0.1"], None, "model.noise must be >= 0"),
    ("dec-memory", [*DEC, "--batch-sizes", "500000000"], None, "above limits.max_memory_gb"),
    ("dec-unknown-key", ["decompose", "bad.toml", "-o", "out.h5"], _toml("[model]\nkappa = 3\n"),
     "unknown key 'model.kappa'"),
    # dynamics
    ("dyn-bn-M2", [*DYN, "--normalizer", "bn", "--batch-size", "2"], None, "bn needs model.batch_size >= 3"),
    ("dyn-bn-default-M", [*DYN, "--normalizer", "bn"], None, "add --batch-size"),
    ("dyn-pn_gd-zeta0", [*DYN, "--normalizer", "pn_gd"], None, "pn_gd at model.zeta = 0 has no gamma decay"),
    ("dyn-method", [*DYN, "--method", "replica"], None, "unknown model.method 'replica'"),
    ("dyn-lr-neg", [*DYN, "--learning-rate", "-1"], None, "model.learning_rate must be > 0"),
    ("dyn-lr-zero", [*DYN, "--learning-rate", "0"], None, "model.learning_rate must be > 0"),
    ("dyn-tmin", [*DYN, "--t-max", "0.001"], None, "time.t_min (0.01) must be < time.t_max"),
    ("dyn-tmax-huge", [*DYN, "--t-max", "1e12"], None, "above limits.max_time"),
    ("dyn-seeds", [*DYN, "--seeds", "1"], None, "simulation.seeds must be in [2, 100000]"),
    ("dyn-size-huge", [*DYN, "--method", "sim", "--size", "10000000000"], None, "above limits.max_steps"),
    ("dyn-size-memory", [*DYN, "--method", "sim", "--size", "1000000000", "--t-max", "0.02", "--set",
                         "time.t_min=0.001"], None, "above limits.max_memory_gb"),
    ("dyn-points", [*DYN, "--set", "time.points=1000000000"], None, "above limits.max_points"),
    ("dyn-rtol0", [*DYN, "--set", "thresholds.rtol=0"], None, "thresholds.rtol must be in"),
    ("dyn-r0", [*DYN, "--set", "initial.overlap=1"], None, "initial.overlap must be in (-1, 1)"),
    ("dyn-L0", [*DYN, "--set", "initial.norm=0"], None, "initial.norm must be > 0"),
    ("dyn-scan-neg", [*DYN, "--set", "thresholds.eta_scan=-1"], None, "thresholds.eta_scan must be > 0"),
    ("dyn-sign", [*DYN, "--activation", "sign"], None, "unknown model.activation 'sign'"),
    ("dyn-compute-word", [*DYN, "--set", "thresholds.compute=maybe"], None, "must be true or false"),
    ("dyn-scan-horizon", [*DYN, "--set", "thresholds.t_max=1e9"], None, "above limits.max_time"),
    ("dyn-M-huge", [*DYN, "--batch-size", "10000000"], None, "model.batch_size must be in [1, 1000000]"),
    ("dyn-trajectories", [*DYN, "--learning-rate", ",".join(str(0.001 * (k + 1)) for k in range(1200))], None,
     "above limits.max_curves"),
    # info, config, top level
    ("info-missing", ["info", "nope.h5"], None, "store: nope.h5 does not exist"),
    ("info-junk", ["info", "out.h5"], _junk, "not a readable HDF5 file"),
    ("info-foreign", ["info", "out.h5"], _foreign, "not a statmech_bn file"),
    ("info-folder", ["info", "adir"], _folder, "is a folder, not a file"),
    ("info-no-file", ["info"], None, "the following arguments are required: file"),
    ("config-show-unknown", ["config", "show", "nope"], None, "invalid choice: 'nope'"),
    ("config-show-bad", ["config", "show", "sweep", "--temperature", "-1"], None, "model.temperature must be > 0"),
    ("config-no-action", ["config"], None, "the following arguments are required"),
    ("config-table-unknown", ["config", "table", "nope"], None, "invalid choice: 'nope'"),
    ("plot-missing", ["plot", "nope.h5"], None, "store: nope.h5 does not exist"),
    ("plot-junk", ["plot", "out.h5"], _junk, "not a readable HDF5 file"),
    ("plot-extension", ["plot", "out.h5", "-o", "figure.jpg"], _sweep_file, "must end in one of .png, .pdf, .svg"),
    ("plot-folder", ["plot", "out.h5", "-o", "nodir/figure.png"], _sweep_file, "folder 'nodir' of"),
    ("reproduce-workers", ["reproduce", "--workers", "-1"], None, "reproduce: --workers must be >= 0"),
    ("reproduce-into-file", ["reproduce", "-o", "afile"], _plain_file, "reproduce: cannot create 'afile'"),
    ("no-command", [], None, "the following arguments are required"),
    ("unknown-command", ["train"], None, "invalid choice: 'train'"),
]


@pytest.mark.parametrize("args, setup, fragment", [case[1:] for case in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_gets_one_line_exit_2_and_leaves_no_file(tmp_path, capsys, args, setup, fragment):
    if setup is not None:
        setup(tmp_path)
    before = listing(tmp_path)
    capsys.readouterr()
    assert run(args, tmp_path) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("statmech_bn: error: ") and fragment in lines[0], lines[0]
    assert captured.out == ""
    assert listing(tmp_path) == before  # no file written or changed, no lock left


def test_the_table_of_bad_inputs_is_large_and_unique():
    assert len({case[0] for case in BAD_INPUTS}) == len(BAD_INPUTS) >= 115


def test_a_locked_output_is_refused_and_the_lock_is_not_ours_to_remove(tmp_path, capsys):
    from statmech_bn.store import CurveStore

    config = BUILDERS["sweep"](parse_toml(showcase_text("sweep"), "showcase"), {"output": "out.h5"})
    with CurveStore(str(tmp_path / "out.h5"), fingerprint=config.fingerprint, config_text="", resolved_config={},
                    command_line="test", format_name="statmech_bn.sweep") as store:
        assert run(["sweep", "-o", "out.h5"], tmp_path) == 2
        assert "being written by another run" in capsys.readouterr().err
        assert os.path.exists(store.lock_path)
    assert not os.path.exists(store.lock_path)  # the lock goes away with the run that held it


def test_a_stale_lock_of_a_killed_run_does_not_block_the_resume(tmp_path):
    (tmp_path / "out.h5.lock").write_text("")  # left by a run killed before it could clean up
    assert run(["sweep", "--method", "high_temperature", "--alpha", "1,2", "-o", "out.h5", "--quiet"], tmp_path) == 0
    assert sorted(os.listdir(tmp_path)) == ["out.h5"]


# -- defaults you can see ---------------------------------------------------------------------------------------
def test_flags_only_run_stores_the_documented_neutral_defaults(tmp_path):
    assert run(["sweep", "--activation", "sign", "--method", "gibbs", "--temperature", "0.05", "--alpha", "1,2",
                "-o", "sign.h5", "--quiet"], tmp_path) == 0
    attrs = read_root_attributes(str(tmp_path / "sign.h5"))
    resolved = json.loads(attrs["resolved_config"])
    schema = SCHEMAS["sweep"]
    for path, key in schema.keys.items():
        if path.startswith(("model.", "solver.", "quadrature.", "simulation.")) and path not in (
                "model.activation", "model.method", "model.temperature"):
            section, name = path.split(".")
            assert resolved[section][name] == key.check(key.default), path
    assert resolved["model"]["noise"] == [0.0] and resolved["model"]["zeta"] == [0.0]
    assert resolved["model"]["normalizer"] == ["pn"] and resolved["alpha"] == {"values": [1.0, 2.0]}
    (curve,) = read_curves(str(tmp_path / "sign.h5")).values()
    assert curve["attrs"]["noise"] == 0.0 and curve["attrs"]["zeta"] == 0.0


def test_no_config_and_no_model_flag_runs_the_showcase(tmp_path, capsys):
    assert run(["sweep", "--dry-run", "--workers", "1"], tmp_path) == 0
    out = capsys.readouterr().out
    assert "the embedded showcase" in out and "5 curves, 150 points" in out
    assert "zeta" in out and "noise 0.5" in out  # the showcase's physics is printed before anything runs
    assert os.listdir(tmp_path) == []


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path, capsys):
    for command in ("sweep", "decompose", "dynamics"):
        assert run([command, "--dry-run"], tmp_path) == 0
        out = capsys.readouterr().out
        assert "dry run: nothing written" in out and "to compute:" in out
        assert run([command, "--dry-run", "--json"], tmp_path) == 0
        plan = json.loads(capsys.readouterr().out)
        assert plan["command"] == command and plan["curves"] and plan["estimated_cpu_seconds"] > 0
    assert os.listdir(tmp_path) == []


def test_the_plan_names_what_tells_the_curves_apart(tmp_path, capsys):
    assert run(["sweep", "--normalizer", "pn_gd", "--zeta", "0.02,0.1", "--noise", "0.5", "--dry-run"],
               tmp_path) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.strip().startswith("curve"))
    assert "zeta" in header.split() and "noise 0.5" in out and "activation relu" in out


@pytest.mark.parametrize("command, flags", [
    ("sweep", []),
    ("sweep", ["--activation", "erf", "--normalizer", "pn_gd,none", "--zeta", "0.1", "--weight-decay", "0.5",
               "--alpha", "1:4:7:log", "--set", "solver.tolerance=1e-10", "--set", "quadrature.replica_nodes=48"]),
    ("sweep", ["--alpha", "1,3", "--method", "sim_sgd", "--size", "50", "--set", "simulation.max_epochs=7"]),
    ("decompose", []),
    ("decompose", ["--activation", "erf", "--batch-sizes", "4,8", "--samples", "5000"]),
    ("dynamics", []),
    ("dynamics", ["--normalizer", "bn", "--batch-size", "6", "--set", "thresholds.rtol=1e-4",
                  "--set", "thresholds.compute=false"]),
])
def test_config_show_reproduces_the_run(tmp_path, capsys, command, flags):
    """The printed TOML, fed back as the config, resolves to the same settings and fingerprint as the run itself."""
    assert run(["config", "show", command, *flags], tmp_path) == 0
    text = capsys.readouterr().out
    shown = re.search(r"config fingerprint: ([0-9a-f]{64})", text).group(1)
    assert run([command, *flags, "--dry-run", "--json"], tmp_path) == 0
    assert json.loads(capsys.readouterr().out)["config_fingerprint"] == shown
    again = BUILDERS[command](parse_toml(text, "shown"))
    assert again.fingerprint == shown
    for key in SCHEMAS[command].keys.values():  # every key is printed, with its help
        assert key.help in text
    (tmp_path / "shown.toml").write_text(text)
    assert run(["config", "show", command, "shown.toml"], tmp_path) == 0
    assert re.search(r"config fingerprint: ([0-9a-f]{64})", capsys.readouterr().out).group(1) == shown
    assert os.listdir(tmp_path) == ["shown.toml"]


def test_readme_config_tables_are_the_schema():
    text = README.read_text()
    for command, schema in SCHEMAS.items():
        start = text.index(f"<!-- config-table:{command} -->") + len(f"<!-- config-table:{command} -->\n")
        end = text.index(f"<!-- /config-table:{command} -->")
        assert text[start:end] == schema.markdown_table(), f"README table of {command} differs from the schema: " \
            f"regenerate it with `python -m statmech_bn config table {command}`"


def test_integer_keys_are_integers(tmp_path):
    config = BUILDERS["sweep"]({"model": {"batch_size": 8, "normalizer": "bn"}, "alpha": {"num": 3}})
    assert config.resolved["model"]["batch_size"] == [8] and isinstance(config.resolved["alpha"]["num"], int)
    assert config.curves[0].problem.batch_size == 8 and isinstance(config.curves[0].problem.batch_size, int)


def test_force_replaces_a_file_of_another_configuration(tmp_path, capsys):
    _sweep_file(tmp_path)
    args = ["sweep", "--method", "high_temperature", "--alpha", "2,3", "-o", "out.h5", "--quiet"]
    assert run(args, tmp_path) == 2
    capsys.readouterr()
    assert run([*args, "--force"], tmp_path) == 0
    (curve,) = read_curves(str(tmp_path / "out.h5")).values()
    assert curve["alpha"].tolist() == [2.0, 3.0]
    assert sorted(os.listdir(tmp_path)) == ["out.h5"]


def test_json_summary_of_a_run_and_of_info(tmp_path, capsys):
    assert run(["sweep", "--method", "high_temperature", "--alpha", "1,2", "-o", "out.h5", "--json"], tmp_path) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["written"] == {"000-relu-pn-high_temperature": 2}
    (curve,) = result["summary"]["curves"]
    assert curve["points"] == 2 and curve["converged"] == 2 and curve["attributes"]["normalizer"] == "pn"
    assert run(["info", "out.h5", "--json"], tmp_path) == 0
    assert json.loads(capsys.readouterr().out)["curves"] == result["summary"]["curves"]


# -- processes ---------------------------------------------------------------------------------------------------
SLOW_FLAGS = ["sweep", "--normalizer", "pn,wn,pn_gd", "--zeta", "0.1", "--noise", "0.5", "--temperature", "0.5",
              "--alpha", "0.5:20:300", "--branches", "forward", "--workers", "2", "-o", "slow.h5"]
"""About a minute of work on two workers, whose first points are stored within seconds."""


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        out += [int(c) for c in text]
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def _start_with_workers(tmp_path, flags):
    proc = subprocess.Popen([sys.executable, "-m", "statmech_bn", *flags], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    workers = []
    while time.time() < deadline:
        time.sleep(0.2)
        workers = [c for c in _children(proc.pid) if "statmech_bn" in Path(f"/proc/{c}/cmdline").read_text()
                   or "multiprocessing" in Path(f"/proc/{c}/cmdline").read_text()]
        if len(workers) >= 2 and (tmp_path / "slow.h5").exists():
            return proc, _children(proc.pid)
    proc.kill()
    raise AssertionError("the run never started its workers")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_die_within_two_seconds_of_a_sigkilled_parent(tmp_path):
    proc, children = _start_with_workers(tmp_path, SLOW_FLAGS)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    deadline = time.time() + 2.0
    while time.time() < deadline and any(_alive(c) for c in children):
        time.sleep(0.05)
    alive = [c for c in children if _alive(c)]
    for c in alive:  # do not leave them computing if the test fails
        os.kill(c, signal.SIGKILL)
    assert not alive, f"processes {alive} outlived their parent"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigterm_stops_like_ctrl_c_keeps_the_points_and_resumes(tmp_path):
    proc, children = _start_with_workers(tmp_path, [*SLOW_FLAGS, "--quiet"])
    deadline = time.time() + 120
    while time.time() < deadline:  # wait for a stored point
        time.sleep(0.2)
        try:
            if sum(int(c["attrs"]["n_points"]) for c in read_curves(str(tmp_path / "slow.h5")).values()) >= 1:
                break
        except Exception:  # the writer may be mid-append
            continue
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 143
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "stopped by SIGTERM" in lines[0] and "rerun the same command" in lines[0], err
    deadline = time.time() + 2.0
    while time.time() < deadline and any(_alive(c) for c in children):
        time.sleep(0.05)
    assert not any(_alive(c) for c in children)
    assert sorted(os.listdir(tmp_path)) == ["slow.h5"]  # no lock left behind
    stored = {n: int(c["attrs"]["n_points"]) for n, c in read_curves(str(tmp_path / "slow.h5")).items()}
    assert 0 < sum(stored.values()) < 900
    resumed = subprocess.run([sys.executable, "-m", "statmech_bn", *SLOW_FLAGS, "--dry-run"], cwd=tmp_path,
                             capture_output=True, text=True, timeout=120)  # the same command picks up from there
    assert f"exists: {sum(stored.values())} points stored, resumed" in resumed.stdout


def test_a_closed_pipe_ends_quietly(tmp_path):
    _sweep_file(tmp_path)
    result = subprocess.run(f"{sys.executable} -m statmech_bn info out.h5 | head -1", shell=True, cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.stdout.startswith("out.h5: statmech_bn") and len(result.stdout.splitlines()) == 1
    assert result.stderr == ""


def test_no_progress_bar_when_stderr_is_not_a_terminal(tmp_path):
    result = subprocess.run([sys.executable, "-m", "statmech_bn", "sweep", "--method", "high_temperature",
                             "--alpha", "1:2:4", "-o", "out.h5"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0 and result.stderr == ""
    assert "wrote out.h5" in result.stdout and "\r" not in result.stdout


def test_progress_eta_comes_from_the_work_done():
    from statmech_bn.drivers.loop import Progress

    now = [100.0]
    bar = Progress(total=11, done=0, remaining_cost=11.0, desc="t", enabled=False, clock=lambda: now[0])
    now[0] += 60.0  # start-up and compilation
    bar.advance(1.0)  # the first point does not set the rate
    assert bar.eta() is None
    now[0] += 10.0  # ten seconds later, two more points of cost 1 each: 0.2 cost units per second
    bar.advance(1.0)
    bar.advance(1.0)
    assert bar.eta() == pytest.approx(8.0 / 0.2)
    bar.close()


# -- seeds from physics -----------------------------------------------------------------------------------------
def _curve_where(path, **attrs):
    matches = [c for c in read_curves(str(path)).values()
               if all(c["attrs"].get(k) == v for k, v in attrs.items())]
    assert len(matches) == 1, attrs
    return matches[0]


def test_a_decompose_point_gives_the_same_numbers_alone_and_inside_a_grid(tmp_path):
    common = ["--samples", "20000", "--quiet", "--workers", "1"]
    assert run(["decompose", "--activation", "relu", "--input", "laplace", "--gamma", "1", "--batch-sizes", "8",
                *common, "-o", "alone.h5"], tmp_path) == 0
    assert run(["decompose", "--activation", "linear,relu", "--input", "gaussian,laplace", "--gamma", "0.5,1",
                "--batch-sizes", "4,8,16", *common, "-o", "grid.h5"], tmp_path) == 0
    alone = _curve_where(tmp_path / "alone.h5")
    inside = _curve_where(tmp_path / "grid.h5", activation="relu", input="laplace", gamma=1.0)
    k = inside["batch_size"].tolist().index(8)
    assert alone["seed"][0] == inside["seed"][k]
    assert alone["mc_gap"][0] == inside["mc_gap"][k] and alone["mc_gap_sem"][0] == inside["mc_gap_sem"][k]


def test_a_dynamics_curve_gives_the_same_numbers_alone_and_inside_a_grid(tmp_path):
    common = ["--method", "ode,sim", "--batch-size", "4", "--noise", "0.3", "--t-max", "1", "--size", "100",
              "--seeds", "2", "--set", "thresholds.compute=false", "--quiet"]
    assert run(["dynamics", "--normalizer", "bn", *common, "--workers", "1", "-o", "alone.h5"], tmp_path) == 0
    assert run(["dynamics", "--normalizer", "pn,bn", "--learning-rate", "1,0.5", *common, "--workers", "2",
                "-o", "grid.h5"], tmp_path) == 0
    for method in ("ode", "sim"):  # bn's ODE draws Monte-Carlo batches, its simulation draws seeds
        alone = _curve_where(tmp_path / "alone.h5", kind="trajectory", method=method)
        inside = _curve_where(tmp_path / "grid.h5", kind="trajectory", method=method, normalizer="bn",
                              learning_rate=0.5)
        assert alone["attrs"]["curve_seed"] == inside["attrs"]["curve_seed"]
        for field in ("R", "gamma", "eps_gen"):
            np.testing.assert_array_equal(alone[field], inside[field])


def test_dynamics_tables_take_their_seeds_from_physics():
    """bn's maximal rates and stationary branches are deterministic given their seeds (tests/test_dynamics.py): a
    point's seed is the same alone and inside a grid of other batch sizes, normalizers and rates."""
    from statmech_bn.drivers.dynamics import plans

    def seeds(overrides):
        config = BUILDERS["dynamics"]({}, overrides)
        out = {}
        for plan in plans(config):
            if plan.kind in ("thresholds", "stationary"):
                for task in plan.tasks(0, None):
                    key = (plan.kind, plan.parameters["normalizer"], task.problem.batch_size)
                    out[key] = getattr(task, "seed", None) or task.seeds
        return out

    alone = seeds({"model.normalizer": ["bn"], "model.batch_size": [4]})
    grid = seeds({"model.normalizer": ["pn", "bn", "none"], "model.batch_size": [8, 4, 16],
                  "model.learning_rate": [0.5, 2.0], "model.method": ["ode", "sim"]})
    assert alone and all(grid[key] == value for key, value in alone.items())


# -- every flag and every key, fed values they should refuse or accept -----------------------------------------
ODD_VALUES = ["", " ", "-", "--", "0", "-0", "-1", "1e999", "-1e999", "nan", "inf", "1e-320", "0x10", "1_000",
              "true", "[1]", "[]", "1,,2", ",", "abc", "1;2", "1 2", "\u00fc", "9" * 40, "2.5", "1e3", "-1,2",
              "1:2:3", "[1, 'a']", "{a = 1}"]
ODD_TOML = ["'x'", "true", "[]", "[[1]]", "-1", "0", "nan", "inf", "-inf", "{ a = 1 }", "2.5", "1e3",
            "99999999999999999999", "[1, 'a']", "''", "1979-05-27"]


def _sweep_of_inputs():
    cases = []
    for command, schema in SCHEMAS.items():
        flags = [k.flag for k in schema.keys.values() if k.flag and k.kind is not bool]
        flags += ["--alpha"] if command == "sweep" else []
        for flag in flags:
            cases += [[command, f"{flag}={value}"] for value in ODD_VALUES]
        for path in schema.keys:
            cases += [[command, "--set", f"{path}={value}"] for value in ODD_VALUES]
            section, _, name = path.rpartition(".")
            for value in ODD_TOML:
                text = f"{name} = {value}\n" if not section else f"[{section}]\n{name} = {value}\n"
                cases.append((command, text))
    return cases


def test_no_input_escapes(tmp_path, capsys):
    """Every flag and every key of every command, given odd values, either passes (a plan, exit 0) or is refused
    with one line and exit 2; never a traceback, never a file. Run with --dry-run so that nothing is computed."""
    outcomes = {"accepted": 0, "refused": 0}
    escapes = []
    for case in _sweep_of_inputs():
        if isinstance(case, tuple):
            command, text = case
            (tmp_path / "odd.toml").write_text(text)
            args = [command, "odd.toml", "--dry-run", "--quiet"]
        else:
            args = [*case, "--dry-run", "--quiet"]
        try:
            code = run(args, tmp_path)
        except BaseException as exc:  # noqa: BLE001 (what escapes is the finding)
            escapes.append((args, repr(exc)))
            continue
        err = capsys.readouterr().err.strip().splitlines()
        if code == 0 and not err:
            outcomes["accepted"] += 1
        elif code == 2 and len(err) == 1 and err[0].startswith("statmech_bn: error: "):
            outcomes["refused"] += 1
        else:
            escapes.append((args, code, err))
        if sorted(os.listdir(tmp_path)) not in ([], ["odd.toml"]):
            escapes.append((args, "left", os.listdir(tmp_path)))
    print(outcomes)
    assert not escapes, escapes[:5]
    assert outcomes["refused"] > 1000


STARTUP_CASES = [
    (["--help"], ()),
    (["sweep", "--help"], ()),
    (["info", "{file}"], ("h5py",)),
    (["sweep", "--temperature", "-1", "-o", "{tmp}/x.h5"], ("h5py", "tqdm")),
    (["dynamics", "--t-max", "-1"], ("h5py", "tqdm")),
    (["decompose", "--batch-sizes", "1"], ("h5py", "tqdm")),
    (["config", "show", "dynamics"], ()),
    (["sweep", "--alpha", "1", "--method", "erm", "--activation", "linear", "-o", "{tmp}/one.h5", "--quiet"], None),
]
"""What each command may load: the help, ``info``, a refused config and ``config show`` never load Numba or SciPy
(the compiler and its cache take 0.3-0.5 s to load), and a theory run never loads SciPy's optimizer. ``None``:
anything but scipy.optimize."""


@pytest.mark.parametrize("args,allowed", STARTUP_CASES)
def test_start_up_loads_only_what_the_command_needs(tmp_path, args, allowed):
    folder = tmp_path / "f"
    folder.mkdir()
    assert main(["sweep", "--alpha", "1", "--method", "high_temperature", "-o", str(folder / "s.h5"), "--quiet"]) == 0
    argv = [a.format(file=folder / "s.h5", tmp=tmp_path) for a in args]
    heavy = ("numba", "scipy", "scipy.optimize", "h5py", "tqdm", "matplotlib", "xarray", "pandas")
    code = ("import sys, json; from statmech_bn.__main__ import run\n"
            "sys.argv = ['statmech_bn', *json.loads(sys.argv[1])]\n"
            "try:\n    run()\nexcept SystemExit:\n    pass\n"
            f"print(json.dumps([m for m in {heavy!r} if m in sys.modules]))")
    result = subprocess.run([sys.executable, "-c", code, json.dumps(argv)], capture_output=True, text=True, timeout=120)
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    if allowed is None:
        assert "scipy.optimize" not in loaded and "numba" in loaded, loaded
    else:
        assert set(loaded) <= set(allowed), loaded
