"""Fixtures of the SDK tests: one live orchestratord (uvicorn on 127.0.0.1) with the mock engine."""

from __future__ import annotations

from tests.sdk.live_orchd import live as live
from tests.sdk.live_orchd import orchd as orchd
