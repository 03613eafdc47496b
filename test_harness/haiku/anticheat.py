"""Anti-cheat checks of the Haiku gate (ORCH-9010): no canned answer in the repository, no mock engine.

A passing output could be faked by shipping the answer: a `fixtures/haiku*` file, or any file with a
line holding both the challenge's minute phrase and its nonce (which, the nonce being fresh, can only
get there by copying the output). The scan covers every file git knows or would add (tracked, and
untracked but not ignored). The engine checks read only what the API reports.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from test_harness.haiku.checks import contains_minute_phrase
from test_harness.haiku.protocol import Challenge

REAL_ENGINES = frozenset({"llamacpp", "vllm", "tgi", "triton"})
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
# llama.cpp reports /props build_info as b<build>-<commit>; the mock engine reports b0-mock.
LLAMACPP_BUILD = re.compile(r"^b\d+-[0-9A-Za-z]+$")


def repository_files(root: Path) -> list[str]:
    """Paths (relative, POSIX) of tracked files and untracked files that are not ignored."""
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        check=True,
        capture_output=True,
    )
    return sorted({path for path in listing.stdout.decode().split("\0") if path})


def is_haiku_fixture(path: str) -> bool:
    """A file named fixtures/haiku* at any depth."""
    parts = PurePosixPath(path).parts
    return len(parts) >= 2 and parts[-2] == "fixtures" and parts[-1].lower().startswith("haiku")


def canned_answers(root: Path, paths: Iterable[str], challenge: Challenge) -> list[str]:
    """`path:line` of every line that holds both the minute phrase and the nonce, plus fixture files."""
    found = [f"{path}: haiku fixture" for path in paths if is_haiku_fixture(path)]
    nonce = challenge.nonce.encode()
    for path in paths:
        try:
            data = (root / path).read_bytes()
        except OSError:
            continue  # deleted in the working tree but still in the index
        if nonce not in data:
            continue
        for number, line in enumerate(data.decode(errors="replace").splitlines(), start=1):
            if challenge.nonce in line and contains_minute_phrase(line, challenge.minute_words):
                found.append(f"{path}:{number}")
    return found


def engine_problems(identity: Mapping[str, Any], *, require_real_llama: bool) -> list[str]:
    """Why the engine identity the API reports is not a real engine (empty when it is)."""
    problems: list[str] = []
    engine = identity.get("engine")
    version = str(identity.get("engine_version") or "")
    digest = str(identity.get("model_digest") or "")
    if engine not in REAL_ENGINES:
        problems.append(f"engine {engine!r} is not a real engine")
    if not version or "mock" in version.lower():
        problems.append(f"engine_version {version!r} is a mock's or missing")
    if not DIGEST.match(digest):
        problems.append(f"model_digest {digest!r} is not sha256:<hex> of a model file")
    if require_real_llama:
        if engine != "llamacpp":
            problems.append(f"REQUIRE_REAL_LLAMA=1 but the engine is {engine!r}")
        if not LLAMACPP_BUILD.match(version) or "mock" in version.lower():
            problems.append(f"REQUIRE_REAL_LLAMA=1 but engine_version {version!r} is not a llama.cpp build")
    return problems
