"""Device discovery and device plans: CPU-only host, nvidia-smi parsing, masks, no CPU fallback, VRAM."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from orchestrator_core.errors import InvalidParams
from pool_managerd.devices import (
    NVIDIA_SMI_QUERY,
    DeviceInventory,
    discover_devices,
    parse_nvidia_smi,
    plan_replica_devices,
    wire_devices,
)

SMI_OUTPUT = "0, GPU-aaaa, NVIDIA A10, 23028, 22000, 7\n1, GPU-bbbb, NVIDIA A10, 23028, 1000, [N/A]\n"


def two_gpus() -> DeviceInventory:
    return DeviceInventory(gpus=parse_nvidia_smi(SMI_OUTPUT))


@pytest.mark.req("ORCH-6004")
def test_this_host_has_no_nvidia_smi_and_says_it_is_cpu_only() -> None:
    inventory = discover_devices()
    assert inventory.cpu_only
    assert inventory.describe() == "CPU-only host (nvidia-smi not found)"
    assert wire_devices(inventory) == []


@pytest.mark.req("ORCH-6004")
def test_nvidia_smi_is_queried_and_parsed_per_device() -> None:
    calls: list[Sequence[str]] = []

    def run(argv: Sequence[str]) -> str:
        calls.append(argv)
        return SMI_OUTPUT

    inventory = discover_devices(run=run, which=lambda name: f"/usr/bin/{name}")
    assert calls == [["/usr/bin/nvidia-smi", *NVIDIA_SMI_QUERY]]
    assert [(g.index, g.uuid, g.memory_total_mb, g.memory_used_mb) for g in inventory.gpus] == [
        (0, "GPU-aaaa", 23028, 1028),
        (1, "GPU-bbbb", 23028, 22028),
    ]
    assert inventory.gpus[1].utilization_pct == 0.0  # "[N/A]"
    assert wire_devices(inventory)[0] == {
        "device_id": "0",
        "kind": "gpu",
        "name": "NVIDIA A10",
        "vram_total_bytes": 23028 << 20,
        "vram_free_bytes": 22000 << 20,
        "utilization_pct": 7.0,
    }


@pytest.mark.req("ORCH-6004")
def test_failing_nvidia_smi_leaves_a_cpu_only_host_that_says_why() -> None:
    def run(argv: Sequence[str]) -> str:
        raise OSError("driver not loaded")

    inventory = discover_devices(run=run, which=lambda name: "/usr/bin/nvidia-smi")
    assert inventory.cpu_only
    assert "driver not loaded" in inventory.describe()


@pytest.mark.req("ORCH-6003", "ORCH-6005")
def test_cpu_pool_replicas_see_no_gpu() -> None:
    plans = plan_replica_devices("p", "cpu", 2, DeviceInventory(), vram_required_mb=100)
    assert [(p.kind, p.label, p.env) for p in plans] == [("cpu", "cpu", {"CUDA_VISIBLE_DEVICES": ""})] * 2


@pytest.mark.req("ORCH-6003", "ORCH-6005")
def test_gpu_replicas_are_masked_to_their_gpu_round_robin() -> None:
    plans = plan_replica_devices("p", (0, 1), 3, two_gpus(), vram_required_mb=1000)
    assert [p.env["CUDA_VISIBLE_DEVICES"] for p in plans] == ["0", "1", "0"]
    assert [p.label for p in plans] == ["0", "1", "0"]


@pytest.mark.req("ORCH-6003")
def test_gpu_pool_on_a_cpu_only_host_fails_instead_of_falling_back() -> None:
    with pytest.raises(InvalidParams) as raised:
        plan_replica_devices("p", (0,), 1, DeviceInventory(note="nvidia-smi not found"), vram_required_mb=1)
    assert "GPU 0 is not present" in raised.value.message
    assert "does not fall back to CPU" in raised.value.message


@pytest.mark.req("ORCH-6003")
def test_vram_over_ask_fails_naming_device_and_sizes() -> None:
    with pytest.raises(InvalidParams) as raised:
        plan_replica_devices("p", (1,), 2, two_gpus(), vram_required_mb=12_000)
    assert "GPU 1" in raised.value.message
    assert "23028 MiB" in raised.value.message
    assert "12000 MiB" in raised.value.message


@pytest.mark.req("ORCH-6003")
@pytest.mark.parametrize("devices", ["gpu", ()])
def test_malformed_device_lists_are_refused(devices: str | tuple[int, ...]) -> None:
    with pytest.raises(InvalidParams):
        plan_replica_devices("p", devices, 1, two_gpus(), vram_required_mb=1)
