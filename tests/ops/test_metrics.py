"""/metrics after a scripted set of requests reflects exactly those requests; auth and separate port."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import aiohttp
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from pytest_aiohttp import AiohttpClient

from bridge import __version__
from bridge.metrics import _BUCKETS, MetricsRecorder
from bridge.web.app import create_app
from bridge.web.keys import STORE
from bridge.web.metrics import METRICS, OPERATOR_ENDPOINT
from tests.ops.settings import BASIC_PASSWORD, BASIC_USER, METRICS_TOKEN, make_settings


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    out: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def _value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_counts_kept_per_route_follow_status_client_and_method(
    tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    # The middleware keeps the counts of each registered route per method, status and client after their
    # first request; unmatched requests (404, 405) are classified every time.
    client = await aiohttp_client(create_app(make_settings(tmp_path)))
    right = {"Authorization": aiohttp.encode_basic_auth(BASIC_USER, BASIC_PASSWORD)}
    for _ in range(3):
        assert (await client.get("/scim/v2/Users")).status == 401
        assert (await client.get("/healthz")).status == 200
        assert (await client.post("/healthz")).status == 405
        assert (await client.get("/scim/v2/NoSuchResource", headers=right)).status == 404
        assert (await client.get(f"/nowhere/{_}")).status == 404
        assert (await client.get("/scim/v2/Users/u1")).status == 401
    samples = _samples(await (await client.get("/metrics")).text())
    total = "scim_bridge_requests_total"
    assert _value(samples, total, resource="Users", operation="list", status="401", client="none") == 3
    assert _value(samples, total, resource="Users", operation="get", status="401", client="none") == 3
    assert _value(samples, total, resource="/healthz", operation="get", status="200", client="none") == 3
    assert _value(samples, total, resource="unmatched", operation="post", status="405", client="none") == 3
    assert _value(samples, total, resource="unmatched", operation="get", status="404", client="basic") == 3
    assert _value(samples, total, resource="unmatched", operation="get", status="404", client="none") == 3
    assert sum(v for (name, _), v in samples.items() if name == total) == 18
    hist = "scim_bridge_request_duration_seconds_count"
    assert _value(samples, hist, resource="Users", operation="list") == 3
    assert _value(samples, hist, resource="unmatched", operation="get") == 6


async def test_scripted_requests_are_counted_exactly(tmp_path: Path, aiohttp_client: AiohttpClient) -> None:
    client = await aiohttp_client(create_app(make_settings(tmp_path)))
    for _ in range(3):
        assert (await client.get("/healthz")).status == 200
    assert (await client.get("/readyz")).status == 503  # the master at 127.0.0.1:9 is unreachable
    for _ in range(2):
        assert (await client.get("/no-such-page")).status == 404
    for _ in range(4):
        assert (await client.get("/scim/v2/Users")).status == 401
    wrong = {"Authorization": aiohttp.encode_basic_auth(BASIC_USER, "wrong-password")}
    assert (await client.get("/scim/v2/Groups/abc", headers=wrong)).status == 401
    right = {"Authorization": aiohttp.encode_basic_auth(BASIC_USER, BASIC_PASSWORD)}
    authed = await client.get("/scim/v2/NoSuchResource", headers=right)
    assert authed.status == 404

    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = _samples(await response.text())
    total = "scim_bridge_requests_total"
    assert _value(samples, total, resource="/healthz", operation="get", status="200", client="none") == 3
    assert _value(samples, total, resource="/readyz", operation="get", status="503", client="none") == 1
    assert _value(samples, total, resource="unmatched", operation="get", status="404", client="none") == 2
    assert _value(samples, total, resource="Users", operation="list", status="401", client="none") == 4
    assert _value(samples, total, resource="Groups", operation="get", status="401", client="none") == 1
    assert _value(samples, total, resource="unmatched", operation="get", status="404", client="basic") == 1
    # The scrape itself is counted only after it has been rendered.
    assert _value(samples, total, resource="/metrics", operation="get", status="200", client="none") == 0
    counted = sum(v for (name, _), v in samples.items() if name == total)
    assert counted == 12
    assert _value(samples, "scim_bridge_auth_failures_total", reason="unauthorized") == 5
    hist = "scim_bridge_request_duration_seconds_count"
    assert _value(samples, hist, resource="/healthz", operation="get") == 3
    assert _value(samples, hist, resource="Users", operation="list") == 4
    assert (
        _value(
            samples,
            "scim_bridge_request_duration_seconds_bucket",
            resource="/healthz",
            operation="get",
            le="+Inf",
        )
        == 3
    )
    assert _value(samples, "scim_bridge_build_info", version=__version__) == 1

    again = _samples(await (await client.get("/metrics")).text())
    assert _value(again, total, resource="/metrics", operation="get", status="200", client="none") == 1


def _store_bytes(db_path: str) -> int:
    return sum(p.stat().st_size for p in (Path(db_path), Path(db_path + "-wal")) if p.exists())


async def test_process_cpu_and_memory_are_exposed(tmp_path: Path, aiohttp_client: AiohttpClient) -> None:
    """The process collector's figures are the bridge's own: CPU time it has used and its resident memory."""
    client = await aiohttp_client(create_app(make_settings(tmp_path)))
    samples = _samples(await (await client.get("/metrics")).text())
    assert _value(samples, "process_cpu_seconds_total") > 0
    assert _value(samples, "process_resident_memory_bytes") > 10 * 2**20
    assert _value(samples, "process_open_fds") >= 3
    assert _value(samples, "process_max_fds") >= _value(samples, "process_open_fds")


async def test_component_reports_appear(tmp_path: Path, aiohttp_client: AiohttpClient) -> None:
    settings = make_settings(tmp_path)
    app = create_app(settings)
    recorder = app[METRICS]
    recorder.observe_master_call("GET", "/api/v1/users/{userId}", "200", 0.02)
    recorder.observe_master_call("GET", "/api/v1/users/{userId}", "200", 0.03)
    recorder.observe_master_call("POST", "/api/v1/users", "timeout", 30.0)
    recorder.observe_reconcile("ok", {"user_missing_on_master": 2, "group_members": 1}, 1_700_000_000.0)
    recorder.observe_reconcile("ok", {"user_missing_on_master": 1}, 1_700_000_100.0)
    client = await aiohttp_client(app)
    for target in ("u-1", "u-2", "u-3"):
        await app[STORE].begin_intent(
            request_id="r", operation="create", resource_type="User", target=target, payload_digest="d"
        )
    samples = _samples(await (await client.get("/metrics")).text())
    calls = "scim_bridge_master_calls_total"
    assert _value(samples, calls, method="GET", endpoint="/api/v1/users/{userId}", outcome="200") == 2
    assert _value(samples, calls, method="POST", endpoint="/api/v1/users", outcome="timeout") == 1
    seconds = "scim_bridge_master_call_duration_seconds_sum"
    assert _value(samples, seconds, method="GET", endpoint="/api/v1/users/{userId}") == 0.05
    assert (
        _value(
            samples,
            "scim_bridge_master_call_duration_seconds_bucket",
            method="POST",
            endpoint="/api/v1/users",
            le="10.0",
        )
        == 0
    )
    # Read from the real store at scrape time.
    assert _value(samples, "scim_bridge_intents_pending") == 3
    assert _value(samples, "scim_bridge_reconcile_drift_total", kind="user_missing_on_master") == 3
    assert _value(samples, "scim_bridge_reconcile_drift_total", kind="group_members") == 1
    assert _value(samples, "scim_bridge_reconcile_runs_total", outcome="ok") == 2
    assert _value(samples, "scim_bridge_reconcile_last_success_timestamp_seconds") == 1_700_000_100.0
    size = _store_bytes(settings.database.path)
    assert size > 0
    assert _value(samples, "scim_bridge_store_size_bytes") == size


async def test_registries_are_per_app(tmp_path: Path) -> None:
    first = create_app(make_settings(tmp_path))
    second = create_app(make_settings(tmp_path))
    first[METRICS].set_intents_pending(3)
    assert first[METRICS].registry is not second[METRICS].registry
    assert first[METRICS].pending_intents() == 3
    assert second[METRICS].pending_intents() == 0


async def test_token_protects_metrics(tmp_path: Path, aiohttp_client: AiohttpClient) -> None:
    settings = make_settings(tmp_path, metrics={"token": METRICS_TOKEN})
    client = await aiohttp_client(create_app(settings))
    assert (await client.get("/metrics")).status == 401
    bad = await client.get("/metrics", headers={"Authorization": "Bearer not-the-token-at-all"})
    assert bad.status == 401
    good = await client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert good.status == 200
    assert "scim_bridge_requests_total" in await good.text()


async def test_disabled_metrics_has_no_route(tmp_path: Path, aiohttp_client: AiohttpClient) -> None:
    client = await aiohttp_client(create_app(make_settings(tmp_path, metrics={"enabled": False})))
    assert (await client.get("/metrics")).status == 404


async def test_separate_port(tmp_path: Path, aiohttp_client: AiohttpClient) -> None:
    app = create_app(make_settings(tmp_path, metrics={"port": 0}))
    client = await aiohttp_client(app)
    assert (await client.get("/healthz")).status == 200
    assert (await client.get("/metrics")).status == 404
    url = app[OPERATOR_ENDPOINT].url
    assert url is not None
    async with aiohttp.ClientSession() as session, session.get(f"{url}/metrics") as response:
        assert response.status == 200
        samples = _samples(await response.text())
    total = "scim_bridge_requests_total"
    assert _value(samples, total, resource="/healthz", operation="get", status="200", client="none") == 1
    assert _value(samples, total, resource="unmatched", operation="get", status="404", client="none") == 1


def test_request_counts_and_latency_buckets_as_a_prometheus_histogram_keeps_them(tmp_path: Path) -> None:
    recorder = MetricsRecorder(str(tmp_path / "x.db"))
    # A bound belongs to its own bucket (le: less than or equal); past the last bound is +Inf only.
    for seconds in (0.005, 0.0050001, 0.3, 31.0):
        recorder.request_cell("Users", "get", 200, "okta").observe(seconds)
    recorder.request_cell("Users", "get", 404, "okta").observe(0.001)
    samples = _samples(recorder.render().decode())
    labels = {"resource": "Users", "operation": "get"}
    bucket = "scim_bridge_request_duration_seconds_bucket"
    assert [
        _value(samples, bucket, le=le, **labels) for le in ("0.005", "0.01", "0.25", "0.5", "30.0", "+Inf")
    ] == [
        2.0,
        3.0,
        3.0,
        4.0,
        4.0,
        5.0,
    ]
    assert _value(samples, "scim_bridge_request_duration_seconds_count", **labels) == 5.0
    assert (
        _value(samples, "scim_bridge_request_duration_seconds_sum", **labels)
        == 0.005 + 0.0050001 + 0.3 + 31.0 + 0.001
    )
    total = "scim_bridge_requests_total"
    assert _value(samples, total, status="200", client="okta", **labels) == 4.0
    assert _value(samples, total, status="404", client="okta", **labels) == 1.0
    assert (
        "scim_bridge_requests_created",
        frozenset({**labels, "status": "200", "client": "okta"}.items()),
    ) in samples
    assert ("scim_bridge_request_duration_seconds_created", frozenset(labels.items())) in samples
    assert recorder.requests_total() == 5


def test_plain_counts_expose_what_prometheus_client_s_counter_and_histogram_do(tmp_path: Path) -> None:
    """Requests and master calls are counted without prometheus_client's children; /metrics shows the same
    families, samples, values and _created times as a Counter and a Histogram fed the same observations."""
    recorder = MetricsRecorder(str(tmp_path / "bridge.db"))
    reference = CollectorRegistry()
    requests = Counter(
        "scim_bridge_requests",
        "Inbound HTTP requests by SCIM resource, operation, status and IdP client.",
        ["resource", "operation", "status", "client"],
        registry=reference,
    )
    request_seconds = Histogram(
        "scim_bridge_request_duration_seconds",
        "Inbound request latency by SCIM resource and operation.",
        ["resource", "operation"],
        buckets=_BUCKETS,
        registry=reference,
    )
    calls = Counter(
        "scim_bridge_master_calls_total",
        "Calls to the Determined master by method, path template and outcome.",
        ["method", "endpoint", "outcome"],
        registry=reference,
    )
    call_seconds = Histogram(
        "scim_bridge_master_call_duration_seconds",
        "Latency of calls to the Determined master by method and path template.",
        ["method", "endpoint"],
        buckets=_BUCKETS,
        registry=reference,
    )
    observed = [
        (("Users", "create", 201, "okta"), ("POST", "/api/v1/users", "200"), 0.004),
        (("Users", "create", 409, "okta"), ("POST", "/api/v1/users", "timeout"), 30.0),
        (("Users", "patch", 200, "none"), ("PATCH", "/api/v1/users/{userId}", "200"), 0.25),
        (("Users", "create", 201, "okta"), ("POST", "/api/v1/users", "200"), 0.005),
    ]
    for step, (request, call, seconds) in enumerate(observed):
        with mock.patch("time.time", return_value=1_700_000_000.0 + step):
            recorder.request_cell(*request).observe(seconds)
            requests.labels(*(str(value) for value in request)).inc()
            request_seconds.labels(*request[:2]).observe(seconds)
            recorder.observe_master_call(*call, seconds)
            calls.labels(*call).inc()
            call_seconds.labels(*call[:2]).observe(seconds)
    prefixes = ("scim_bridge_requests", "scim_bridge_request_duration", "scim_bridge_master_call")
    ours = [line for line in recorder.render().decode().splitlines() if line.startswith(prefixes)]
    theirs = [line for line in generate_latest(reference).decode().splitlines() if line.startswith(prefixes)]
    assert ours == theirs
    # Per pair: three counter children (total, created) and two histogram children (buckets, count, sum, created).
    assert len(theirs) == 2 * (3 * 2 + 2 * (len(_BUCKETS) + 1 + 3))
