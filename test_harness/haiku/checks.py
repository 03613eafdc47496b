"""The Haiku verdict: does the model output, exactly as generated, satisfy the challenge (ORCH-9010)?

Case handling: the nonce must appear case-sensitively, character for character. The minute phrase is
matched case-insensitively (a poem line may start with "Twenty-three") but as a whole phrase: it may
not be part of a longer number word, so "thirty" is not found in "thirty-three" and "eight" is not
found in "eighteen" or "twenty-eight". The text is never altered before checking.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from test_harness.haiku.protocol import Challenge

MIN_LINES = 3


@dataclass(frozen=True)
class Verdict:
    """The result of checking one output, with the reasons it failed (empty when it passed)."""

    passed: bool
    reasons: tuple[str, ...]


def non_empty_lines(text: str) -> list[str]:
    """Lines with anything besides whitespace."""
    return [line for line in text.splitlines() if line.strip()]


def contains_minute_phrase(text: str, phrase: str) -> bool:
    """The phrase as a whole number word, any letter case (see the module docstring)."""
    pattern = rf"(?<![a-z-]){re.escape(phrase.lower())}(?![a-z-])"
    return re.search(pattern, text.lower()) is not None


def check_haiku(text: str, challenge: Challenge) -> Verdict:
    """Pass = at least 3 non-empty lines, the minute phrase and the nonce verbatim."""
    reasons: list[str] = []
    lines = len(non_empty_lines(text))
    if lines < MIN_LINES:
        reasons.append(f"{lines} non-empty lines, need {MIN_LINES}")
    if not contains_minute_phrase(text, challenge.minute_words):
        reasons.append(f"minute phrase {challenge.minute_words!r} missing")
    if challenge.nonce not in text:
        reasons.append(f"nonce {challenge.nonce!r} missing")
    return Verdict(passed=not reasons, reasons=tuple(reasons))
