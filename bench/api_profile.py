"""Where one API prediction's time goes, in this process: prints figures, asserts nothing.

    .venv/bin/python bench/api_profile.py [--model tissue-of-origin] [--requests 3000]

A portal on a throw-away SQLite database and diskcache under a temporary folder (as `make run` and
bench/api_bench.py's one-machine mode), a real API key of a throw-away researcher, and `--requests` distinct
bodies of the model's real held-out samples (bench/api_bench.py's scheme: every body differs, so every
request takes the model path) sent through Flask's test client under cProfile, after a warm-up. No HTTP
server or socket: what is left is what the portal adds above the model, the work issue 16 removes. The time
of each part is the cumulative time of the functions that stand for it (below, PARTS), per request; parts
overlap where one calls another (the view holds the rest), and "the whole request" is the test client's call.
cProfile sees the requests' thread only: the audit entry's and the result cache's writes happen on their
writer threads (portal.batching), so the request's part is its wait; the process's CPU per request, over
every thread and without the profiler, is measured in a second pass and printed first.
"""
from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from api_bench import API_RATE_LIMIT, PASSWORD, USER_EMAIL, build_bodies  # noqa: E402

WARM_UP = 200
# (part, file suffix, function name): the functions whose cumulative time stands for a part
PARTS = [
    ("the whole request (test client)", "werkzeug/test.py", "open"),
    ("Flask dispatch (the view and its hooks)", "flask/app.py", "full_dispatch_request"),
    ("before-request hooks (request id, NUL guard, sign-in guard...)", "flask/app.py", "preprocess_request"),
    ("after-request hooks (headers, access log, metrics)", "flask/app.py", "process_response"),
    ("API key: verified owner", "portal/api/caller.py", None),
    ("rate limits (portal.api.limits)", "portal/api/limits.py", "_check"),
    ("Flask-Limiter's hook (it limits sign-in only)", "flask_limiter/_extension.py", "_check_request_limit"),
    ("body: pydantic parse and validation", "pydantic/main.py", "model_validate_json"),
    ("prediction (service.predict_samples)", "portal/api/service.py", "predict_samples"),
    ("  of which the model's probabilities", "engine/bundle.py", "predict_proba"),
    ("  of which the out-of-distribution score", "engine/ood.py", "score"),
    ("  of which result-cache reads and writes", "portal/api/cache.py", None),
    ("audit entry (portal.accounts.audit.record)", "portal/accounts/audit.py", "record"),
    ("metrics (prometheus_client)", "prometheus_client/metrics.py", None),
    ("JSON answer (flask.json)", "flask/json/provider.py", "response"),
]


def _portal(tmp: Path):
    from engine import settings as engine_settings
    from portal.accounts import api_keys
    from portal.accounts.users import create_user
    from portal.app import create_app
    from portal.core.settings import Settings

    settings = Settings.from_env(environ={}, var_dir=tmp, database_url=f"sqlite:///{tmp / 'portal.db'}",
                                 models_dir=engine_settings.models_dir(), data_dir=engine_settings.data_dir(),
                                 secret_key="profile-secret-not-for-production", admin_email="admin@example.org",
                                 admin_password=PASSWORD, api_rate_limit=API_RATE_LIMIT)
    app = create_app(settings)
    db = app.server.extensions["cancer_alpha"].db
    user = create_user(db, USER_EMAIL, "Profile researcher", "researcher", PASSWORD)
    _, key = api_keys.create_key(db, user.id, "api-profile")
    return app.server, key


def _cumulative(stats: pstats.Stats, suffix: str, name: str | None) -> float:
    """The largest cumulative time of a matching function (the outermost call of that part)."""
    found = [ct for (path, _, function), (_, _, _, ct, _) in stats.stats.items()
             if path.endswith(suffix) and (name is None or function == name)]
    if not found:
        return 0.0
    if name is None:  # a whole module: its entry points' times (functions called from outside it)
        return sum(ct for (path, _, function), (_, _, _, ct, callers) in stats.stats.items()
                   if path.endswith(suffix) and not any(c[0].endswith(suffix) for c in callers))
    return max(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tissue-of-origin")
    parser.add_argument("--requests", type=int, default=3000)
    args = parser.parse_args()
    bodies, description = build_bodies(args.model)
    with tempfile.TemporaryDirectory() as folder:
        server, key = _portal(Path(folder))
        client = server.test_client()
        url = f"/api/v1/models/{args.model}/predict"
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

        def send(u: int) -> None:
            answer = client.post(url, data=bodies.distinct(u), headers=headers)
            if answer.status_code != 200:
                sys.exit(f"request {u} answered {answer.status_code}: {answer.get_data(as_text=True)[:300]}")

        for u in range(WARM_UP):
            send(u)
        cpu, started = time.process_time(), time.perf_counter()
        for u in range(WARM_UP + args.requests, WARM_UP + 2 * args.requests):  # other bodies, no profiler
            send(u)
        cpu, plain_wall = time.process_time() - cpu, time.perf_counter() - started
        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.enable()
        for u in range(WARM_UP, WARM_UP + args.requests):
            send(u)
        profiler.disable()
        wall = time.perf_counter() - started
        portal = server.extensions["cancer_alpha"]
        writer = portal.audit_writer
        portal.db.dispose()
    stats = pstats.Stats(profiler)
    n = args.requests
    print(f"{description}\n{n} distinct requests in-process, one at a time: {1000 * plain_wall / n:.2f} ms each, "
          f"{1000 * cpu / n:.2f} ms of the process's CPU (every thread); audit entries "
          f"{writer.entries / max(writer.batches, 1):.2f} per transaction")
    print(f"under cProfile (which adds to every call): {1000 * wall / n:.2f} ms each")
    for part, suffix, name in PARTS:
        print(f"  {part:<66} {1000 * _cumulative(stats, suffix, name) / n:6.2f} ms")
    print("\nthe 25 functions with the most time of their own, per request:")
    rows = sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[:25]
    for (path, line, function), (_, calls, own, _, _) in rows:
        short = "/".join(Path(path).parts[-2:])
        print(f"  {1000 * own / n:6.3f} ms  {calls / n:5.1f} calls  {short}:{line} {function}")


if __name__ == "__main__":
    main()
