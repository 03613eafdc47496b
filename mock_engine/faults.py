"""Faults and settings of the mock engine; settable at start (CLI flags) and at run time (/admin/faults).

Token positions count generated tokens: `fail_at=3` drops the connection after three tokens were sent,
`stall_at=0` sends no token at all.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Faults(BaseModel):
    """What the mock does wrong, and how slowly it does it."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    ttft_ms: float = Field(default=0.0, ge=0)
    token_delay_ms: float = Field(default=0.0, ge=0)
    fail_at: int | None = Field(default=None, ge=0, description="drop the connection after k tokens")
    error_at: int | None = Field(default=None, ge=0, description="send an in-stream error after k tokens")
    stall_at: int | None = Field(default=None, ge=0, description="stop sending after k tokens")
    eos_at: int | None = Field(default=None, ge=1, description="end with eos after k tokens")
    fail_status: int | None = Field(default=None, ge=400, le=599, description="answer generate with it")
    fail_plain: bool = Field(default=False, description="send fail_status with a plain-text body")
    dead: bool = False


class MockConfig(BaseModel):
    """Static facts of the emulated replica."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    slots: int = Field(default=4, ge=1)
    ctx_max: int = Field(default=4096, ge=16)
    model_id: str = "mock-model"
    loading_s: float = Field(default=0.0, ge=0)
