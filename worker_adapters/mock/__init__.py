"""A fault-injecting engine emulator, in-process (`MockAdapter`) and over HTTP in four wire formats."""

from worker_adapters.mock.adapter import MockAdapter
from worker_adapters.mock.engine import MockEngine
from worker_adapters.mock.faults import Faults, MockConfig
from worker_adapters.mock.server import WIRES, MockServer, Wire, build_app, serve_mock

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
