"""`make setup` brings the redis-server that the shared-state tests run (ORCH-4102)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.redis_support import server_binary

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.req("ORCH-4102")
def test_setup_installs_a_real_redis_server_when_it_is_missing() -> None:
    makefile = (ROOT / "Makefile").read_text()
    setup = re.search(r"^setup:(.*)$", makefile, re.M)
    assert setup is not None and "redis" in setup.group(1).split()
    recipe = re.search(r"^redis:.*\n((?:\t.*\n)+)", makefile, re.M)
    assert recipe is not None and "apt-get install -y -qq redis-server" in recipe.group(1)
    version = subprocess.run([server_binary(), "--version"], capture_output=True, text=True, check=True)
    assert re.search(r"v=[789]\.", version.stdout), version.stdout
