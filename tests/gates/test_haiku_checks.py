"""The Haiku gate's own parts fail when they must: verdict, minute words, anti-cheat scan, mock detection."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from test_harness.haiku.anticheat import canned_answers, engine_problems, is_haiku_fixture, repository_files
from test_harness.haiku.checks import check_haiku
from test_harness.haiku.protocol import Challenge, amsterdam_minute, challenge_at, minute_words, new_nonce

CHALLENGE = Challenge(minute_words="twenty-three", nonce="Xq7Lm2Pz")
REAL = {
    "engine": "llamacpp",
    "engine_version": "b0-unknown",
    "model_digest": "sha256:" + "ab" * 32,
}


@pytest.mark.req("ORCH-9010")
@pytest.mark.parametrize(
    ("minute", "words"),
    [
        (0, "zero"),
        (7, "seven"),
        (13, "thirteen"),
        (20, "twenty"),
        (21, "twenty-one"),
        (40, "forty"),
        (59, "fifty-nine"),
    ],
)
def test_minute_words_spell_the_minute_in_english(minute: int, words: str) -> None:
    assert minute_words(minute) == words


@pytest.mark.req("ORCH-9010")
def test_every_minute_has_its_own_words_and_out_of_range_is_refused() -> None:
    assert len({minute_words(m) for m in range(60)}) == 60
    with pytest.raises(ValueError, match=r"0\.\.59"):
        minute_words(60)


@pytest.mark.req("ORCH-9010")
def test_the_minute_is_read_on_the_amsterdam_clock() -> None:
    # India is UTC+05:30, so its minute differs from Amsterdam's (whole-hour offsets) by 30.
    india = timezone(timedelta(hours=5, minutes=30))
    assert amsterdam_minute(datetime(2026, 7, 1, 17, 45, tzinfo=india)) == 15
    with pytest.raises(ValueError, match="timezone-aware"):
        amsterdam_minute(datetime(2026, 7, 1, 12, 0))


@pytest.mark.req("ORCH-9010")
def test_nonces_are_eight_letters_or_digits_and_fresh() -> None:
    nonces = {new_nonce() for _ in range(50)}
    assert len(nonces) == 50
    assert all(len(n) == 8 and n.isalnum() and n.isascii() for n in nonces)
    assert challenge_at(datetime.now(UTC)).nonce != challenge_at(datetime.now(UTC)).nonce


@pytest.mark.req("ORCH-9010")
def test_a_three_line_poem_with_phrase_and_nonce_passes() -> None:
    text = "Twenty-three gray gulls\nfold their wings above the pier\nthe tide forgets them\nXq7Lm2Pz"
    assert check_haiku(text, CHALLENGE).passed


@pytest.mark.req("ORCH-9010")
@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Twenty-three gray gulls\nXq7Lm2Pz", "non-empty lines"),
        ("Twenty-three gulls\n\n \nfly\nxq7lm2pz", "nonce"),  # nonce case matters
        ("Twenty-three gulls\nfly\nhome Xq7Lm2P", "nonce"),
        ("Twenty three gulls\nfly\nhome Xq7Lm2Pz", "minute phrase"),
        ("Twenty-thirty gulls\nfly\nhome Xq7Lm2Pz", "minute phrase"),
    ],
)
def test_a_poem_missing_any_part_fails_and_says_why(text: str, reason: str) -> None:
    verdict = check_haiku(text, CHALLENGE)
    assert not verdict.passed
    assert any(reason in r for r in verdict.reasons), verdict.reasons


@pytest.mark.req("ORCH-9010")
def test_the_minute_phrase_must_not_be_part_of_a_longer_number() -> None:
    thirty = Challenge(minute_words="thirty", nonce="Xq7Lm2Pz")
    assert not check_haiku("Thirty-three gulls\nfly\nXq7Lm2Pz", thirty).passed
    eight = Challenge(minute_words="eight", nonce="Xq7Lm2Pz")
    assert not check_haiku("Eighteen gulls\ntwenty-eight\nXq7Lm2Pz", eight).passed
    assert check_haiku("At thirty, gulls\nfly\nXq7Lm2Pz", thirty).passed


def _git_repo(root: Path, files: dict[str, str]) -> Path:
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return root


@pytest.mark.req("ORCH-9010")
def test_a_repository_line_with_the_phrase_and_the_nonce_is_a_canned_answer(tmp_path: Path) -> None:
    root = _git_repo(
        tmp_path, {"src/answers.py": "x = 1\nANSWER = 'twenty-three Xq7Lm2Pz'\n", "ok.txt": "Xq7Lm2Pz"}
    )
    assert canned_answers(root, repository_files(root), CHALLENGE) == ["src/answers.py:2"]


@pytest.mark.req("ORCH-9010")
def test_a_haiku_fixture_file_is_a_canned_answer_whatever_it_holds(tmp_path: Path) -> None:
    root = _git_repo(tmp_path, {"tests/fixtures/haiku_minute.txt": "nothing", "fixtures/other.txt": "x"})
    assert canned_answers(root, repository_files(root), CHALLENGE) == [
        "tests/fixtures/haiku_minute.txt: haiku fixture"
    ]
    assert is_haiku_fixture("fixtures/Haiku.json")
    assert not is_haiku_fixture("haiku/fixtures.py")


@pytest.mark.req("ORCH-9010")
def test_a_real_llama_identity_has_no_problems() -> None:
    assert engine_problems(REAL, require_real_llama=True) == []


@pytest.mark.req("ORCH-9010")
@pytest.mark.parametrize(
    "identity",
    [
        {**REAL, "engine_version": "b0-mock"},  # the mock engine's llama.cpp wire emulation
        {**REAL, "engine_version": "mock-1"},  # the in-process mock adapter
        {**REAL, "engine": "mock"},
        {**REAL, "model_digest": "sha256:mock"},
        {**REAL, "engine_version": None},
    ],
)
def test_a_mock_or_incomplete_identity_fails_the_gate(identity: dict[str, object]) -> None:
    assert engine_problems(identity, require_real_llama=False)
    assert engine_problems(identity, require_real_llama=True)


@pytest.mark.req("ORCH-9010")
def test_require_real_llama_refuses_another_real_engine() -> None:
    vllm = {**REAL, "engine": "vllm", "engine_version": "0.33.0"}
    assert engine_problems(vllm, require_real_llama=False) == []
    assert engine_problems(vllm, require_real_llama=True)
