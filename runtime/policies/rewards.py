"""The paper's task rewards, and the cost-penalised reward a policy is updated with.

Binary (verification) tasks reward the rare positive class heavily: true positive +1000,
false negative -100, true negative +1, false positive -100. Open-form tasks: +100 if the
answer is right, -100 if not. The reward of an input is
``task reward - cost_weight * cost``, cost being the sum of the costs of every call in
the input's call log (a site in a loop pays for each of its calls).

Learned policies learn the task reward (`Feedback.task`): the paper subtracts cost only
when choosing, never in training, because the costs are known exactly and only the task
reward has to be learned.
"""

from __future__ import annotations

TRUE_POSITIVE = 1000.0
FALSE_NEGATIVE = -100.0
TRUE_NEGATIVE = 1.0
FALSE_POSITIVE = -100.0
OPEN_FORM_RIGHT = 100.0
OPEN_FORM_WRONG = -100.0


def binary_reward(predicted: bool, label: bool) -> float:
    """Task reward of a yes/no answer against its label."""
    if label:
        return TRUE_POSITIVE if predicted else FALSE_NEGATIVE
    return FALSE_POSITIVE if predicted else TRUE_NEGATIVE


def open_form_reward(correct: bool) -> float:
    """Task reward of a free-form answer judged right or wrong."""
    return OPEN_FORM_RIGHT if correct else OPEN_FORM_WRONG


def span(kind: str) -> float:
    """The largest difference between two task rewards of one input under `kind`
    (binary, open-form, or auto: either, so the larger)."""
    binary = TRUE_POSITIVE - FALSE_NEGATIVE
    open_form = OPEN_FORM_RIGHT - OPEN_FORM_WRONG
    return {"binary": binary, "open-form": open_form}.get(kind, max(binary, open_form))


def reward(task_reward: float, cost: float, cost_weight: float) -> float:
    """The reward of one input: task reward minus cost_weight * cost."""
    return float(task_reward) - float(cost_weight) * float(cost)
