"""The Haiku challenge: the Europe/Amsterdam minute in English words and a random nonce (ORCH-9010)."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from datetime import datetime
from random import Random
from zoneinfo import ZoneInfo

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
NONCE_ALPHABET = string.ascii_letters + string.digits
NONCE_LENGTH = 8

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen"
).split()
_TENS = {2: "twenty", 3: "thirty", 4: "forty", 5: "fifty"}


@dataclass(frozen=True)
class Challenge:
    """What one gate run asks the model to write: the minute phrase and the nonce, both verbatim."""

    minute_words: str
    nonce: str


def minute_words(minute: int) -> str:
    """0..59 in English words, hyphenated like "twenty-three"; ValueError outside that range."""
    if not 0 <= minute <= 59:
        raise ValueError(f"minute must be 0..59, got {minute}")
    if minute < 20:
        return _ONES[minute]
    tens, ones = divmod(minute, 10)
    return _TENS[tens] if ones == 0 else f"{_TENS[tens]}-{_ONES[ones]}"


def amsterdam_minute(now: datetime) -> int:
    """The minute of an aware datetime on the Europe/Amsterdam clock."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(AMSTERDAM).minute


def new_nonce(rng: Random | None = None) -> str:
    """8 random letters and digits; from `secrets` unless a seeded Random is given (measurements)."""
    if rng is None:
        return "".join(secrets.choice(NONCE_ALPHABET) for _ in range(NONCE_LENGTH))
    return "".join(rng.choice(NONCE_ALPHABET) for _ in range(NONCE_LENGTH))


def challenge_at(now: datetime, rng: Random | None = None) -> Challenge:
    """The challenge for the minute `now` falls in."""
    return Challenge(minute_words=minute_words(amsterdam_minute(now)), nonce=new_nonce(rng))
