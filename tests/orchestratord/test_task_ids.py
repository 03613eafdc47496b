"""Task and session ids: server-assigned UUIDv4, canonical lowercase rendering, non-UUID path ids refused."""

from __future__ import annotations

import uuid

import pytest

from tests.orchestratord.orchd_harness import Daemon, read_stream


@pytest.mark.req("ORCH-1006")
async def test_a_task_without_task_id_gets_a_random_uuid4_in_canonical_form(daemon: Daemon) -> None:
    ids = [(await daemon.submit()).json()["task_id"] for _ in range(3)]
    assert len(set(ids)) == 3
    for task_id in ids:
        parsed = uuid.UUID(task_id)
        assert parsed.version == 4
        assert task_id == str(parsed)


@pytest.mark.req("ORCH-1006")
async def test_client_ids_in_upper_case_are_rendered_lowercase_everywhere(daemon: Daemon) -> None:
    task_id, session_id = uuid.uuid4(), uuid.uuid4()
    response = await daemon.submit(task_id=str(task_id).upper(), session_id=str(session_id).upper())
    assert response.status_code == 202, response.text
    assert response.json()["task_id"] == str(task_id)
    _, events = await read_stream(daemon.client, str(task_id).upper())
    assert events[-1].event == "end"
    status = (await daemon.client.get(f"/v1/tasks/{str(task_id).upper()}")).json()
    assert (status["task_id"], status["session_id"]) == (str(task_id), str(session_id))
    session = (await daemon.client.get(f"/v1/sessions/{session_id}")).json()
    assert session["session_id"] == str(session_id)


@pytest.mark.req("ORCH-1006")
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/tasks/not-a-uuid"),
        ("GET", "/v1/tasks/123/stream"),
        ("POST", "/v1/tasks/zzzz/cancel"),
        ("GET", "/v1/sessions/abc"),
        ("DELETE", "/v1/sessions/abc"),
    ],
)
async def test_a_path_id_that_is_not_a_uuid_is_400_invalid_params(
    daemon: Daemon, method: str, path: str
) -> None:
    response = await daemon.client.request(method, path)
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_PARAMS"
