"""Executors: who computes the tasks of a run.

The driver's loop (:mod:`statmech_bn.drivers.loop`) hands an executor a list of independent tasks and an ``emit``
callback; a task is a picklable object whose ``run(emit)`` calls ``emit(curve, index, record)`` for every point
it finishes. The parent process is the only one that ever calls ``emit``, so it stays the only writer of the file.

- :class:`SerialExecutor` runs the tasks one after the other in this process.
- :class:`ProcessExecutor` runs them on a pool of spawned worker processes that stream their records back
  through a queue. Workers ignore Ctrl-C (the parent stops them), and they die with the parent, also when it is
  killed by SIGKILL: on Linux by the kernel's parent-death signal, elsewhere (and as a second line) because a
  watchdog thread in each worker sees the end of a pipe whose only writer is the parent.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Sequence

Emit = Callable[[str, int, dict], None]

POLL_SECONDS = 0.2
"""How often the parent checks its workers while no record arrives."""


class TaskFailed(RuntimeError):
    """A task raised in a worker; the message holds the worker's traceback."""


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
                        raise TaskFailed(f"worker {dead[0].name} died (exit code {dead[0].exitcode})") from None
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
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent(lifeline, parent_pid)

    def emit(curve: str, index: int, record: dict) -> None:
        results.put(("record", curve, index, record))

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


def make_executor(workers: int, tasks: int):
    """The serial executor for one worker or one task (no process start-up to pay), else the process pool."""
    if workers <= 1 or tasks <= 1:
        return SerialExecutor()
    return ProcessExecutor(workers)
