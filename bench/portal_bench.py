"""Portal speed on this machine: prints figures, asserts nothing.

    python bench/portal_bench.py            (or: make bench)

- start-up: importing the portal and `create_app` on a new SQLite database (migrations and the first
  administrator included), in this fresh process;
- Performance page server time: the callback that builds all of a version's figures, called through
  the Flask test client as a signed-in user: the first view (figures built) and the median of 20
  later views (figures cached per version), for each production model;
- the other requests a page load makes (layout, dependencies).
Uses the registry of `make run` (models/).
"""
from __future__ import annotations

import re
import sys
import tempfile
import time
from pathlib import Path

started = time.perf_counter()
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from timing import median_ms  # noqa: E402

from portal.app import create_app  # noqa: E402
from portal.core.settings import Settings  # noqa: E402

PASSWORD = "benchmark password 2026"  # a throw-away account in a throw-away database


def performance_payload(model: str, version: int) -> dict:
    inputs = [("performance-model", "value", model), ("performance-version", "value", version),
              ("performance-compare", "value", None), ("performance-normalise", "value", "counts")]
    return {"output": "performance-content.children",
            "outputs": {"id": "performance-content", "property": "children"},
            "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
            "changedPropIds": ["performance-version.value"], "state": []}


def main() -> None:
    var = Path(tempfile.mkdtemp(prefix="cancer-alpha-bench-"))
    settings = Settings.from_env(var_dir=var, database_url=f"sqlite:///{var / 'portal.db'}",
                                 admin_email="bench@example.org", admin_password=PASSWORD)
    app = create_app(settings)
    print(f"start-up (imports + create_app on a new database): {(time.perf_counter() - started) * 1000:.0f} ms")

    client = app.server.test_client()
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    client.post("/login", data={"email": "bench@example.org", "password": PASSWORD, "csrf": csrf})
    print(f"GET /_dash-layout: {median_ms(lambda: client.get('/_dash-layout')):.1f} ms; "
          f"GET /_dash-dependencies: {median_ms(lambda: client.get('/_dash-dependencies')):.1f} ms")

    registry = app.server.extensions["cancer_alpha"].registry
    for name in registry.models():
        version = registry.resolve(name)
        payload = performance_payload(name, version.version)
        start = time.perf_counter()
        response = client.post("/_dash-update-component", json=payload)
        first = (time.perf_counter() - start) * 1000
        assert response.status_code == 200, response.status_code
        ms = median_ms(lambda: client.post("/_dash-update-component", json=payload))
        print(f"Performance page, {version.ref} ({len(version.classes)} classes): first view {first:.0f} ms "
              f"(figures built), then {ms:.1f} ms (figures cached); {len(response.data) / 1024:.0f} KB response")


if __name__ == "__main__":
    main()
