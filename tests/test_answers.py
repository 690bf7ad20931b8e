"""The one rule for short LLM answers, and the yes/no reading, on any text."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fmprog.backends.answers import first_line, llm_answer, read_yes_no


@given(st.text())
def test_first_line_is_the_first_non_empty_line(text):
    line = first_line(text)
    assert "\n" not in line and line == line.strip()
    non_empty = [x.strip() for x in text.splitlines() if x.strip()]
    assert line == (non_empty[0] if non_empty else "")
    assert llm_answer(text, long_answer=False) == line
    assert llm_answer(text) == text.strip()


def test_examples():
    assert first_line("\n\n  Paris.  \nFrance") == "Paris."
    assert llm_answer("  a\nb  ", long_answer=True) == "a\nb"
    assert read_yes_no("Yes, it is.") and not read_yes_no("no")
