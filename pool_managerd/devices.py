"""Device discovery and per-replica device plans (ORCH-6003, ORCH-6004).

NVIDIA GPUs are discovered with `nvidia-smi`; a host without it is CPU-only and says so. A pool names
GPU indices or the explicit `cpu` carve-out; replicas are spread over the named GPUs round-robin and
see only their GPU through CUDA_VISIBLE_DEVICES. A GPU pool never falls back to CPU: a missing GPU or a
model larger than a GPU's memory fails fast.
"""

from __future__ import annotations

import csv
import io
import math
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from orchestrator_core.errors import InvalidParams

CPU = "cpu"
NVIDIA_SMI_QUERY = (
    "--query-gpu=index,uuid,name,memory.total,memory.free,utilization.gpu",
    "--format=csv,noheader,nounits",
)
_MIB = 1 << 20

CommandRunner = Callable[[Sequence[str]], str]


@dataclass(frozen=True)
class GpuDevice:
    """One NVIDIA GPU as nvidia-smi reports it."""

    index: int
    uuid: str
    name: str
    memory_total_mb: int
    memory_free_mb: int
    utilization_pct: float

    @property
    def memory_used_mb(self) -> int:
        return max(0, self.memory_total_mb - self.memory_free_mb)


@dataclass(frozen=True)
class DeviceInventory:
    """The devices of this host; `note` says why the host is CPU-only when it is."""

    gpus: tuple[GpuDevice, ...] = ()
    note: str = ""

    @property
    def cpu_only(self) -> bool:
        return not self.gpus

    def gpu(self, index: int) -> GpuDevice | None:
        return next((g for g in self.gpus if g.index == index), None)

    def describe(self) -> str:
        if self.cpu_only:
            return f"CPU-only host ({self.note})" if self.note else "CPU-only host"
        return ", ".join(f"GPU {g.index} {g.name} {g.memory_total_mb} MiB" for g in self.gpus)


@dataclass(frozen=True)
class DevicePlan:
    """Where one replica runs: `cpu` or one GPU index, and the environment that pins it there."""

    kind: str
    gpu_index: int | None = None
    env: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """The contract's device id: `cpu` or the GPU index."""
        return CPU if self.gpu_index is None else str(self.gpu_index)


def _run_command(argv: Sequence[str]) -> str:
    done = subprocess.run(list(argv), capture_output=True, text=True, timeout=10, check=True)
    return done.stdout


def discover_devices(
    run: CommandRunner = _run_command, which: Callable[[str], str | None] = shutil.which
) -> DeviceInventory:
    """The host's NVIDIA GPUs via nvidia-smi, or a CPU-only inventory that says why."""
    binary = which("nvidia-smi")
    if binary is None:
        return DeviceInventory(note="nvidia-smi not found")
    try:
        output = run([binary, *NVIDIA_SMI_QUERY])
    except (OSError, subprocess.SubprocessError) as exc:
        return DeviceInventory(note=f"nvidia-smi failed: {exc}")
    gpus = parse_nvidia_smi(output)
    return DeviceInventory(gpus=gpus, note="" if gpus else "nvidia-smi lists no GPU")


def parse_nvidia_smi(output: str) -> tuple[GpuDevice, ...]:
    """Parse `index, uuid, name, memory.total, memory.free, utilization.gpu` CSV rows (MiB, percent)."""
    gpus: list[GpuDevice] = []
    for row in csv.reader(io.StringIO(output), skipinitialspace=True):
        if not row or not row[0].strip():
            continue
        if len(row) != 6 or not row[0].strip().isdigit():
            raise InvalidParams(f"nvidia-smi printed an unexpected row: {row!r}")
        index, uuid, name, total, free, util = (cell.strip() for cell in row)
        gpus.append(
            GpuDevice(
                index=int(index),
                uuid=uuid,
                name=name,
                memory_total_mb=_number(total),
                memory_free_mb=_number(free),
                utilization_pct=float(_number(util)),
            )
        )
    return tuple(gpus)


def _number(cell: str) -> int:
    # nvidia-smi prints "[N/A]" or "[Not Supported]" for values a device does not report.
    try:
        return int(float(cell))
    except ValueError:
        return 0


def wire_devices(inventory: DeviceInventory) -> list[dict[str, object]]:
    """The host's devices as the contracts' `Device` objects (ORCH-6021)."""
    return [
        {
            "device_id": str(g.index),
            "kind": "gpu",
            "name": g.name,
            "vram_total_bytes": g.memory_total_mb * _MIB,
            "vram_free_bytes": g.memory_free_mb * _MIB,
            "utilization_pct": min(100.0, max(0.0, g.utilization_pct)),
        }
        for g in inventory.gpus
    ]


def plan_replica_devices(
    pool_id: str,
    devices: Sequence[int] | str,
    replicas: int,
    inventory: DeviceInventory,
    vram_required_mb: int,
) -> list[DevicePlan]:
    """One device plan per replica; raises InvalidParams for a device the host lacks or a VRAM over-ask."""
    where = f"pools[{pool_id}].devices"
    if isinstance(devices, str):
        if devices.lower() != CPU:
            raise InvalidParams(f"{where}: {devices!r} is neither a list of GPU indices nor 'cpu'")
        # An empty mask keeps a CPU pool off every GPU, even with a CUDA-enabled engine build.
        return [DevicePlan(kind=CPU, env={"CUDA_VISIBLE_DEVICES": ""}) for _ in range(replicas)]
    if not devices:
        raise InvalidParams(f"{where}: name GPU indices or 'cpu'")
    indices = [_gpu_index(where, d) for d in devices]
    for index in indices:
        if inventory.gpu(index) is None:
            raise InvalidParams(
                f"{where}: GPU {index} is not present on this host ({inventory.describe()}); "
                "a GPU pool does not fall back to CPU"
            )
    chosen = [indices[i % len(indices)] for i in range(replicas)]
    plans = [DevicePlan(kind="gpu", gpu_index=i, env={"CUDA_VISIBLE_DEVICES": str(i)}) for i in chosen]
    _check_vram(where, plans, inventory, vram_required_mb)
    return plans


def _gpu_index(where: str, index: int) -> int:
    if isinstance(index, bool) or not isinstance(index, int):
        raise InvalidParams(f"{where}: {index!r} is not a GPU index")
    if index < 0:
        raise InvalidParams(f"{where}: GPU index {index} is negative")
    return index


def vram_estimate_mb(model_bytes: int) -> int:
    """VRAM in MiB for `model_bytes`: a replica needs at least its weights (or vram_bytes_per_replica)."""
    return math.ceil(model_bytes / _MIB)


def _check_vram(where: str, plans: Sequence[DevicePlan], inventory: DeviceInventory, needed_mb: int) -> None:
    for index in {p.gpu_index for p in plans if p.gpu_index is not None}:
        gpu = inventory.gpu(index)
        assert gpu is not None  # checked by the caller
        sharing = sum(1 for p in plans if p.gpu_index == index)
        if needed_mb * sharing > gpu.memory_total_mb:
            raise InvalidParams(
                f"{where}: {sharing} replica(s) of a {needed_mb} MiB model need more VRAM than "
                f"GPU {index} ({gpu.name}) has ({gpu.memory_total_mb} MiB)"
            )
