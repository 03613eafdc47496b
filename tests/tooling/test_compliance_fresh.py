"""The committed requirements/*.yaml and COMPLIANCE.md equal a fresh extraction of this repository."""

from __future__ import annotations

import pytest

from tools.spec_extract.__main__ import main


@pytest.mark.req("ORCH-9003")
def test_requirements_and_compliance_are_fresh(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["--check"])

    assert status == 0, f"run `make regen`:\n{capsys.readouterr().err}"
