"""From an input's answer, label and call log to what the policy learns.

A failed input (a program error, a backend failure, a time or iteration limit) that has
a label counts as a wrong answer: a backend that fails, or whose answers make the
program crash, must lose reward, or a policy keeps sending traffic to it. Inputs without
a label, unreadable inputs and faults of fmprog itself teach nothing.
"""

from __future__ import annotations

from typing import Any

from .calllog import Trace
from .policies.base import Feedback
from .policies.rewards import binary_reward, open_form_reward, reward

YES_NO = ("yes", "no")


def normalise(answer: Any) -> str:
    """The form answers and labels are compared in: yes/no for booleans, lower case,
    stripped, no final period."""
    if isinstance(answer, bool):
        return "yes" if answer else "no"
    return str(answer).strip().lower().rstrip(".")


def reward_kind(kind: str, label: str) -> str:
    """binary or open-form; `auto` is binary for yes/no labels."""
    if kind == "auto":
        return "binary" if normalise(label) in YES_NO else "open-form"
    return kind


def task_reward(kind: str, answer: Any, label: str, failed: bool) -> tuple[float, bool]:
    """(task reward, correct) of one answer against its label; a failure is wrong."""
    truth = normalise(label)
    predicted = None if failed else normalise(answer)
    correct = predicted == truth
    if reward_kind(kind, label) == "binary":
        if failed:  # no answer: wrong whichever the label, as a wrong yes/no would be
            return binary_reward(truth != "yes", truth == "yes"), False
        return binary_reward(predicted == "yes", truth == "yes"), correct
    return open_form_reward(correct), correct


def make_feedback(kind: str, answer: Any, label: str, failed: bool, trace: Trace,
                  cost_weight: float) -> Feedback:
    """The feedback of one labelled input, its cost from the call log."""
    task, correct = task_reward(kind, answer, label, failed)
    cost = trace.cost
    return Feedback(task, cost, reward(task, cost, cost_weight), correct,
                    trace.site_cost(), trace.site_calls())
