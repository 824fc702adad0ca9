"""A small client of Prometheus's HTTP API (`/api/v1/query_range`), on the standard library: every call has a
bounded timeout (TIMEOUT) and a bounded answer (MAX_ANSWER_BYTES), and every failure (not configured, not
reachable, slow, a refused query, an answer that is not Prometheus's) is a PrometheusUnavailable whose message
says what to do, for the page to show instead of a chart; never a trace."""
from __future__ import annotations

import json
import math
import socket
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from portal.monitoring.promql import QUERIES, TRAFFIC

TIMEOUT = 2.0  # seconds per request: the page waits for at most this, once per chart
MAX_ANSWER_BYTES = 5 * 1024 * 1024  # a range query of a few series at a few hundred points is far smaller
POINTS = 120  # points per series over the chosen window
MIN_STEP = 15  # seconds: the usual scrape interval, below which points repeat themselves
NOT_CONFIGURED = ("Prometheus is not configured: set CANCER_ALPHA_PROMETHEUS_URL to the Prometheus that scrapes "
                  "this portal (for example http://prometheus:9090) to see request rate, latency and errors here.")


class PrometheusUnavailable(Exception):
    """Prometheus could not answer a query; the message is for the person reading the page."""


@dataclass(frozen=True)
class Series:
    labels: dict[str, str]
    times: list[datetime]
    values: list[float | None]  # None where Prometheus has no number (NaN: no traffic to divide by)


@dataclass
class Traffic:
    """The traffic charts' series by query name (promql.TRAFFIC), or the message that replaces them."""

    series: dict[str, list[Series]] = field(default_factory=dict)
    message: str | None = None
    start: datetime | None = None
    end: datetime | None = None


def _number(text) -> float | None:
    value = float(text)
    return None if math.isnan(value) or math.isinf(value) else value


class PrometheusClient:
    def __init__(self, base_url: str, timeout: float = TIMEOUT):
        parsed = urllib.parse.urlsplit(base_url or "")
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise PrometheusUnavailable(f"CANCER_ALPHA_PROMETHEUS_URL must be an http:// or https:// address, "
                                        f"not {base_url!r}.")
        self.base_url, self.timeout = base_url.rstrip("/"), timeout

    def _get(self, path: str, params: dict) -> dict:
        url = f"{self.base_url}{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as answer:  # noqa: S310 (scheme checked)
                body = answer.read(MAX_ANSWER_BYTES + 1)
        except urllib.error.HTTPError as error:  # Prometheus answers a bad query with 400 and a JSON reason
            body = error.read(MAX_ANSWER_BYTES + 1)
            reason = _error_text(body) or f"HTTP {error.code}"
            raise PrometheusUnavailable(f"Prometheus at {self.base_url} refused the query: {reason}.") from None
        except (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError) as error:
            reason = getattr(error, "reason", error)
            raise PrometheusUnavailable(f"Prometheus at {self.base_url} is not reachable ({reason}); check "
                                        f"CANCER_ALPHA_PROMETHEUS_URL and that Prometheus runs.") from None
        if len(body) > MAX_ANSWER_BYTES:
            raise PrometheusUnavailable(f"Prometheus at {self.base_url} answered more than "
                                        f"{MAX_ANSWER_BYTES // (1024 * 1024)} MB; choose a shorter window.")
        try:
            document = json.loads(body)
        except ValueError:
            raise PrometheusUnavailable(f"{self.base_url} did not answer as Prometheus does (not JSON); check "
                                        f"CANCER_ALPHA_PROMETHEUS_URL.") from None
        if not isinstance(document, dict) or document.get("status") != "success":
            raise PrometheusUnavailable(f"Prometheus at {self.base_url} refused the query: "
                                        f"{_error_text(body) or 'no reason given'}.")
        return document.get("data") or {}

    def query_range(self, expr: str, start: datetime, end: datetime, step_seconds: float) -> list[Series]:
        data = self._get("/api/v1/query_range", {"query": expr, "start": start.timestamp(),
                                                  "end": end.timestamp(), "step": step_seconds})
        try:
            return [Series(labels=dict(item.get("metric") or {}),
                           times=[datetime.fromtimestamp(float(t), timezone.utc) for t, _ in item["values"]],
                           values=[_number(v) for _, v in item["values"]])
                    for item in data.get("result") or []]
        except (KeyError, TypeError, ValueError):
            raise PrometheusUnavailable(f"Prometheus at {self.base_url} answered a range query in an unknown "
                                        f"shape.") from None


def _error_text(body: bytes) -> str | None:
    try:
        return str(json.loads(body).get("error"))[:300]
    except (ValueError, AttributeError):
        return None


def step_for(window: timedelta) -> int:
    return max(MIN_STEP, int(window.total_seconds() // POINTS))


def traffic(prometheus_url: str | None, window: timedelta, now: datetime | None = None,
            timeout: float = TIMEOUT) -> Traffic:
    """Request rate, latency p50 and p99 and the 5xx share over the last `window`, one range query each. The
    first failure ends the asking (an unreachable Prometheus costs one timeout, not four)."""
    end = now or datetime.now(timezone.utc)
    start = end - window
    if not prometheus_url:
        return Traffic(message=NOT_CONFIGURED, start=start, end=end)
    found = Traffic(start=start, end=end)
    try:
        client = PrometheusClient(prometheus_url, timeout)
        for name in TRAFFIC:
            found.series[name] = client.query_range(QUERIES[name].expr, start, end, step_for(window))
    except PrometheusUnavailable as error:
        return Traffic(message=str(error), start=start, end=end)
    return found
