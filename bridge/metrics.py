"""Prometheus metrics of one bridge instance, held in a registry of its own (never the global default).

Other components report through ``MetricsRecorder`` methods; the web layer exposes ``render()``.
"""

from __future__ import annotations

import bisect
import itertools
import math
import os
import time
from collections.abc import Iterator
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

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


class Cell:
    """The counts of one label set of a `_CountsAndLatency`: its counter's and its histogram's (shared with the
    label sets that differ only in the counter's extra labels). The lists are the collector's own, updated in
    place, so a cell kept by a caller stays current."""

    __slots__ = ("_bounds", "_counted", "_latency")

    def __init__(self, counted: list[float], latency: list[float], bounds: tuple[float, ...]) -> None:
        self._counted = counted
        self._latency = latency
        self._bounds = bounds

    def observe(self, seconds: float) -> None:
        """Count one event and its latency."""
        self._counted[0] += 1
        # The first bucket whose bound is >= seconds, as Histogram.observe picks it.
        self._latency[bisect.bisect_left(self._bounds, seconds)] += 1
        self._latency[-2] += seconds


class _CountsAndLatency(Collector):
    """A counter and a histogram fed together, counted in plain Python: ``scim_bridge_requests_total`` with
    ``scim_bridge_request_duration_seconds``, and ``scim_bridge_master_calls_total`` with
    ``scim_bridge_master_call_duration_seconds``.

    Every request and every master call is counted: prometheus_client's children take a lock and check their
    labels on each call (the pair cost ~2 us per request, ~28k instructions per master call against ~5k here).
    Only the event loop's thread counts and scrapes, so plain integers suffice; the exposition is what a
    Counter and a Histogram with these names, labels and buckets write (each child with its ``_created``
    time). The histogram's labels are the first of the counter's.
    """

    def __init__(
        self, counter: tuple[str, str, tuple[str, ...]], histogram: tuple[str, str, tuple[str, ...]]
    ) -> None:
        self._counter = counter
        self._histogram = histogram
        self._bounds = (*_BUCKETS, math.inf)
        # The `le` label text Histogram writes (prometheus_client leaves this helper untyped).
        self._les = tuple(floatToGoString(bound) for bound in self._bounds)  # type: ignore[no-untyped-call]
        # counter labels -> [count, created]
        self._counts: dict[tuple[object, ...], list[float]] = {}
        # histogram labels -> [count per bucket (not cumulative)..., sum, created]
        self._latency: dict[tuple[object, ...], list[float]] = {}
        self._cells: dict[tuple[object, ...], Cell] = {}
        self._width = len(histogram[2])

    def observe(self, key: tuple[object, ...], seconds: float) -> None:
        """Count one event under `key` (the counter's label values) and its latency under the histogram's."""
        cell = self._cells.get(key)
        if cell is None:
            # Kept per key, as request cells are kept per route (label sets are bounded): every master call
            # counts one, and a new Cell with the two lookups behind it cost ~3k instructions.
            cell = self._cells[key] = self.cell(key)
        cell.observe(seconds)

    def cell(self, key: tuple[object, ...]) -> Cell:
        """The counts of `key` (the counter's label values), to observe its events with."""
        counted = self._counts.get(key)
        if counted is None:
            counted = self._counts[key] = [0, time.time()]
        latency = self._latency.get(key[: self._width])
        if latency is None:
            latency = self._latency[key[: self._width]] = [0] * len(self._bounds) + [0.0, time.time()]
        return Cell(counted, latency, self._bounds)

    def total(self) -> int:
        """Events counted, all labels together."""
        return int(sum(counted[0] for counted in self._counts.values()))

    def collect(self) -> Iterator[Metric]:
        name, documentation, labels = self._counter
        counter = CounterMetricFamily(name, documentation, labels=labels)
        for values, (count, created) in self._counts.items():
            counter.add_metric([str(value) for value in values], count, created=created)
        yield counter
        name, documentation, labels = self._histogram
        latency = HistogramMetricFamily(name, documentation, labels=labels)
        buckets = len(self._bounds)
        for values, counts in self._latency.items():
            texts = [str(value) for value in values]
            cumulative = itertools.accumulate(counts[:buckets])
            latency.add_metric(texts, list(zip(self._les, cumulative, strict=True)), counts[buckets])
            latency.add_sample(name + "_created", dict(zip(labels, texts, strict=True)), counts[-1])
        yield latency


