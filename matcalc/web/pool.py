"""Worker processes that run jobs one at a time each, stopped at a time limit.

A runaway input cannot hang or exhaust the server: each job runs in a worker process with a
memory limit (`worker.py`); the server waits for its answer at most `time_limit` seconds, then
kills the process and starts another, and answers 422. At most `max_pending` jobs wait or run at
once; more are refused with 429. Workers are forked from a forkserver that imported matcalc and
loaded its rules once (`_preload.py`), so a new worker starts warm in milliseconds, and a worker
is replaced after `max_jobs` jobs so that no cache grows without bound.
"""
from __future__ import annotations

import asyncio
import multiprocessing
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .worker import MEMORY_LIMIT, error_payload, worker_main


class Worker:
    """One worker process and its pipe; `call` is blocking (the pool runs it in a thread)."""

    def __init__(self, context: Any, memory_limit: int, max_jobs: int):
        self.context = context
        self.memory_limit = memory_limit
        self.max_jobs = max_jobs
        self.process: Any = None
        self.conn: Any = None
        self.jobs = 0
        self.closed = False
        self.start()

    def start(self) -> None:
        parent, child = self.context.Pipe()
        self.process = self.context.Process(target=worker_main, args=(child, self.memory_limit),
                                            daemon=True, name="matcalc-worker")
        self.process.start()
        child.close()
        self.conn = parent
        self.jobs = 0

    def close(self) -> None:
        """Stop for good: a call still waiting on this worker does not start another."""
        self.closed = True
        self.stop()

    def stop(self) -> None:
        """Kill the process (a job in it is abandoned)."""
        if self.process is not None and self.process.is_alive():
            self.process.kill()
        if self.process is not None:
            self.process.join(timeout=5)
        if self.conn is not None:
            self.conn.close()

    def restart(self) -> None:
        self.stop()
        if not self.closed:
            self.start()

    def call(self, job: dict[str, Any], time_limit: float) -> tuple[int, Any]:
        """(status, payload) of `job`, or a 422 once `time_limit` seconds have passed."""
        if self.closed:
            return 503, error_payload("Closing", "the server is shutting down")
        if self.jobs >= self.max_jobs or not self.process.is_alive():
            self.restart()
        self.jobs += 1
        try:
            self.conn.send(job)
            if self.conn.poll(time_limit):
                return self.conn.recv()
        except (EOFError, OSError):
            self.restart()
            return 422, error_payload("LimitError", "the worker running this derivation stopped "
                                      "(it needed more memory than a worker may use); simplify "
                                      "the expression")
        self.restart()
        return 422, error_payload("LimitError", f"the derivation took longer than {time_limit:g} s "
                                  f"and was stopped; simplify the expression or bind parts of it "
                                  f"to names")


class WorkerPool:
    """`size` workers; `await pool.run(job)` → (status, payload)."""

    def __init__(self, size: int = 2, time_limit: float = 10.0, max_pending: int = 64,
                 memory_limit: int = MEMORY_LIMIT, max_jobs: int = 500):
        self.size = size
        self.time_limit = time_limit
        self.max_pending = max_pending
        self.memory_limit = memory_limit
        self.max_jobs = max_jobs
        self.pending = 0
        self.workers: list[Worker] = []
        self.idle: asyncio.Queue[Worker] | None = None
        self.threads: ThreadPoolExecutor | None = None     # one per worker, waiting on its pipe

    def start(self) -> None:
        """Start the workers (call from the event loop that will `run` jobs)."""
        if "forkserver" in multiprocessing.get_all_start_methods():
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["matcalc.web._preload"])
        else:       # Windows: each worker imports matcalc itself (a second or two at start)
            context = multiprocessing.get_context("spawn")
        self.idle = asyncio.Queue()
        self.threads = ThreadPoolExecutor(self.size, thread_name_prefix="matcalc-pool")
        for _ in range(self.size):
            worker = Worker(context, self.memory_limit, self.max_jobs)
            self.workers.append(worker)
            self.idle.put_nowait(worker)

    def close(self) -> None:
        for worker in self.workers:
            worker.close()
        self.workers.clear()
        if self.threads is not None:
            self.threads.shutdown(wait=False)

    async def run(self, job: dict[str, Any]) -> tuple[int, Any]:
        """Run `job` on the next idle worker; 429 when `max_pending` jobs are already queued."""
        assert self.idle is not None, "WorkerPool.start() first"
        if self.pending >= self.max_pending:
            return 429, error_payload("Busy", f"{self.pending} derivations are queued; try again "
                                      f"in a moment")
        self.pending += 1
        try:
            worker = await self.idle.get()
            loop = asyncio.get_running_loop()
            call = loop.run_in_executor(self.threads, worker.call, job, self.time_limit)
            # the worker is idle again only when its call has ended, even if this request was
            # cancelled (the client went away) while it ran
            call.add_done_callback(lambda _: self.idle.put_nowait(worker))
            return await asyncio.shield(call)
        finally:
            self.pending -= 1

    def warm(self, timeout: float = 60.0) -> None:
        """Block until every worker answers (their start-up done), at most `timeout` seconds."""
        deadline = time.monotonic() + timeout
        for worker in self.workers:
            status, _ = worker.call({"op": "variables", "expr": "x", "shapes": {},
                                     "symmetric": []}, max(1.0, deadline - time.monotonic()))
            if status != 200:
                raise RuntimeError("a matcalc worker did not start")
