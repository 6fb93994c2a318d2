"""Executors behind one seam (issue #14): the local pool, a Dask LocalCluster and a real Dask scheduler with its
workers give the same file, bit for bit, also when a worker is killed mid-run; a lost scheduler stops the run with
one line and the same command resumes. Everything runs on localhost."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from statmech_bn.cli import main
from statmech_bn.store import read_curves

pytest.importorskip("distributed")

SWEEP = ["sweep", "--normalizer", "pn_gd,none", "--zeta", "0.1", "--weight-decay", "0.5", "--method",
         "gibbs,sim_sgd", "--temperature", "0.5", "--noise", "0.3", "--alpha", "1:3:4", "--size", "60", "--seeds", "3",
         "--batch-size", "4", "--quiet"]
"""Theory curves with both continuation branches (two tasks each, merged by the parent) and simulations (a task per
seed): every kind of task and merge of the sweep."""
MANY_TASKS = ["sweep", "--normalizer", "pn_gd,none", "--zeta", "0.1", "--weight-decay", "0.5", "--method", "sim_sgd",
              "--noise", "0.3", "--alpha", "1:4:6", "--size", "120", "--seeds", "4", "--batch-size", "4", "--quiet"]
"""48 simulation tasks of a fraction of a second: enough to kill a worker in the middle."""


def same_file(a, b):
    first, second = read_curves(str(a)), read_curves(str(b))
    assert sorted(first) == sorted(second)
    for name, curve in first.items():
        for field, values in curve.items():
            if field != "attrs":
                np.testing.assert_array_equal(values, second[name][field], err_msg=f"{name}/{field}")


@pytest.fixture(scope="module")
def local_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("local")
    assert main([*SWEEP, "-o", str(folder / "local.h5"), "--workers", "2"]) == 0
    return folder / "local.h5"


def test_a_local_cluster_gives_the_local_executors_file(tmp_path, local_file):
    assert main([*SWEEP, "-o", str(tmp_path / "dask.h5"), "--workers", "2", "--executor", "dask"]) == 0
    same_file(local_file, tmp_path / "dask.h5")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(cmd, log: Path, env=None):
    with log.open("w") as handle:  # the child keeps its own descriptor
        return subprocess.Popen(cmd, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True, env=env)


def _scheduler(port: int, folder: Path):
    process = _start([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port",
                      str(port), "--no-dashboard"], folder / f"scheduler-{port}.log")
    _wait_for_port(port)
    return process


def _worker(port: int, folder: Path, name: str, env=None):
    """A worker without a nanny (killing it kills the worker itself), with this process's environment (one BLAS
    thread: tests/conftest.py) unless ``env`` is given."""
    return _start([sys.executable, "-m", "distributed.cli.dask_worker", f"tcp://127.0.0.1:{port}", "--nthreads", "1",
                   "--no-nanny", "--no-dashboard", "--name", name], folder / f"{name}.log", env)


def _wait_for_workers(port: int, count: int, timeout: float = 60.0) -> None:
    import distributed

    with distributed.Client(f"tcp://127.0.0.1:{port}", timeout="20s") as client:
        client.wait_for_workers(count, timeout=timeout)


def _wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port}")


def _stop(*processes):
    for p in processes:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
        p.wait()


def _points(path: Path) -> int:
    try:
        return sum(int(c["attrs"]["n_points"]) for c in read_curves(str(path)).values())
    except Exception:  # not there yet, or mid-append
        return 0


def _run(args, cwd: Path):
    return subprocess.Popen([sys.executable, "-m", "statmech_bn", *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_a_real_scheduler_survives_a_killed_worker_and_gives_the_local_file(tmp_path):
    assert main([*MANY_TASKS, "-o", str(tmp_path / "local.h5"), "--workers", "2"]) == 0
    port = _free_port()
    scheduler = _scheduler(port, tmp_path)
    first, second = _worker(port, tmp_path, "first"), _worker(port, tmp_path, "second")
    try:
        run = _run([*MANY_TASKS, "-o", "remote.h5", "--executor", "dask", "--scheduler",
                    f"tcp://127.0.0.1:{port}"], tmp_path)
        deadline = time.time() + 120
        while time.time() < deadline and _points(tmp_path / "remote.h5") < 2 and run.poll() is None:
            time.sleep(0.05)
        assert run.poll() is None, "the run ended before a worker could be killed"
        os.killpg(first.pid, signal.SIGKILL)  # mid-run: its tasks go to the other worker
        out, err = run.communicate(timeout=300)
        assert run.returncode == 0, err
    finally:
        _stop(first, second, scheduler)
    same_file(tmp_path / "local.h5", tmp_path / "remote.h5")


def test_a_lost_scheduler_stops_with_one_line_and_the_same_command_resumes(tmp_path):
    assert main([*MANY_TASKS, "-o", str(tmp_path / "local.h5"), "--workers", "2"]) == 0
    port = _free_port()
    scheduler = _scheduler(port, tmp_path)
    worker = _worker(port, tmp_path, "only")
    command = [*MANY_TASKS, "-o", "remote.h5", "--executor", "dask", "--scheduler", f"tcp://127.0.0.1:{port}"]
    try:
        run = _run(command, tmp_path)
        deadline = time.time() + 120
        while time.time() < deadline and _points(tmp_path / "remote.h5") < 2 and run.poll() is None:
            time.sleep(0.05)
        _stop(scheduler)
        out, err = run.communicate(timeout=120)
        assert run.returncode == 75
        lines = err.strip().splitlines()
        assert len(lines) == 1 and "the Dask scheduler was lost" in lines[0] and "rerun the same command" in lines[0]
        stored = _points(tmp_path / "remote.h5")
        assert 0 < stored < 24 and not (tmp_path / "remote.h5.lock").exists()
        scheduler = _scheduler(port, tmp_path)  # the cluster is back: the same command resumes
        _stop(worker)
        worker = _worker(port, tmp_path, "again")
        again = _run(command, tmp_path)
        out, err = again.communicate(timeout=300)
        assert again.returncode == 0, err
    finally:
        _stop(worker, scheduler)
    same_file(tmp_path / "local.h5", tmp_path / "remote.h5")


def _environment_without_blas_threads() -> dict[str, str]:
    return {k: v for k, v in os.environ.items()
            if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "GOTO_NUM_THREADS")}


def test_the_command_line_gives_a_dask_clusters_bits_where_blas_would_thread(tmp_path):
    """N = 1000, P = 1000: products large enough for a threaded BLAS to split (and sum in another order) on this
    machine. The command line pins one BLAS thread itself (the environment here sets none), as a Dask nanny does
    for its worker, so the one-process run and the cluster's agree bit for bit."""
    command = [sys.executable, "-m", "statmech_bn", "sweep", "--normalizer", "pn_gd", "--zeta", "0.1", "--noise",
               "0.5", "--method", "sim_sgd", "--alpha", "0.5,1", "--size", "1000", "--seeds", "2", "--quiet"]
    env = _environment_without_blas_threads()
    subprocess.run([*command, "-o", "one.h5", "--workers", "1"], cwd=tmp_path, env=env, check=True)
    subprocess.run([*command, "-o", "dask.h5", "--workers", "2", "--executor", "dask"], cwd=tmp_path, env=env,
                   check=True)
    same_file(tmp_path / "one.h5", tmp_path / "dask.h5")


