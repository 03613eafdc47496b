"""A fault-injecting engine emulator, in-process (`MockAdapter`) and over HTTP in four wire formats."""

from mock_engine.adapter import MockAdapter
from mock_engine.engine import MockEngine
from mock_engine.faults import Faults, MockConfig
from mock_engine.server import WIRES, MockServer, Wire, build_app, serve_mock

__all__ = [
    "WIRES",
    "Faults",
    "MockAdapter",
    "MockConfig",
    "MockEngine",
    "MockServer",
    "Wire",
    "build_app",
    "serve_mock",
]
