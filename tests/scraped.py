"""The bridge's own ``GET /metrics`` answer, parsed as Prometheus parses it, for tests that assert on it."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import AppClient


async def master_call_outcomes(bridge: AppClient) -> dict[tuple[str, str, str], float]:
    """``scim_bridge_master_calls_total`` by (method, endpoint, outcome), from the bridge's /metrics."""
    response = await bridge.get("/metrics")
    assert response.status == 200, await response.text()
    return {
        (s.labels["method"], s.labels["endpoint"], s.labels["outcome"]): s.value
        for family in text_string_to_metric_families(await response.text())
        for s in family.samples
        if s.name == "scim_bridge_master_calls_total"
    }
