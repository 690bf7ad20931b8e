"""A window of K inputs in flight, whose neural calls are served together in batches.

Each input's program runs in a *fiber*: a thread that runs only while the scheduler has
handed it the baton, so exactly one program runs at a time and everything a program does
(policy choices, random draws, log entries) happens in a fixed order. A fiber runs until
its program needs a model (it submits a job and parks) or ends. When every fiber of the
window is parked or done, the scheduler hands all the waiting jobs to the executor at
once (the executor batches them per backend: the calls of one site and backend across
the window's inputs), gives each fiber its answer, and resumes them in input order.

Results are therefore a function of the inputs and K only: for static policies any K
gives exactly the answers of K = 1 (batched answers equal single ones), and a learned
policy, which only learns between windows, is deterministic for a given K and seed.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Sequence

from .executor import Executor, Job, Served

Submit = Callable[[Job], Served]


class _Fiber:
    def __init__(self, fn: Callable[[Submit], Any]):
        self.fn = fn
        self.go, self.back = threading.Semaphore(0), threading.Semaphore(0)
        self.pending: Job | None = None
        self.reply: Served | None = None
        self.done = False
        self.value: Any = None
        self.exc: BaseException | None = None
        self.thread = threading.Thread(target=self._main, daemon=True, name="fmprog-input")
        self.thread.start()

    def _main(self) -> None:
        self.go.acquire()
        try:
            self.value = self.fn(self.submit)
        except BaseException as e:  # handed to the scheduler, which re-raises it
            self.exc = e
        self.done = True
        self.back.release()

    # fiber side
    def submit(self, job: Job) -> Served:
        self.pending, self.reply = job, None
        self.back.release()
        self.go.acquire()
        return self.reply  # type: ignore[return-value]

    # scheduler side
    def resume(self) -> None:
        self.go.release()
        self.back.acquire()


def run_window(executor: Executor, tasks: Sequence[Callable[[Submit], Any]]) -> list[Any]:
    """Run every task (a function of `submit`) as a fiber; serve their jobs in rounds;
    return their values in order. One task runs without a thread."""
    if len(tasks) == 1:
        return [tasks[0](lambda job: executor.run([job])[0])]
    fibers = [_Fiber(t) for t in tasks]
    live = list(fibers)
    try:
        while live:
            for f in live:
                f.resume()
            live = [f for f in live if not f.done]
            if live:
                served = executor.run([f.pending for f in live])
                for f, s in zip(live, served):
                    f.reply = s
    finally:
        for f in live:  # an exception while serving: let parked fibers end
            f.reply = None
            f.go.release()
    for f in fibers:
        if f.exc is not None:
            raise f.exc
    return [f.value for f in fibers]
