"""Looking at results: netCDF-compatible files, load and load_table, the standard figures (issue #13).

Every file kind is written once (small runs); xarray (h5netcdf engine) and netCDF4 must open each with its
coordinates, units and no phony dimensions; load and the tidy table must round-trip the stored values; each figure
is checked by its content (artists, error bars, axis labels, left-out points), not by its pixels.
"""

import json
import os
import subprocess
import sys

import h5py
import netCDF4
import numpy as np
import pytest
import xarray as xr

import statmech_bn
from statmech_bn.analysis import plot as plots
from statmech_bn.cli import main
from statmech_bn.records import KIND_AXES, SEED_DIMENSION
from statmech_bn.store import read_curves

SWEEP = ["sweep", "--activation", "relu", "--normalizer", "pn,pn_gd", "--zeta", "0.1", "--method",
         "erm,high_temperature,sim_sgd", "--temperature", "0.5", "--noise", "0.3", "--batch-size", "4", "--alpha",
         "1,6", "--size", "40", "--seeds", "2", "--set", "simulation.max_epochs=20"]
"""relu pn ERM at alpha = 1 has no converged RS solution (its gain runs away): a non-converged point to leave out."""
DECOMPOSE = ["decompose", "--activation", "linear,relu", "--input", "gaussian,laplace", "--batch-sizes", "4,16,64",
             "--samples", "20000"]
