"""A window of K inputs in flight, whose neural calls are served together in batches.

Each input's program runs in a *fiber* (a greenlet: a coroutine with its own Python
stack, switched cooperatively), so exactly one program runs at a time and everything a
program does (policy choices, random draws, log entries) happens in a fixed order. A
fiber runs until its program needs a model (it submits a job and switches back) or
ends. When every fiber of the window is parked or done, the scheduler hands all the
waiting jobs to the executor at once (the executor batches them per backend: the calls
of one site and backend across the window's inputs), gives each fiber its answer, and
resumes them in input order.

Results are therefore a function of the inputs and K only: for static policies any K
gives exactly the answers of K = 1 (batched answers equal single ones), and a learned
policy, which only learns between windows, is deterministic for a given K and seed.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from greenlet import getcurrent, greenlet

from .executor import Executor, Job, Served

Submit = Callable[[Job], Served]
_START = object()  # a fiber not started yet


def run_window(executor: Executor, tasks: Sequence[Callable[[Submit], Any]]) -> list[Any]:
    """Run every task (a function of `submit`) as a fiber; serve their jobs in rounds;
    return their values in order. One task runs as a plain call."""
    if len(tasks) == 1:
        return [tasks[0](lambda job: executor.run([job])[0])]
    scheduler = getcurrent()

    def submit(job: Job) -> Served:
        return scheduler.switch(job)  # park; the scheduler switches back with the answer

    fibers = [greenlet(lambda t=t: t(submit)) for t in tasks]
    values: list[Any] = [None] * len(tasks)
    pending: dict[int, Any] = {i: _START for i in range(len(tasks))}  # fiber -> what to send
    while pending:
        jobs: dict[int, Job] = {}
        for i, reply in pending.items():
            out = fibers[i].switch() if reply is _START else fibers[i].switch(reply)
            if fibers[i].dead:
                values[i] = out
            else:
                jobs[i] = out
        served = executor.run(list(jobs.values())) if jobs else []
        pending = dict(zip(jobs, served))
    return values
