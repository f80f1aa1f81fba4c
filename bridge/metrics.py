"""Prometheus metrics of one bridge instance, held in a registry of its own (never the global default).

Other components report through ``MetricsRecorder`` methods; the web layer exposes ``render()``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bridge import __version__

CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
# Seconds: SCIM calls are dominated by master round trips, and password writes cost bcrypt time (~1 s).
_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class _StoreSize(Collector):
    """Size of the SQLite file plus its write-ahead log, read at scrape time."""

    def __init__(self, db_path: str) -> None:
        self._paths = (db_path, db_path + "-wal")

    def collect(self) -> Iterator[Metric]:
        total = 0
        for path in self._paths:
            try:
                total += os.stat(path).st_size
            except OSError:
                continue
        family = GaugeMetricFamily(
            "scim_bridge_store_size_bytes", "Size of the SQLite store file and its WAL, in bytes."
        )
        family.add_metric([], float(total))
        yield family


class MetricsRecorder:
    """Every metric of the bridge; its methods are the interface other components report through."""

    def __init__(self, db_path: str) -> None:
        self.registry = CollectorRegistry()
        self.started_at = time.time()
        r = self.registry
        info = Gauge("scim_bridge_build_info", "Version of the running bridge.", ["version"], registry=r)
        info.labels(__version__).set(1)
        Gauge("scim_bridge_start_time_seconds", "Unix time the bridge started.", registry=r).set(
            self.started_at
        )
        self.requests = Counter(
            "scim_bridge_requests_total",
            "Inbound HTTP requests by SCIM resource, operation, status and IdP client.",
            ["resource", "operation", "status", "client"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "scim_bridge_request_duration_seconds",
            "Inbound request latency by SCIM resource and operation.",
            ["resource", "operation"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.auth_failures = Counter(
            "scim_bridge_auth_failures_total",
            "IdP requests refused before reaching a handler (unauthorized, rate_limited).",
            ["reason"],
            registry=r,
        )
        self.master_calls = Counter(
            "scim_bridge_master_calls_total",
            "Calls to the Determined master by method, path template and outcome.",
            ["method", "endpoint", "outcome"],
            registry=r,
        )
        self.master_seconds = Histogram(
            "scim_bridge_master_call_duration_seconds",
            "Latency of calls to the Determined master by method and path template.",
            ["method", "endpoint"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.intents_pending = Gauge(
            "scim_bridge_intents_pending", "Write intents recorded but not yet completed.", registry=r
        )
        self.reconcile_runs = Counter(
            "scim_bridge_reconcile_runs_total", "Reconcile passes by outcome.", ["outcome"], registry=r
        )
        self.reconcile_drift = Counter(
            "scim_bridge_reconcile_drift_total",
            "Differences found between the store and the master, by kind.",
            ["kind"],
            registry=r,
        )
        self.reconcile_last = Gauge(
            "scim_bridge_reconcile_last_success_timestamp_seconds",
            "Unix time the last reconcile pass finished successfully (0: never).",
            registry=r,
        )
        r.register(_StoreSize(db_path))
        # labels() takes a lock and builds a key on every call; the label sets are bounded (see
        # bridge/web/metrics.py), so each request's pair of children is looked up once and kept.
        self._request_children: dict[tuple[str, str, int, str], tuple[Counter, Histogram]] = {}

    def observe_request(
        self, resource: str, operation: str, status: int, client: str, seconds: float
    ) -> None:
        """Count one inbound request and its latency."""
        key = (resource, operation, status, client)
        children = self._request_children.get(key)
        if children is None:
            children = (
                self.requests.labels(resource, operation, str(status), client),
                self.request_seconds.labels(resource, operation),
            )
            self._request_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def observe_auth_failure(self, reason: str) -> None:
        """Count one refused IdP request (``unauthorized`` or ``rate_limited``)."""
        self.auth_failures.labels(reason).inc()

    def observe_master_call(self, method: str, path_template: str, outcome: str, seconds: float) -> None:
        """Count one master call; ``path_template`` keeps ids out of labels, ``outcome`` is e.g. ``200``/``timeout``."""
        self.master_calls.labels(method, path_template, outcome).inc()
        self.master_seconds.labels(method, path_template).observe(seconds)

    def set_intents_pending(self, count: int) -> None:
        """Publish how many write intents are open in the store."""
        self.intents_pending.set(count)

    def observe_reconcile(self, outcome: str, drift: dict[str, int], finished_at: float) -> None:
        """Record one reconcile pass: its outcome, drift counts by kind, and when it finished."""
        self.reconcile_runs.labels(outcome).inc()
        for kind, count in drift.items():
            self.reconcile_drift.labels(kind).inc(count)
        if outcome == "ok":
            self.reconcile_last.set(finished_at)

    def last_reconcile(self) -> float | None:
        """Unix time of the last successful reconcile pass, or None."""
        value = self.registry.get_sample_value("scim_bridge_reconcile_last_success_timestamp_seconds")
        return value if value else None

    def pending_intents(self) -> int:
        """The last published number of open write intents."""
        return int(self.registry.get_sample_value("scim_bridge_intents_pending") or 0)

    def requests_total(self) -> int:
        """Inbound requests counted since start, all labels together."""
        return int(
            sum(
                sample.value
                for family in self.requests.collect()
                for sample in family.samples
                if sample.name == "scim_bridge_requests_total"
            )
        )

    def render(self) -> bytes:
        """The registry in the Prometheus text exposition format."""
        return generate_latest(self.registry)
