"""Executors: who computes the tasks of a run.

The driver's loop (:mod:`statmech_bn.drivers.loop`) hands an executor a list of independent tasks and an ``emit``
callback; a task is a picklable object whose ``run(emit)`` calls ``emit(curve, index, record)`` for every point
it finishes (``emit(curve, index, payload, part)`` when a point is computed in parts). The parent process is the only
one that ever calls ``emit``, so it stays the only writer of the file.

- :class:`SerialExecutor` runs the tasks one after the other in this process.
- :class:`ProcessExecutor` runs them on a pool of spawned worker processes that stream their records back
  through a queue. Workers ignore Ctrl-C (the parent stops them), and they die with the parent, also when it is
  killed by SIGKILL: on Linux by the kernel's parent-death signal, elsewhere (and as a second line) because a
  watchdog thread in each worker sees the end of a pipe whose only writer is the parent.
- :class:`DaskExecutor` sends them to a Dask distributed cluster (an existing scheduler, or a LocalCluster of
  ``workers`` processes): each task returns what it emitted, and the parent emits it as tasks complete. A worker
  that dies has its tasks rerun elsewhere by the scheduler (the records are the same: seeds come from physics); a
  lost scheduler stops the run with one line (:class:`SchedulerLost`), and the same command resumes. Needs the
  optional extra ``dask``.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import queue
import signal
import socket
import sys
import threading
import traceback
from collections.abc import Callable, Sequence

from .blas import is_single_thread
from .extras import require

Emit = Callable[..., None]

POLL_SECONDS = 0.2
"""How often the parent checks its workers while no record arrives."""
NUMBA_THREADS = "NUMBA_NUM_THREADS"
"""A worker of a pool runs its kernels' parallel loops on one thread: the workers already fill the cores, and
threads within processes oversubscribe them (default dynamics: 37 s with, 22 s without, on 2 workers). A serial run
keeps Numba's threads. Results do not depend on the thread count (:mod:`statmech_bn.kernels._jit`)."""


class TaskFailed(RuntimeError):
    """A task raised in a worker; the message holds the worker's traceback."""


class WorkerDied(TaskFailed):
    """A worker process ended without a Python exception (a crash in compiled code, or killed): no traceback to show;
    what is stored stays, and the same command resumes."""


class SerialExecutor:
    """Runs every task in this process, in order."""

    workers = 1

    def run(self, tasks: Sequence, emit: Emit) -> None:
        for task in tasks:
            task.run(emit)


class ProcessExecutor:
    """A pool of ``workers`` spawned processes (fresh interpreters: no state inherited from the parent)."""

    def __init__(self, workers: int):
        self.workers = workers

    def run(self, tasks: Sequence, emit: Emit) -> None:
        if not tasks:
            return
        context = multiprocessing.get_context("spawn")
        task_queue, results = context.Queue(), context.Queue()
        lifeline_read, lifeline_write = context.Pipe(duplex=False)
        count = min(self.workers, len(tasks))
        processes = [context.Process(target=_worker_main, args=(task_queue, results, lifeline_read, os.getpid()),
                                     daemon=True, name=f"statmech_bn-worker-{k}") for k in range(count)]
        for index, task in enumerate(tasks):
            task_queue.put((index, task))
        for _ in processes:
            task_queue.put(None)
        pending = len(tasks)
        try:
            for process in processes:
                process.start()
            lifeline_read.close()  # the parent keeps only the write end: its death closes the pipe
            while pending:
                try:
                    message = results.get(timeout=POLL_SECONDS)
                except queue.Empty:
                    dead = [p for p in processes if p.exitcode not in (None, 0)]
                    if dead:
                        raise WorkerDied(f"worker {dead[0].name} died (exit code {dead[0].exitcode})") from None
                    continue
                if message[0] == "record":
                    emit(*message[1:])
                elif message[0] == "done":
                    pending -= 1
                else:
                    raise TaskFailed(f"a task failed in a worker process:\n{message[2]}")
        finally:
            if pending:
                for process in processes:
                    if process.is_alive():
                        process.kill()
            for process in processes:
                process.join(timeout=5.0)
            lifeline_write.close()
            for q in (task_queue, results):
                q.cancel_join_thread()
                q.close()


def _worker_main(task_queue, results, lifeline, parent_pid: int) -> None:
    os.environ[NUMBA_THREADS] = "1"  # before Numba loads: the pool is the parallelism (no threads x processes)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent(lifeline, parent_pid)

    def emit(curve: str, index: int, payload, part: int = 0) -> None:
        results.put(("record", curve, index, payload, part))

    while True:
        item = task_queue.get()
        if item is None:
            break
        index, task = item
        try:
            task.run(emit)
        except BaseException:  # reported to the parent, which decides; this worker stops
            results.put(("error", index, traceback.format_exc()))
            break
        results.put(("done", index))
    results.close()
    results.join_thread()