class MetricsRecorder:
    """Every metric of the bridge; its methods are the interface other components report through."""

    def __init__(self, db_path: str) -> None:
        self.registry = CollectorRegistry()
        self.started_at = time.time()
        r = self.registry
        # CPU seconds, resident memory and open files of the bridge itself (from /proc; nothing elsewhere):
        # one event loop serves every request, so a process near one core of CPU is the bridge saturated.
        ProcessCollector(registry=r)
        info = Gauge("scim_bridge_build_info", "Version of the running bridge.", ["version"], registry=r)
        info.labels(__version__).set(1)
        Gauge("scim_bridge_start_time_seconds", "Unix time the bridge started.", registry=r).set(
            self.started_at
        )
        self._requests = _CountsAndLatency(
            (
                "scim_bridge_requests",
                "Inbound HTTP requests by SCIM resource, operation, status and IdP client.",
                ("resource", "operation", "status", "client"),
            ),
            (
                "scim_bridge_request_duration_seconds",
                "Inbound request latency by SCIM resource and operation.",
                ("resource", "operation"),
            ),
        )
        r.register(self._requests)
        self.auth_failures = Counter(
            "scim_bridge_auth_failures_total",
            "IdP requests refused before reaching a handler (unauthorized, rate_limited).",
            ["reason"],
            registry=r,
        )
        self._master_calls = _CountsAndLatency(
            (
                "scim_bridge_master_calls",
                "Calls to the Determined master by method, path template and outcome.",
                ("method", "endpoint", "outcome"),
            ),
            (
                "scim_bridge_master_call_duration_seconds",
                "Latency of calls to the Determined master by method and path template.",
                ("method", "endpoint"),
            ),
        )
        r.register(self._master_calls)
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
        self.reconcile_refused = Gauge(
            "scim_bridge_reconcile_refused",
            "Mapped users (or groups) the background loop's last run of this path found gone or renamed past "
            "the mass-retirement guard, so it changed nothing (0: allowed).",
            ["path"],
            registry=r,
        )
        self.store_pruned = Counter(
            "scim_bridge_store_pruned_rows_total",
            "Rows deleted by retention, by table (intents, audit_log).",
            ["table"],
            registry=r,
        )
        r.register(_StoreSize(db_path))

    def request_cell(self, resource: str, operation: str, status: int, client: str) -> Cell:
        """The counts of inbound requests with these labels; its `observe` counts one and its latency (label
        sets are bounded, and the metrics middleware keeps a cell per route: see bridge/web/metrics.py)."""
        return self._requests.cell((resource, operation, status, client))

    def observe_auth_failure(self, reason: str) -> None:
        """Count one refused IdP request (``unauthorized`` or ``rate_limited``)."""
        self.auth_failures.labels(reason).inc()

    def observe_master_call(self, method: str, path_template: str, outcome: str, seconds: float) -> None:
        """Count one master call; ``path_template`` keeps ids out of labels, ``outcome`` is e.g. ``200``/``timeout``."""
        self._master_calls.observe((method, path_template, outcome), seconds)

    def set_intents_pending(self, count: int) -> None:
        """Publish how many write intents are open in the store."""
        self.intents_pending.set(count)

    def set_reconcile_refused(self, path: str, counted: int) -> None:
        """Publish the guard's decision on the last background run of `path` ("background" or "pass"): the
        gone and renamed mappings it counted, 0 when allowed."""
        self.reconcile_refused.labels(path).set(counted)

    def observe_pruned(self, table: str, rows: int) -> None:
        """Count rows a retention pass deleted from `table` (``intents`` or ``audit_log``)."""
        self.store_pruned.labels(table).inc(rows)

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
        return self._requests.total()

    def render(self) -> bytes:
        """The registry in the Prometheus text exposition format."""
        return generate_latest(self.registry)
