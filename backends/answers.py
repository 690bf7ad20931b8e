"""How an adapter turns a model's text into the DSL's answer: one rule each, shared by all.

- `property_question(object, property)`: what `verify_property` asks a question-answering
  model; `read_yes_no(answer)` reads its reply.
- `llm_answer(text, long_answer)`: what `llm_query` returns; a short answer
  (`long_answer=False`) is the first non-empty line, in every adapter.
"""

from __future__ import annotations

import re

PROPERTY_QUESTION = "Is the {object} {property}?"
#: added to the property question for chat models, which otherwise tend to explain
YES_NO_SUFFIX = " Answer yes or no."


def property_question(object_name: str, prop: str) -> str:
    """The question `verify_property` asks a question-answering model."""
    return PROPERTY_QUESTION.format(object=object_name, property=prop)


def read_yes_no(answer: str) -> bool:
    """True iff the first word of `answer` is yes/true (case and punctuation ignored)."""
    words = re.findall(r"[a-z]+", answer.lower())
    return bool(words) and words[0] in ("yes", "true")


def first_line(text: str) -> str:
    """The first non-empty line of `text`, stripped ("" when there is none)."""
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def llm_answer(text: str, long_answer: bool = True) -> str:
    """An LLM's reply as `llm_query` returns it: stripped; only its first non-empty line
    when `long_answer` is False."""
    return text.strip() if long_answer else first_line(text)
