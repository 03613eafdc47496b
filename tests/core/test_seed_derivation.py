"""Seed policy: an absent seed is the first 4 bytes of SHA-256 of the canonical task_id, big-endian."""

from __future__ import annotations

import hashlib
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator_core.errors import InvalidParams
from orchestrator_core.seed import derive_seed, resolve_seed


@pytest.mark.req("ORCH-2401")
@pytest.mark.parametrize(
    ("task_id", "digest_prefix"),
    [
        # Prefixes from `printf '%s' <id> | sha256sum`.
        ("123e4567-e89b-12d3-a456-426614174000", "986c0dc9"),
        ("00000000-0000-0000-0000-000000000000", "12b9377c"),
    ],
)
def test_known_vectors(task_id: str, digest_prefix: str) -> None:
    assert derive_seed(task_id) == int(digest_prefix, 16)


@pytest.mark.req("ORCH-2401")
def test_uppercase_braced_and_urn_forms_hash_their_canonical_lowercase_text() -> None:
    canonical = "123e4567-e89b-12d3-a456-426614174000"
    expected = int.from_bytes(hashlib.sha256(canonical.encode()).digest()[:4], "big")
    for form in (
        canonical.upper(),
        "{" + canonical + "}",
        "urn:uuid:" + canonical,
        canonical.replace("-", ""),
    ):
        assert derive_seed(form) == expected


@pytest.mark.req("ORCH-2401")
@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.uuids())
def test_any_uuid_gives_a_seed_in_range_equal_to_the_documented_hash(value: uuid.UUID) -> None:
    text = str(value)
    expected = int.from_bytes(hashlib.sha256(text.encode("ascii")).digest()[:4], byteorder="big")
    assert derive_seed(text.upper()) == expected
    assert 0 <= expected <= 4_294_967_295


@pytest.mark.req("ORCH-2401")
def test_a_given_seed_wins_and_is_range_checked() -> None:
    task_id = "123e4567-e89b-12d3-a456-426614174000"
    assert resolve_seed(7, task_id) == 7
    assert resolve_seed(4_294_967_295, task_id) == 4_294_967_295
    assert resolve_seed(None, task_id) == derive_seed(task_id)
    for bad in (-1, 4_294_967_296, True):
        with pytest.raises(InvalidParams, match="seed"):
            resolve_seed(bad, task_id)
    with pytest.raises(InvalidParams, match="task_id"):
        derive_seed("not-a-uuid")