def _die_with_parent(lifeline, parent_pid: int) -> None:
    """End this worker as soon as the parent is gone, however it died."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            pr_set_pdeathsig = 1
            libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover (no prctl: the watchdog below remains)
            pass
    if os.getppid() != parent_pid:  # the parent died before the death signal was armed
        os._exit(1)

    def watch() -> None:
        try:
            lifeline.recv()  # the parent never sends: this returns only by EOF, when the parent's end is closed
        except (EOFError, OSError):
            pass
        os._exit(1)

    threading.Thread(target=watch, name="statmech_bn-lifeline", daemon=True).start()


class ClusterStopped(RuntimeError):
    """The run stopped because of its Dask cluster; what is stored stays, and the same command resumes."""


class SchedulerLost(ClusterStopped):
    """The Dask scheduler went away during a run."""


class WorkerUnfit(ClusterStopped):
    """A Dask worker would compute different last bits than the local executor (BLAS on several threads)."""


def _collect(task) -> list[tuple]:
    """Run a task on a Dask worker and return what it emitted; refuse a worker whose BLAS runs several threads
    (:mod:`statmech_bn.blas`; a worker started by a nanny, the default, has one)."""
    if not is_single_thread():
        raise WorkerUnfit(f"the Dask worker on {socket.gethostname()} (pid {os.getpid()}) runs BLAS on several "
                          "threads, so its results could differ in the last bits: start workers with a nanny (the "
                          "default) or with OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1, then rerun "
                          "the same command to resume")
    import numba

    numba.set_num_threads(1)  # one core per task: the cluster's processes are the parallelism
    out: list[tuple] = []
    task.run(lambda *args: out.append(args))
    return out


class DaskExecutor:
    """Tasks on a Dask distributed cluster: the scheduler at ``scheduler`` (``tcp://host:port``), or a LocalCluster
    of ``workers`` single-threaded processes started for the run."""

    LOST = "the Dask scheduler was lost"

    def __init__(self, workers: int, scheduler: str | None):
        self.workers = workers
        self.scheduler = scheduler

    def run(self, tasks: Sequence, emit: Emit) -> None:
        if not tasks:
            return
        distributed = require("distributed", "--executor dask")
        with _quiet_logs("distributed", "tornado", "asyncio"):
            self._run(distributed, tasks, emit)

    def _run(self, distributed, tasks: Sequence, emit: Emit) -> None:
        cluster = None
        try:
            if self.scheduler:
                client = distributed.Client(self.scheduler, timeout="20s")
            else:
                # the dashboard's HTTP server on a free port: None still binds 8787, which a second run takes
                cluster = distributed.LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                                   dashboard_address=":0")
                client = distributed.Client(cluster)
        except (OSError, TimeoutError) as exc:
            raise SchedulerLost(f"cannot reach the Dask scheduler at {self.scheduler} ({exc})") from None
        futures = []
        try:
            futures = [client.submit(_collect, task, pure=False) for task in tasks]
            for future in distributed.as_completed(futures):
                try:
                    emitted = future.result()
                except WorkerUnfit:
                    raise
                except (distributed.client.FutureCancelledError, OSError, TimeoutError) as exc:
                    raise SchedulerLost(f"{self.LOST} ({type(exc).__name__}); every finished point is stored: rerun "
                                        "the same command to resume") from None
                for args in emitted:
                    emit(*args)
        finally:
            try:
                client.cancel(futures)
                client.close(timeout=5)
            except Exception:  # noqa: BLE001 (closing after a lost scheduler may fail; nothing is left to save)
                pass
            if cluster is not None:
                cluster.close(timeout=10)


@contextlib.contextmanager
def _quiet_logs(*names: str):
    """Silence logging while a library runs (Dask logs its connection errors with tracebacks; what matters reaches
    the user as one line). ``logging.disable`` is global: Dask configures levels on its child loggers itself."""
    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        yield
    finally:
        logging.disable(previous)


def check_scheduler(address: str, timeout: float = 10.0) -> None:
    """Connect to the Dask scheduler at ``address`` once (before any file is written): :class:`SchedulerLost` with
    one line when it cannot be reached, :class:`WorkerUnfit` when a worker runs BLAS on several threads."""
    distributed = require("distributed", "--executor dask")
    with _quiet_logs("distributed", "tornado", "asyncio"):
        try:
            client = distributed.Client(address, timeout=f"{timeout}s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise SchedulerLost(f"cannot reach the Dask scheduler at {address} ({type(exc).__name__})") from None
        try:
            unfit = sorted(worker for worker, fit in client.run(is_single_thread).items() if not fit)
        finally:
            client.close()
    if unfit:
        raise WorkerUnfit(f"{len(unfit)} Dask worker(s) ({unfit[0]}, ...) run BLAS on several threads, so their "
                          "results could differ in the last bits: start workers with a nanny (the default) or with "
                          "OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1")


def make_executor(workers: int, tasks: int, executor: str = "local", scheduler: str | None = None):
    """The Dask executor when asked; otherwise the serial one for one worker or one task (no process start-up to
    pay), else the local process pool."""
    if executor == "dask":
        return DaskExecutor(workers, scheduler)
    if workers <= 1 or tasks <= 1:
        return SerialExecutor()
    return ProcessExecutor(workers)