def test_a_worker_with_threaded_blas_is_refused_before_any_file_exists(tmp_path):
    """Its dot products would be summed in another order than the local executor's: not bit for bit."""
    port = _free_port()
    scheduler = _scheduler(port, tmp_path)
    worker = _worker(port, tmp_path, "threaded", {**_environment_without_blas_threads(), "OPENBLAS_NUM_THREADS": "2"})
    try:
        _wait_for_workers(port, 1)
        run = _run([*SWEEP, "-o", "x.h5", "--executor", "dask", "--scheduler", f"tcp://127.0.0.1:{port}"], tmp_path)
        out, err = run.communicate(timeout=120)
    finally:
        _stop(worker, scheduler)
    assert run.returncode == 75
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "run BLAS on several threads" in lines[0] and "OPENBLAS_NUM_THREADS=1" in lines[0]
    assert not (tmp_path / "x.h5").exists()


def test_an_unreachable_scheduler_is_named_before_any_file_exists(tmp_path, capsys):
    assert main([*SWEEP, "-o", str(tmp_path / "x.h5"), "--executor", "dask", "--scheduler",
                 f"tcp://127.0.0.1:{_free_port()}"]) == 75
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot reach the Dask scheduler" in err[0]
    assert os.listdir(tmp_path) == []


