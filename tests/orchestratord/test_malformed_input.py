"""Strict validation and the error envelope: malformed input is a 4xx envelope, never a 5xx or a hang."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.orchestratord.orchd_harness import MODEL, Daemon, make_config, running_daemon

ENVELOPE_KEYS = {"code", "message", "retriable", "correlation_id"}


def assert_envelope(response_json: dict[str, object], code: str) -> None:
    assert ENVELOPE_KEYS <= response_json.keys()
    assert response_json["code"] == code


@pytest.mark.req("ORCH-1002", "ORCH-1081")
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"model_ref": MODEL, "prompt": "x", "max_tokens": "1"}, "max_tokens"),
        ({"model_ref": MODEL, "prompt": "x", "max_tokens": 1.0}, "max_tokens"),
        ({"model_ref": MODEL, "prompt": "x", "max_tokens": 1, "colour": "red"}, "colour"),
        ({"model_ref": MODEL, "prompt": "x", "max_tokens": 1, "task_id": "not-a-uuid"}, "task_id"),
        ({"model_ref": MODEL, "prompt": "x", "max_tokens": 0}, "max_tokens"),
        ({"model_ref": MODEL, "prompt": "x", "max_tokens": 1, "seed": 2**32}, "seed"),
        ({"model_ref": MODEL, "prompt": "x", "max_tokens": 1, "temperature": True}, "temperature"),
        ({"prompt": "x", "max_tokens": 1}, "model_ref"),
        ({"model_ref": MODEL, "max_tokens": 1}, "prompt"),
        (
            {
                "model_ref": MODEL,
                "prompt": "x",
                "messages": [{"role": "user", "content": "y"}],
                "max_tokens": 1,
            },
            "prompt",
        ),
        ({"model_ref": MODEL, "prompt": "x", "max_tokens": 1, "workload": "chat"}, "workload"),
        ({"model_ref": MODEL, "prompt": "x", "max_tokens": 1, "placement": {"mode": "pin"}}, "pin_pool_id"),
    ],
)
async def test_invalid_params_names_the_field(daemon: Daemon, body: dict[str, object], field: str) -> None:
    response = await daemon.client.post("/v1/tasks", json=body)
    assert response.status_code == 400
    assert_envelope(response.json(), "INVALID_PARAMS")
    assert field in response.json()["message"]


@pytest.mark.req("ORCH-1081", "ORCH-1201")
@pytest.mark.parametrize(
    "raw",
    [b"{", b"not json", b'{"model_ref": "\xff\xfe", "prompt": "x", "max_tokens": 1}', b"[1, 2]", b"null"],
)
async def test_bad_json_and_invalid_utf8_are_400(daemon: Daemon, raw: bytes) -> None:
    response = await daemon.client.post(
        "/v1/tasks", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert_envelope(response.json(), "INVALID_PARAMS")


@pytest.mark.req("ORCH-1081")
async def test_bad_uuid_in_path_is_400(daemon: Daemon) -> None:
    for path in ("/v1/tasks/nope", "/v1/tasks/nope/stream", "/v1/sessions/123"):
        response = await daemon.client.get(path)
        assert response.status_code == 400, path
        assert_envelope(response.json(), "INVALID_PARAMS")
        assert "id" in response.json()["message"]


@pytest.mark.req("ORCH-1081", "ORCH-1010")
async def test_a_bad_stream_id_and_verbose_flag_are_refused_together_naming_both(daemon: Daemon) -> None:
    response = await daemon.client.get("/v1/tasks/nope/stream", params={"verbose": "maybe"})
    assert response.status_code == 400
    assert_envelope(response.json(), "INVALID_PARAMS")
    assert response.json()["message"] == (
        "path.id: Input should be a valid UUID, invalid character: found `n` at 0; "
        "query.verbose: Input should be a valid boolean, unable to interpret input"
    )
    unknown = await daemon.client.get(
        f"/v1/tasks/{str(uuid.uuid4()).upper()}/stream", params={"verbose": "on"}
    )
    assert unknown.status_code == 404 and unknown.json()["code"] == "NOT_FOUND"


@pytest.mark.req("ORCH-1003", "ORCH-1081")
async def test_body_over_the_limit_is_413_announced_or_chunked() -> None:
    async with running_daemon(config=make_config(limits={"max_body_bytes": 1024})) as daemon:
        big = b'{"model_ref": "m", "prompt": "' + b"x" * 2048 + b'", "max_tokens": 1}'
        announced = await daemon.client.post(
            "/v1/tasks", content=big, headers={"content-type": "application/json"}
        )
        assert announced.status_code == 413
        assert_envelope(announced.json(), "PAYLOAD_TOO_LARGE")

        async def chunks():  # type: ignore[no-untyped-def]
            for start in range(0, len(big), 256):
                yield big[start : start + 256]

        chunked = await daemon.client.post(
            "/v1/tasks", content=chunks(), headers={"content-type": "application/json"}
        )
        assert chunked.status_code == 413
        assert_envelope(chunked.json(), "PAYLOAD_TOO_LARGE")


@pytest.mark.req("ORCH-1081")
async def test_over_long_header_is_400_not_5xx(daemon: Daemon) -> None:
    response = await daemon.client.get("/v1/capabilities", headers={"x-padding": "a" * 20_000})
    assert response.status_code == 400
    assert_envelope(response.json(), "INVALID_PARAMS")
    assert "x-padding" in response.json()["message"]


@pytest.mark.req("ORCH-1202")
async def test_correlation_id_is_echoed_or_generated_on_every_response(daemon: Daemon) -> None:
    echoed = await daemon.client.get("/healthz", headers={"x-correlation-id": "abc-123"})
    assert echoed.headers["x-correlation-id"] == "abc-123"
    error = await daemon.client.get(f"/v1/tasks/{uuid.uuid4()}", headers={"x-correlation-id": "req-9"})
    assert error.status_code == 404
    assert error.headers["x-correlation-id"] == "req-9"
    assert error.json()["correlation_id"] == "req-9"
    generated = await daemon.client.get("/healthz", headers={"x-correlation-id": "has space"})
    assert uuid.UUID(generated.headers["x-correlation-id"]).version == 4
    unknown_route = await daemon.client.get("/no/such/route")
    assert unknown_route.status_code == 404
    assert unknown_route.json()["correlation_id"] == unknown_route.headers["x-correlation-id"]


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
task_fields = st.sampled_from(
    [
        "model_ref",
        "prompt",
        "messages",
        "max_tokens",
        "task_id",
        "seed",
        "ctx",
        "stop",
        "placement",
        "priority",
    ]
)


@pytest.mark.req("ORCH-1081", "ORCH-1201")
async def test_arbitrary_json_bodies_never_yield_5xx(daemon: Daemon) -> None:
    seen: list[int] = []

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.dictionaries(task_fields, json_values, max_size=6) | json_values)
    def bodies(body: object) -> None:
        seen.append(0)
        samples.append(body)

    samples: list[object] = []
    bodies()
    for body in samples:
        response = await daemon.client.post("/v1/tasks", json=body)
        assert response.status_code < 500, (body, response.text)
        if response.status_code >= 400:
            assert ENVELOPE_KEYS <= response.json().keys()
    assert seen


@pytest.mark.req("ORCH-1082", "ORCH-1203")
@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/v1/tasks", "POST"),
        ("DELETE", "/v1/tasks/{id}", "GET"),
        ("POST", "/v1/sessions/{id}", "DELETE, GET"),
        ("POST", "/v1/capabilities", "GET"),
    ],
)
async def test_a_method_a_known_path_does_not_serve_is_405_with_allow(
    daemon: Daemon, method: str, path: str, allow: str
) -> None:
    response = await daemon.client.request(method, path.format(id=uuid.uuid4()))
    assert response.status_code == 405
    assert_envelope(response.json(), "METHOD_NOT_ALLOWED")
    assert response.json()["retriable"] is False
    assert response.headers["allow"] == allow