DYNAMICS = ["dynamics", "--activation", "linear", "--normalizer", "pn,none", "--method", "ode,sim", "--batch-size",
            "2,4", "--noise", "0.2", "--t-max", "2", "--size", "50", "--seeds", "2", "--set", "thresholds.eta_scan=1,2",
            "--set", "thresholds.rtol=1e-4"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("kinds")
    out = {}
    for kind, args in (("sweep", SWEEP), ("decompose", DECOMPOSE), ("dynamics", DYNAMICS)):
        path = str(folder / f"{kind}.h5")
        assert main([*args, "-o", path, "--quiet", "--workers", "1"]) == 0
        out[kind] = path
    return out


@pytest.mark.parametrize("kind", ["sweep", "decompose", "dynamics"])
def test_xarray_opens_every_file_kind_with_its_coordinates_and_units(files, kind):
    stored = read_curves(files[kind])  # before xarray holds the file open (HDF5 refuses mixed locking flags)
    tree = xr.open_datatree(files[kind], engine="h5netcdf")
    assert set(tree["curves"].children) == set(stored)
    for name, node in tree["curves"].children.items():
        ds = node.to_dataset()
        axis = KIND_AXES[stored[name]["attrs"]["kind"]]
        assert not any(str(d).startswith("phony_dim") for d in ds.dims), (name, ds.dims)
        assert axis in ds.coords and ds[axis].dims == (axis,)
        per_seed = [v for v in ds.data_vars if ds[v].ndim == 2]
        if per_seed:
            assert SEED_DIMENSION in ds.coords and all(ds[v].dims == (axis, SEED_DIMENSION) for v in per_seed)
        for variable in [*ds.data_vars, axis]:
            assert ds[variable].attrs["units"] and ds[variable].attrs["long_name"], (name, variable)
        if "eps_gen" in ds:
            assert "generalization" in ds["eps_gen"].attrs["long_name"] and ds["eps_gen"].attrs["description"]
    tree.close()


@pytest.mark.parametrize("kind", ["sweep", "decompose", "dynamics"])
def test_netcdf4_opens_every_file_kind(files, kind):
    stored = read_curves(files[kind])
    with netCDF4.Dataset(files[kind]) as f:
        for name, group in f["curves"].groups.items():
            axis = KIND_AXES[stored[name]["attrs"]["kind"]]
            assert axis in group.dimensions and group.variables[axis].dimensions == (axis,)
            for variable in group.variables.values():
                assert "units" in variable.ncattrs()
                if variable.name != SEED_DIMENSION:
                    assert variable.dimensions[0] == axis


@pytest.mark.parametrize("kind", ["sweep", "decompose", "dynamics"])
def test_no_name_is_both_a_curve_attribute_and_a_dataset(files, kind):
    with h5py.File(files[kind], "r") as f:
        for name, group in f["curves"].items():
            assert not set(group.attrs) & set(group), (name, set(group.attrs) & set(group))


def test_load_returns_the_stored_values_with_a_mask_and_parameters(files):
    tree = statmech_bn.load(files["sweep"])
    stored = read_curves(files["sweep"])
    assert tree.attrs["format"] == "statmech_bn.sweep"
    for name, curve in stored.items():
        ds = tree[f"curves/{name}"].to_dataset()
        assert ds["converged"].dtype == bool
        for field, values in curve.items():
            if field != "attrs":
                np.testing.assert_array_equal(ds[field].values, values)
        assert ds.attrs["activation"] == "relu" and ds.attrs["kind"] == curve["attrs"]["kind"]
    erm = tree["curves/000-relu-pn-erm"].to_dataset()
    assert not bool(erm["converged"].sel(alpha=1.0)) and bool(erm["converged"].sel(alpha=6.0))


def test_the_tidy_table_has_a_row_per_point_and_the_parameters_as_columns(files):
    table = statmech_bn.load_table(files["sweep"])
    stored = read_curves(files["sweep"])
    assert len(table) == sum(int(c["attrs"]["n_points"]) for c in stored.values())
    for column in ("curve", "kind", "activation", "normalizer", "method", "noise", "alpha", "eps_gen", "converged"):
        assert column in table.columns
    sim = table[table["method"] == "sim_sgd"]
    assert set(sim["M"]) == {4} and set(sim["N"]) == {40} and set(table[table["method"] == "erm"]["T"].isna()) == {
        True}
    row = table[(table["normalizer"] == "pn_gd") & (table["method"] == "erm") & (table["alpha"] == 6.0)].iloc[0]
    assert row["eps_gen"] == stored[row["curve"]]["eps_gen"][1] and row["zeta"] == 0.1
    dynamics = statmech_bn.load_table(files["dynamics"])
    assert {"trajectory", "thresholds", "eta_scan"} <= set(dynamics["kind"]) and "t" in dynamics.columns


def _version_1_file(path):
    """A file as statmech_bn wrote format version 1: no dimension scales, definitions as curve attributes, n_alpha,
    the theory's zeta under the name of the parameter."""
    with h5py.File(path, "w") as f:
        for key, value in {"format": "statmech_bn.sweep", "format_version": 1, "package_version": "0.1.0",
                           "config": "", "resolved_config": json.dumps({}), "config_fingerprint": "x",
                           "command_line": "old", "created": "2026-11-26T00:00:00+00:00"}.items():
            f.attrs[key] = value
        g = f.create_group("curves").create_group("000-relu-pn_gd-gibbs")
        for key, value in {"activation": "relu", "normalizer": "pn_gd", "method": "gibbs", "kind": "theory",
                           "temperature": 0.5, "zeta": 0.1, "weight_decay": 0.0, "noise": 0.5, "batch_size": 0,
                           "input": "gaussian", "free_energy_definition": "f = -T Phi", "n_points": 2,
                           "n_alpha": 2, "complete": True}.items():
            g.attrs[key] = value
        for field, values in {"alpha": [1.0, 2.0], "eps_gen": [0.2, 0.15], "eps_train": [0.1, 0.1], "R": [0.5, 0.7],
                              "q": [0.3, 0.5], "L": [np.nan, np.nan], "gamma": [0.8, 0.9], "beta": [0.1, 0.1],
                              "chi": [1.0, 1.0], "zeta": [0.1, 0.1], "free_energy": [0.3, 0.2],
                              "residual": [1e-10, 1e-10]}.items():
            g[field] = np.array(values)
        g["iterations"] = np.array([10, 12])
        g["branch"] = np.array([0, 0])
        g["converged"] = np.array([True, False])


def test_format_version_1_stays_readable_by_info_load_and_plot(tmp_path, capsys):
    path = str(tmp_path / "old.h5")
    _version_1_file(path)
    assert main(["info", path]) == 0
    assert "000-relu-pn_gd-gibbs [theory: activation relu, normalizer pn_gd" in capsys.readouterr().out
    ds = statmech_bn.load(path)["curves/000-relu-pn_gd-gibbs"].to_dataset()
    assert ds["zeta_in_force"].values.tolist() == [0.1, 0.1] and ds["free_energy"].attrs["description"] == "f = -T Phi"
    figure = plots.figure(path)
    (line,) = [a for a in figure.axes[0].lines if (a.get_gid() or "").startswith("theory:")]
    assert np.isnan(line.get_ydata()[1])  # the non-converged point is left out
    assert main(["plot", path, "-o", str(tmp_path / "old.svg")]) == 0 and (tmp_path / "old.svg").exists()


def _gids(ax, prefix):
    return [a.get_gid() for a in ax.lines if (a.get_gid() or "").startswith(prefix)]


def test_sweep_figure_shows_theory_lines_simulation_error_bars_and_leaves_out_non_converged(files):
    figure = plots.figure(files["sweep"])
    eps, train, overlap = figure.axes[:3]
    stored = read_curves(files["sweep"])
    theory = [n for n, c in stored.items() if c["attrs"]["kind"] == "theory"]
    simulations = [n for n, c in stored.items() if c["attrs"]["kind"] == "simulation"]
    assert sorted(_gids(eps, "theory:")) == sorted(f"theory:{n}" for n in theory)
    assert len(eps.containers) == len(simulations)  # one error-bar container per simulation curve
    assert eps.get_xlabel() == "load α = P/N" and "ε_g" in eps.get_ylabel() and "R" in overlap.get_ylabel()
    assert "ε_t" in train.get_ylabel()
    (erm,) = [a for a in eps.lines if a.get_gid() == "theory:000-relu-pn-erm"]
    assert np.isnan(erm.get_ydata()[0]) and np.isfinite(erm.get_ydata()[1])  # alpha = 1 did not converge
    notes = [a.get_label() for a in eps.lines if a.get_gid() == "note"]
    bad = sum(int(np.sum(~c["converged"])) for c in stored.values())
    assert notes == [f"{bad} non-converged point{'s' * (bad != 1)} left out"]


def test_decompose_figure_has_the_gap_against_m_on_log_axes(files):
    figure = plots.figure(files["decompose"])
    stored = read_curves(files["decompose"])
    for ax in figure.axes:
        activation = ax.get_title()
        names = [n for n, c in stored.items() if c["attrs"]["activation"] == activation]
        assert len(names) == 2 and ax.get_xscale() == "log" and ax.get_yscale() == "log"
        assert len(ax.containers) == len(names)
        assert len(_gids(ax, "zeta_gamma2:")) == len(names) == len(_gids(ax, "analytic:"))
        assert ax.get_xlabel() == "batch size M" and "gap" in ax.get_ylabel()


def test_dynamics_figure_has_trajectories_scans_and_maximal_rates(files):
    figure = plots.figure(files["dynamics"])
    eps, eta_eff, scan, limit = figure.axes[:4]
    stored = read_curves(files["dynamics"])
    odes = [n for n, c in stored.items() if c["attrs"]["kind"] == "trajectory" and c["attrs"]["method"] == "ode"]
    sims = [n for n, c in stored.items() if c["attrs"]["kind"] == "trajectory" and c["attrs"]["method"] == "sim"]
    assert len(_gids(eps, "ode:")) == len(odes) and len(eps.containers) == len(sims)
    assert len(_gids(eta_eff, "ode:")) == len(odes) and eps.get_xscale() == "log"
    assert len(_gids(scan, "scan:")) == sum(c["attrs"]["kind"] == "eta_scan" for c in stored.values())
    assert len(_gids(limit, "limit:")) == 2 and limit.get_xlabel() == "batch size M"
    none = next(a for a in limit.lines if a.get_gid() == "limit:thresholds-linear-none")
    np.testing.assert_allclose(none.get_ydata(), [4.0, 8.0], rtol=1e-4)  # 2M, the closed form


def test_plot_command_writes_png_pdf_svg_and_refuses_other_names(files, tmp_path, capsys):
    for suffix in ("png", "pdf", "svg"):
        target = tmp_path / f"figure.{suffix}"
        assert main(["plot", files["sweep"], "-o", str(target)]) == 0 and target.stat().st_size > 1000
    capsys.readouterr()
    assert main(["plot", files["sweep"], "-o", str(tmp_path / "figure.jpg")]) == 2
    assert "must end in one of .png, .pdf, .svg" in capsys.readouterr().err


def test_a_missing_extra_is_named_in_one_line(files, tmp_path, capsys, monkeypatch):
    import importlib

    real = importlib.import_module

    def without_matplotlib(name, *args):
        if name.startswith("matplotlib"):
            raise ImportError(name)
        return real(name, *args)

    monkeypatch.setattr("statmech_bn.extras.importlib.import_module", without_matplotlib)
    assert main(["plot", files["sweep"], "-o", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install 'statmech_bn[analysis]'" in err[0]
    assert not (tmp_path / "x.png").exists()


def test_the_core_commands_import_no_analysis_package(files):
    code = ("import sys; from statmech_bn.cli import main; main(['info', sys.argv[1]]); "
            "bad = [m for m in ('xarray', 'pandas', 'matplotlib', 'h5netcdf') if m in sys.modules]; "
            "assert not bad, bad")
    result = subprocess.run([sys.executable, "-c", code, files["sweep"]], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert os.path.exists(files["sweep"])


@pytest.mark.slow
def test_reproduce_quick_judges_every_claim(tmp_path):
    """The quick reproduction: five rows, each with a verdict; the claims that hold in the full run hold here too
    (measured: (a) O(1/M) and kurtosis, (b), (d) hold; the gamma decay alone is corrected by the first-order term;
    real bn's SGD departs from its theory by up to 26 %, issue #16)."""
    from statmech_bn.analysis import reproduce

    report = reproduce.run(str(tmp_path / "repro"), quick=True, workers=2, say=lambda line: None)
    with open(report, encoding="utf-8") as handle:
        rows = [line for line in handle if line.startswith("| (")]
    verdicts = [row.rsplit("**", 2)[1] for row in rows]
    assert verdicts[0] == reproduce.HOLDS and verdicts[1] == reproduce.CORRECTED
    assert verdicts[2] == reproduce.HOLDS and verdicts[4] == reproduce.HOLDS
    assert verdicts[3] in (reproduce.HOLDS, reproduce.CORRECTED)
    for stem, _ in reproduce.RUNS:
        assert (tmp_path / "repro" / f"{stem}.png").stat().st_size > 1000