def test_without_the_dask_extra_one_line_names_the_install(tmp_path, capsys, monkeypatch):
    import importlib

    real = importlib.import_module

    def without_dask(name, *args):
        if name.split(".")[0] in ("dask", "distributed"):
            raise ImportError(name)
        return real(name, *args)

    monkeypatch.setattr("statmech_bn.extras.importlib.import_module", without_dask)
    assert main([*SWEEP, "-o", str(tmp_path / "x.h5"), "--executor", "dask"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install 'statmech_bn[dask]'" in err[0]
    assert os.listdir(tmp_path) == []


def _kernel_compilations() -> dict[str, int]:
    """Numba kernels this process loaded from the cache and compiled, summed over every kernel module."""
    import importlib
    import pkgutil

    from numba.core.registry import CPUDispatcher

    import statmech_bn.kernels as kernels

    counts = {"loaded": 0, "compiled": 0}
    for info in pkgutil.iter_modules(kernels.__path__):
        module = importlib.import_module(f"statmech_bn.kernels.{info.name}")
        for value in vars(module).values():
            if isinstance(value, CPUDispatcher):
                counts["loaded"] += sum(value.stats.cache_hits.values())
                counts["compiled"] += sum(value.stats.cache_misses.values())
    return counts


def _a_run_then_counts(folder: str) -> dict[str, int]:
    """A small sweep (theory and simulation points) run inside this worker, then its kernel counts."""
    output = os.path.join(folder, f"worker-{os.getpid()}.h5")
    assert main([*SWEEP, "-o", output, "--workers", "1"]) == 0
    return _kernel_compilations()


def test_the_numba_cache_works_on_dask_workers(tmp_path):
    """A worker started after the kernels were compiled once loads them from the cache: no compilation per task or
    per worker (issue #14)."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0") as first:
        with distributed.Client(first) as client:
            client.submit(_a_run_then_counts, str(tmp_path), pure=False).result()  # compiles what is not cached
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0") as fresh:
        with distributed.Client(fresh) as client:
            counts = client.submit(_a_run_then_counts, str(tmp_path), pure=False).result()
    assert counts["loaded"] > 0 and counts["compiled"] == 0, counts


class NumbaThreadsTask:
    """Emits the number of threads the kernels' parallel loops get where the task runs."""

    def run(self, emit):
        import numba

        emit("threads", 0, numba.get_num_threads())


def test_pool_and_dask_workers_run_kernels_on_one_thread_each():
    """The workers fill the cores; threads inside them would oversubscribe (default dynamics 37 s -> 22 s)."""
    from statmech_bn.executors import DaskExecutor, ProcessExecutor

    for executor in (ProcessExecutor(2), DaskExecutor(1, None)):
        seen: list[int] = []
        executor.run([NumbaThreadsTask(), NumbaThreadsTask()], lambda *args, out=seen: out.append(args[2]))
        assert seen == [1, 1], (type(executor).__name__, seen)


class CrashingTask:
    """Ends its worker process without a Python exception, as a crash in compiled code does."""

    def run(self, emit):
        os._exit(134)


def test_a_dead_worker_is_named_in_one_line_and_the_exit_is_non_zero(tmp_path, capsys, monkeypatch):
    """A worker that dies (heap corruption in a kernel aborted one: exit code -6) gives WorkerDied, and the command
    line one line naming it, exit code 70, no traceback."""
    from statmech_bn import cli
    from statmech_bn.executors import ProcessExecutor, WorkerDied

    with pytest.raises(WorkerDied, match="died"):
        ProcessExecutor(1).run([CrashingTask()], lambda *args: None)

    def crash(args, console):
        raise WorkerDied("worker statmech_bn-worker-0 died (exit code -6)")

    monkeypatch.setattr(cli, "_compute", crash)
    assert cli.main(["sweep", "--alpha", "2", "-o", str(tmp_path / "x.h5")]) == cli.EXIT_SOFTWARE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "died (exit code -6)" in err and "Traceback" not in err
