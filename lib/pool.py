"""The local pool: spawned worker processes of one thread each, one per device slot,
each handed one task at a time. A worker that dies (SIGKILL, the out-of-memory killer)
loses only the task it held: a fresh worker takes it again, and a training in the cache
resumes from its last epoch's checkpoint; the other workers keep their results.
"""

import contextlib
import multiprocessing as mp
import os
import sys
import traceback
from collections import Counter, deque
from multiprocessing.connection import wait

RETRIES = 2  # how often one task may lose its worker before the run gives up
# Read when torch loads, which a spawned worker does on start: too late for
# torch.set_num_threads alone to keep OpenMP's and MKL's own pools at one thread.
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def train(tasks, root, work, *, devices):
    """{path: work(job, root, device)} for the tasks [(path, job)], on one worker per
    device of `devices` (fewer when there are fewer tasks)."""
    queue, lost, done = deque(tasks), Counter(), {}
    workers = [Worker(device, work) for device in devices[: len(tasks)]]
    try:
        while queue or any(w.task for w in workers):
            for worker in workers:
                if worker.task is None and queue:
                    worker.give(queue.popleft(), root)
            busy = [w for w in workers if w.task]
            wait([w.connection for w in busy] + [w.process.sentinel for w in busy])
            for worker in workers:
                task, outcome = worker.task, worker.outcome()
                if outcome is None:
                    continue
                kind, value = outcome
                if kind == "done":
                    done[task[0]] = value
                    continue
                if kind == "error":
                    raise RuntimeError(f"{describe(task)} failed in a worker:\n{value}")
                lost[task[0]] += 1
                check_lost(task, lost[task[0]], value)
                queue.appendleft(task)
                worker.start()
    finally:
        for worker in workers:
            worker.stop()
    return done


def check_lost(task, times, exitcode):
    """Warn of a worker lost while computing `task`; give up after RETRIES."""
    message = (
        f"the worker computing {describe(task)} died (exit code {exitcode}; -9 is "
        "SIGKILL, often the out-of-memory killer)"
    )
    if times > RETRIES:
        raise RuntimeError(f"{message} {times} times: giving up on it")
    print(f"pool: {message}; trying it again", file=sys.stderr, flush=True)


def describe(task):
    path, job = task
    return f"the job {job.slug}/{path.name} ({job.fn.__name__})"


class Worker:
    """One spawned process serving tasks over a pipe; `task` is the one it holds."""

    def __init__(self, device, work):
        self.device, self.work, self.task, self.connection = device, work, None, None
        self.start()

    def start(self):
        if self.connection is not None:  # a dead worker's pipe
            self.connection.close()
        self.task = None
        context = mp.get_context("spawn")
        self.connection, child = context.Pipe()
        self.process = context.Process(
            target=serve, args=(child, str(self.device), self.work), daemon=True
        )
        with environment(ONE_THREAD):
            self.process.start()
        child.close()

    def give(self, task, root):
        if not self.process.is_alive():  # killed while it waited for work
            self.start()
        self.task = task
        self.connection.send((task[1], str(root)))

    def outcome(self):
        """None while the worker works; ("done", value), ("error", traceback) or
        ("died", exit code) once it is through."""
        if self.task is None:
            return None
        alive = self.process.is_alive()
        # A result sent just before the worker died is still in the pipe
        with contextlib.suppress(EOFError, ConnectionResetError):
            if self.connection.poll():
                outcome, self.task = self.connection.recv(), None
                return outcome
        if alive:
            return None
        self.process.join()
        return "died", self.process.exitcode

    def stop(self):
        """Let an idle worker exit; end a busy one (its checkpoint keeps its epochs)."""
        if self.process.is_alive() and self.task is None:
            with contextlib.suppress(OSError):
                self.connection.send(None)
            self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join()
        self.connection.close()


def serve(connection, device, work):
    """A worker's loop: work on each (job, root) received until None; errors go back
    to the pool as text, with their traceback."""
    while True:
        try:
            message = connection.recv()  # a job whose fn cannot be imported fails here
            if message is None:
                return
            outcome = "done", work(*message, device)
        except EOFError:  # the pool is gone
            return
        except Exception:
            outcome = "error", traceback.format_exc()
        connection.send(outcome)


@contextlib.contextmanager
def environment(values):
    """os.environ with `values` set inside the block, as a spawned child inherits it."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
