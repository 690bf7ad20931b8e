"""The oracle's evaluator: run the program on one input under a whole assignment.

`evaluate(assignment) -> (correct, cost)` runs the program with a fixed backend index per
site. Every evaluation of one input goes through one memoising executor, so each
distinct backend call is made once however many of the up to 4,096 assignments ask for
it (and with `--cache`, not even once when it was recorded).
"""

from __future__ import annotations

import numpy as np

from .errors import ProgramError, RuntimeFault
from .executor import Executor
from .feedback import normalise
from .policies.base import Evaluate, Policy
from .policies.static import FixedAssignment
from .routed import RoutedInterpreter
from .router import Router


def evaluator(interp: RoutedInterpreter, policy: Policy, executor: Executor, inputs: dict,
              label: str | None) -> Evaluate:
    """`evaluate` runs `interp` (an interpreter of the program kept for evaluations: runs are
    sequential) under one fixed assignment per call."""
    sites = list(policy.sites.values())
    pools, breaker = interp.router.pools, interp.router.breaker

    def evaluate(assignment: dict[str, int]) -> tuple[bool, float]:
        fixed = FixedAssignment(sites, assignment)
        interp.router = Router(pools, fixed, breaker)
        trace = interp.start(fixed.begin(np.zeros(1)), lambda job: executor.run([job])[0])
        try:
            answer = interp.run(dict(inputs))
        except (ProgramError, RuntimeFault):
            return False, trace.cost
        return label is not None and normalise(answer) == normalise(label), trace.cost

    return evaluate
