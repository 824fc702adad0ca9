"""REST API load test on this machine: prints figures, asserts nothing.

    .venv/bin/python bench/api_bench.py [--model tissue-of-origin] [--duration 10] [--paced-duration 30]
                                        [--production-services]

Two gunicorn servers run side by side with deploy/gunicorn.conf.py on free loopback ports:
- portal: `portal.wsgi:server`, `POST /api/v1/models/{model}/predict` with a real API key (a throw-away
  researcher in a throw-away SQLite database under a temporary folder, result cache on diskcache, limits in
  memory; with --production-services a throw-away PostgreSQL database and Redis database 13 instead, on the
  local servers, which then share the 2 cores too; the API rate limit is raised to 1000000 per minute so
  that it never answers 429 here);
- bare: `bench.bare_endpoint:app`, the same model version behind a Flask view with no authentication,
  validation, cache or limits: the practical limit of this machine.
Both get the same bodies, built from the model's real held-out samples (engine.datasets):
- "repeated": one held-out sample, the same body every time (the API answers all but the first from
  its result cache);
- "distinct": every request different (held-out samples in turn, a few of the model's least-used
  features perturbed by a counter; see bench/wrk_predict.lua), so every request takes the model path.
wrk (Debian package; installed with apt-get when missing and running as root) drives 1 connection,
64 connections and 1,000 connections (10 s timeout) for each target and mode, then an open-loop
generator of this file plays 1,000 users who each send a request every 5 s on average (exponential
think time; about 200 requests/s offered, each on a new connection, latency measured from the moment
the request was due, so a slow server cannot slow the users down). wrk2 is not packaged here and
plain wrk cannot pace requests.

wrk and the generator share the 2 cores with the servers, and other processes on the machine show in
the figures: the load average is printed before and after. The portal target is skipped (and said so)
when the API is not there yet (no `keys` command, or /api/v1/health not answering 200). Exit status 1
only when setting up fails (wrk missing, a server that does not start, a warm-up request that fails).
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import http.client
import json
import math
import multiprocessing
import os
import random
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"
PYTHON = ROOT / ".venv" / "bin" / "python"
CONFIG = ROOT / "deploy" / "gunicorn.conf.py"
LUA = Path(__file__).resolve().parent / "wrk_predict.lua"
KEY_PATTERN = re.compile(r"ca_[0-9a-f]{8}_[A-Za-z0-9_-]+")
API_RATE_LIMIT = "1000000 per minute"
PERTURBED = 20  # features perturbed in "distinct" mode: 2**20 variants of each held-out sample
RUN_STRIDE = 50_000  # variants per held-out sample reserved for one run: runs never repeat a body
USER_EMAIL = "bench-api@example.org"
PASSWORD = "benchmark password 2026 (throw-away)"
# every prediction names its samples' data-use basis; they are GDSC's and TCGA's (wrk_predict.lua sends the same)
DATA_USE_HEAD = '{"data_use":{"basis":"public","reference":"GDSC and TCGA public releases (benchmark)"},'


class SetupError(Exception):
    """The benchmark could not be set up: exit status 1."""


# -- request bodies --------------------------------------------------------------------------------

@dataclass
class Bodies:
    """Held-out samples as JSON text pieces, the same scheme as bench/wrk_predict.lua."""

    ids: list[str]
    prefixes: list[str]  # '{"A":0,"B":1' : every feature but the perturbed ones
    fragments: list[list[tuple[str, str]]]  # per sample, per perturbed feature: (',"F":real', ',"F":perturbed')

    @property
    def n(self) -> int:
        return len(self.prefixes)

    def body(self, sample: int, bits: int, sample_id: str) -> str:
        parts = [DATA_USE_HEAD, '"samples":[{"id":', json.dumps(sample_id), ',"features":', self.prefixes[sample]]
        for real, perturbed in self.fragments[sample]:
            parts.append(perturbed if bits & 1 else real)
            bits >>= 1
        parts.append("}}]}")
        return "".join(parts)

    def repeated(self) -> str:
        return self.body(0, 0, "repeated-sample")

    def distinct(self, u: int) -> str:
        return self.body(u % self.n, u // self.n, f"d{u}")

    def write(self, path: Path) -> None:
        lines = [f"{self.n} {PERTURBED}"]
        for prefix, row in zip(self.prefixes, self.fragments):
            lines.append(prefix)
            lines.extend(f"{real}\t{perturbed}" for real, perturbed in row)
        path.write_text("\n".join(lines) + "\n")


def build_bodies(model_ref: str) -> tuple[Bodies, str]:
    """The model's held-out samples, and a one-line description of the model."""
    import numpy as np

    from engine import datasets
    from engine.registry import Registry

    model = Registry().load(model_ref)
    version = model.version
    data = datasets.load(version.dataset_id)
    names = model.schema.names
    binary = dict(zip(names, model.schema.binary_mask()))
    test_ids = [str(i) for i in version.test_ids]
    X = data.X.rename(index=str).loc[test_ids, names]

    # perturb the features the model relies on least (global SHAP importance), so that a perturbed
    # sample stays close to the real one
    importance = {f["feature"]: f["mean_abs_shap"] for f in version.global_importance.get("features", [])}
    perturbed = sorted(names, key=lambda n: (importance.get(n, 0.0), names.index(n)))[:PERTURBED]
    kept = [n for n in names if n not in set(perturbed)]

    def text(value) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "null"
        value = float(value)
        return json.dumps(int(value)) if value.is_integer() and abs(value) < 2**53 else json.dumps(value)

    prefixes, fragments = [], []
    for _, row in X.iterrows():
        prefixes.append("{" + ",".join(f"{json.dumps(n)}:{text(row[n])}" for n in kept))
        frags = []
        for name in perturbed:
            value = row[name]
            if binary[name]:
                other = 1 - int(value) if not np.isnan(value) else 1
            else:
                other = (0 if np.isnan(value) else float(value)) + 1  # a read count plus one
            frags.append((f",{json.dumps(name)}:{text(value)}", f",{json.dumps(name)}:{text(other)}"))
        fragments.append(frags)
    bodies = Bodies(ids=test_ids, prefixes=prefixes, fragments=fragments)
    json.loads(bodies.distinct(12_345))  # the pieces make valid JSON
    description = (f"{version.ref} ({version.algorithm}, {len(names)} features, "
                   f"{len(model.bundle.classes)} classes); {len(test_ids)} held-out samples of "
                   f"{version.dataset_id}; first held-out sample {test_ids[0]}")
    return bodies, description


# -- setup: wrk, limits, database, servers ---------------------------------------------------------

def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        raise SetupError("wrk is not installed and this is not root: apt-get install -y wrk")
    print("installing wrk (apt-get install -y wrk) ...", flush=True)
    quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    if subprocess.run(["apt-get", "install", "-y", "wrk"], **quiet).returncode != 0:
        subprocess.run(["apt-get", "update"], **quiet)
        subprocess.run(["apt-get", "install", "-y", "wrk"], **quiet)
    found = shutil.which("wrk")
    if not found:
        raise SetupError("apt-get could not install wrk")
    return found


def raise_open_files(wanted: int = 65536) -> int:
    """Raise this process's open-file limit (inherited by wrk and the servers): 1,000 connections need
    1,000 descriptors on each side plus the servers' own."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def portal_env(var: Path, worker_env: dict, database_url: str | None = None, redis_url: str | None = None) -> dict:
    """The portal's environment: SQLite, diskcache and in-memory limits under `var` (one machine), or the
    given PostgreSQL database and Redis (the production services)."""
    from engine import settings as engine_settings

    env = {**os.environ, **worker_env}
    env.update({
        # production refuses SQLite: one machine runs as development, the production services as production
        # (with a throw-away storage key of its own, as production requires)
        "CANCER_ALPHA_ENV": "production" if database_url else "development",
        "CANCER_ALPHA_STORAGE_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "CANCER_ALPHA_VAR_DIR": str(var),
        "CANCER_ALPHA_DATABASE_URL": database_url or f"sqlite:///{var / 'portal.db'}",
        "CANCER_ALPHA_MODELS_DIR": str(engine_settings.models_dir()),
        "CANCER_ALPHA_DATA_DIR": str(engine_settings.data_dir()),
        "CANCER_ALPHA_SECRET_KEY": "benchmark-secret-" + os.urandom(16).hex(),
        "CANCER_ALPHA_ADMIN_EMAIL": "bench-admin@example.org",
        "CANCER_ALPHA_ADMIN_PASSWORD": PASSWORD,
        "CANCER_ALPHA_API_RATE_LIMIT": API_RATE_LIMIT,
    })
    env.pop("CANCER_ALPHA_REDIS_URL", None)  # one machine: diskcache result cache, in-memory limits
    if redis_url:
        env["CANCER_ALPHA_REDIS_URL"] = redis_url
    return env


@contextlib.contextmanager
def production_services(server_url: str, redis_url: str):
    """A throw-away PostgreSQL database on `server_url`'s server and an emptied Redis database, both
    removed at the end: (database URL, Redis URL)."""
    import redis
    from sqlalchemy import create_engine, text

    name = f"cancer_alpha_bench_{os.urandom(5).hex()}"
    server = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    store = redis.Redis.from_url(redis_url)
    store.flushdb()
    try:
        yield server.url.set(database=name).render_as_string(hide_password=False), redis_url
    finally:
        store.flushdb()
        with server.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


def cli(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(PYTHON), "-m", "portal", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def create_api_key(env: dict) -> tuple[str | None, str]:
    """(key, '') or (None, why not)."""
    # with a user in the database the workers create no administrator at start (ensure_admin)
    made = cli(env, "users", "create", "--email", USER_EMAIL, "--name", "Benchmark researcher",
               "--role", "researcher", "--password", PASSWORD)
    if made.returncode != 0:
        raise SetupError(f"python -m portal users create failed:\n{made.stdout}{made.stderr}")
    made = cli(env, "keys", "create", "--user", USER_EMAIL, "--name", "api-bench")
    match = KEY_PATTERN.search(made.stdout + made.stderr)
    if made.returncode != 0 or not match:
        last = (made.stderr or made.stdout).strip().splitlines()[-1:] or ["no output"]
        return None, f"`python -m portal keys create` did not give a key (exit {made.returncode}: {last[0]})"
    return match.group(0), ""


@dataclass
class Server:
    name: str
    app: str
    env: dict
    log: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    def start(self) -> None:
        env = {**self.env, "CANCER_ALPHA_BIND": f"127.0.0.1:{self.port}"}
        self.process = subprocess.Popen(
            [str(GUNICORN), "-c", str(CONFIG), self.app], cwd=ROOT, env=env,
            stdout=self.log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)

    def stop(self) -> None:
        """Quick shutdown (SIGINT): a graceful one (SIGTERM) would first compute every request still
        queued from an overloaded scenario. The workers get 10 s, then the process group is killed."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)

    def wait_stopped(self) -> None:
        if self.process is None:
            return
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def tail(self, lines: int = 25) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def request(self, method: str, path: str, body: str | None = None, headers: dict | None = None,
                timeout: float = 30) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request(method, path, body=body.encode() if body else None, headers=headers or {})
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return sorted(int(pid) for pid in children.read_text().split())
        except OSError:
            return []

    def worker_cpu(self) -> dict[int, float]:
        """Each worker's CPU seconds so far (user and system)."""
        seconds = {}
        for pid in self.worker_pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            seconds[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return seconds

    def wait_booted(self, workers: int, deadline_s: float = 120) -> None:
        """Until every worker has built its app: `workers` of them, none using CPU for a second. Answering the
        health check takes one worker; a worker still importing takes no connections, and wrk's, opened once,
        would all stay with the first (one worker serving the whole run, half the machine idle)."""
        end, last, still = time.monotonic() + deadline_s, None, 0
        while time.monotonic() < end:
            cpu = self.worker_cpu()
            still = still + 1 if last is not None and len(cpu) == workers and cpu == last else 0
            if still >= 2:
                return
            last = cpu
            time.sleep(0.5)
        raise SetupError(f"{self.name}: {workers} workers were not up and idle within {deadline_s:.0f} s")

    def wait_until(self, path: str, deadline_s: float = 90) -> int:
        """The status `path` answers once the server accepts connections (0: it exited first)."""
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            if self.process.poll() is not None:
                return 0
            try:
                return self.request("GET", path, timeout=10)[0]
            except OSError:
                time.sleep(0.25)
        return 0


@dataclass
class Target:
    label: str
    server: Server
    path: str
    auth: str | None
    health: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}{self.path}"

    def headers(self) -> dict:
        headers = {"Content-Type": "application/json"}
        if self.auth:
            headers["Authorization"] = self.auth
        return headers

    def drain(self, limit_s: float = 90) -> float:
        """Wait until the server is idle again; returns the seconds waited. When wrk stops, requests
        it had sent (up to one per connection) are still queued and gunicorn computes every one of them:
        the client has gone, but nothing tells the server. Measuring the next scenario before the queue
        is empty would charge it with the last one's backlog."""
        started = time.monotonic()
        fast = 0
        while fast < 2 and time.monotonic() - started < limit_s:
            t0 = time.monotonic()
            try:
                self.server.request("GET", self.health, timeout=limit_s)
            except OSError:
                pass
            fast = fast + 1 if time.monotonic() - t0 < 0.2 else 0
            if fast < 2:
                time.sleep(0.1)
        return time.monotonic() - started

    def warm_up(self, bodies: Bodies) -> None:
        """Both workers load the model (the portal loads it on a worker's first request) and the
        repeated body is in the result cache; raise if a prediction is not answered."""
        status, raw = self.server.request("POST", self.path, bodies.repeated(), self.headers(), timeout=60)
        if status != 200 or b"probabilities" not in raw:
            raise SetupError(f"{self.label}: warm-up prediction answered {status}: {raw[:500]!r}")
        errors: list[str] = []

        def hit(k: int) -> None:
            for i in range(6):
                body = bodies.repeated() if i % 2 else bodies.distinct(k * 6 + i)  # run 0 of the variants
                s, r = self.server.request("POST", self.path, body, self.headers(), timeout=60)
                if s != 200:
                    errors.append(f"{s}: {r[:300]!r}")

        threads = [threading.Thread(target=hit, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise SetupError(f"{self.label}: warm-up requests failed: {errors[0]}")


# -- wrk -------------------------------------------------------------------------------------------

@dataclass
class Result:
    scenario: str
    target: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    detail: str
    answered_share: float | None = None
    worker_shares: str = ""  # each worker's share of its server's CPU during the run


def cpu_shares(before: dict[int, float], after: dict[int, float]) -> str:
    """Each worker's share of the CPU its server used between two readings, e.g. "52/48%"."""
    used = [after[pid] - before.get(pid, 0.0) for pid in sorted(after)]
    total = sum(used) or 1.0
    return "/".join(f"{100 * v / total:.0f}" for v in used) + "%"


def run_wrk(wrk: str, target: Target, samples_file: Path, mode: str, connections: int, duration: int,
            run_index: int, bodies: Bodies) -> Result:
    threads = 1 if connections == 1 else 2
    offset = run_index * RUN_STRIDE * bodies.n
    command = [wrk, f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "10s", "--latency",
               "-s", str(LUA), target.url, "--", str(samples_file), mode, str(offset), str(threads),
               target.auth or "-"]
    cpu_before = target.server.worker_cpu()
    done = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60)
    shares = cpu_shares(cpu_before, target.server.worker_cpu())
    scenario = f"{mode}, {connections} conn"
    line = next((l for l in done.stdout.splitlines() if l.startswith("BENCH_RESULT ")), None)
    if done.returncode != 0 or line is None:
        return Result(scenario, target.label, float("nan"), float("nan"), float("nan"), -1,
                      f"wrk failed ({done.returncode}): {(done.stderr or done.stdout).strip()[:300]}")
    r = json.loads(line.removeprefix("BENCH_RESULT "))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", done.stdout).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", done.stdout)
    socket_errors = r["connect"] + r["read"] + r["write"] + r["timeout"]
    errors = socket_errors + (int(non2xx.group(1)) if non2xx else 0)
    detail = (f"{r['requests']} requests; socket errors connect {r['connect']}, read {r['read']}, "
              f"write {r['write']}, timeout {r['timeout']}; non-2xx {non2xx.group(1) if non2xx else 0}; "
              f"p90 {r['p90_us'] / 1000:.1f} ms, max {r['max_us'] / 1000:.0f} ms")
    return Result(scenario, target.label, rps, r["p50_us"] / 1000, r["p99_us"] / 1000, errors, detail,
                  worker_shares=shares)


# -- 1,000 users, paced (open loop) ----------------------------------------------------------------

async def _one_request(port: int, raw: bytes, due: float, timeout: float, out: list) -> None:
    """One request on a new connection; latency from the moment it was due."""
    started = time.monotonic()
    writer = None
    try:
        async def exchange() -> int:
            nonlocal writer
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(raw)
            await writer.drain()
            status_line = await reader.readline()
            if not status_line:
                raise ConnectionResetError("closed before answering")
            status = int(status_line.split()[1])
            length = None
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            await (reader.readexactly(length) if length is not None else reader.read())
            return status

        status = await asyncio.wait_for(exchange(), timeout)
        out.append(("ok" if 200 <= status < 300 else f"status {status}", time.monotonic() - due, started - due))
    except asyncio.TimeoutError:
        out.append(("timeout", None, started - due))
    except (OSError, ValueError, IndexError, asyncio.IncompleteReadError) as error:
        kind = "connect" if isinstance(error, ConnectionRefusedError) else type(error).__name__
        out.append((kind, None, started - due))
    finally:
        if writer is not None:
            writer.close()


async def _paced(target: Target, bodies: Bodies, users: int, think_s: float, duration_s: float,
                 offset: int, timeout_s: float, seed: int) -> tuple[list, int]:
    rng = random.Random(seed)
    head = (f"POST {target.path} HTTP/1.1\r\nHost: 127.0.0.1:{target.server.port}\r\n"
            "Content-Type: application/json\r\nConnection: close\r\n"
            + (f"Authorization: {target.auth}\r\n" if target.auth else ""))
    # every user's requests form a Poisson process (exponential think time), fixed in advance
    schedule = []
    for _ in range(users):
        t = rng.expovariate(1 / think_s)
        while t < duration_s:
            schedule.append(t)
            t += rng.expovariate(1 / think_s)
    schedule.sort()
    out: list = []
    tasks = []
    start = time.monotonic() + 0.2
    for u, t in enumerate(schedule):
        body = bodies.distinct(offset + u).encode()
        raw = f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body
        due = start + t
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(_one_request(target.server.port, raw, due, timeout_s, out)))
    await asyncio.gather(*tasks)
    return out, len(schedule)


def run_paced(target: Target, bodies: Bodies, users: int, think_s: float, duration_s: float,
              run_index: int) -> Result:
    timeout_s = 10.0
    out, offered = asyncio.run(_paced(target, bodies, users, think_s, duration_s,
                                      run_index * RUN_STRIDE * bodies.n, timeout_s, seed=run_index))
    ok = sorted(latency for kind, latency, _ in out if kind == "ok")
    errors: dict[str, int] = {}
    for kind, _, _ in out:
        if kind != "ok":
            errors[kind] = errors.get(kind, 0) + 1
    lag = sorted(l for _, _, l in out)
    q = lambda values, p: values[min(len(values) - 1, int(p / 100 * len(values)))] * 1000 if values else float("nan")
    detail = (f"{offered} requests offered in {duration_s:.0f} s ({offered / duration_s:.0f}/s), "
              f"{len(ok)} answered 2xx; errors {errors or 'none'}; generator lag p99 {q(lag, 99):.1f} ms")
    return Result(f"{users} users, 1 req/{think_s:g} s each", target.label, len(ok) / duration_s,
                  q(ok, 50), q(ok, 99), sum(errors.values()), detail,
                  answered_share=len(ok) / offered if offered else float("nan"))


# -- report ----------------------------------------------------------------------------------------

def print_table(results: list[Result]) -> None:
    print(f"\n{'scenario':<34} {'target':<7} {'req/s':>8} {'p50 ms':>9} {'p99 ms':>9} {'errors':>7} "
          f"{'API/bare req/s':>15} {'API/bare p99':>13}")
    by_key = {(r.scenario, r.target): r for r in results}
    for r in results:
        ratio_rps = ratio_p99 = ""
        bare = by_key.get((r.scenario, "bare"))
        if r.target == "portal" and bare:
            ratio_rps = f"{r.rps / bare.rps:.2f}" if bare.rps else ""
            ratio_p99 = f"{r.p99_ms / bare.p99_ms:.2f}" if bare.p99_ms else ""
        print(f"{r.scenario:<34} {r.target:<7} {r.rps:>8.0f} {r.p50_ms:>9.1f} {r.p99_ms:>9.1f} {r.errors:>7} "
              f"{ratio_rps:>15} {ratio_p99:>13}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=os.environ.get("BENCH_MODEL", "tissue-of-origin"),
                        help="model name: its production version is measured on both targets")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--paced-duration", type=float, default=30, help="seconds of the 1,000-user scenario")
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--think", type=float, default=5.0, help="mean seconds between a user's requests")
    parser.add_argument("--targets", default="portal,bare")
    parser.add_argument("--modes", default="repeated,distinct")
    parser.add_argument("--connections", default="1,64,1000")
    parser.add_argument("--no-paced", action="store_true", help="skip the 1,000-user scenario")
    parser.add_argument("--worker-class", help="GUNICORN_WORKER_CLASS for both servers (default: the config's)")
    parser.add_argument("--threads", help="GUNICORN_THREADS for both servers")
    parser.add_argument("--workers", help="GUNICORN_WORKERS for both servers")
    parser.add_argument("--production-services", action="store_true",
                        help="run the portal on PostgreSQL (a throw-away database) and Redis (result cache and "
                             "rate limits) instead of SQLite, diskcache and memory")
    parser.add_argument("--postgres", default="postgresql+psycopg2://postgres@127.0.0.1:5432/postgres",
                        help="PostgreSQL server for --production-services")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/13", help="Redis database for --production-services")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, database)")
    parser.add_argument("--verbose", action="store_true", help="print each run's details")
    args = parser.parse_args()
    wanted = {t.strip() for t in args.targets.split(",") if t.strip()}
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    connections = [int(c) for c in args.connections.split(",") if c.strip()]

    started = time.monotonic()
    var = Path(tempfile.mkdtemp(prefix="cancer-alpha-api-bench-"))
    servers: list[Server] = []
    services = contextlib.ExitStack()
    try:
        database_url = redis_url = None
        if args.production_services:
            database_url, redis_url = services.enter_context(production_services(args.postgres, args.redis))
        wrk = ensure_wrk()
        nofile = raise_open_files()
        worker_env = {k: v for k, v in (("GUNICORN_WORKER_CLASS", args.worker_class),
                                        ("GUNICORN_THREADS", args.threads),
                                        ("GUNICORN_WORKERS", args.workers)) if v}
        bodies, description = build_bodies(args.model)
        samples_file = var / "samples.txt"
        bodies.write(samples_file)
        env = portal_env(var, worker_env, database_url, redis_url)
        config = subprocess.run(
            [str(GUNICORN), "-c", str(CONFIG), "--print-config", "bench.bare_endpoint:app"], cwd=ROOT,
            env=env, capture_output=True, text=True).stdout
        shown = {m.group(1): m.group(2).strip() for m in re.finditer(r"^(\w+)\s+=\s(.*)$", config, re.M)}
        print(f"model: {description}")
        print(f"machine: {multiprocessing.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} "
              f"(1 min) at start; open-file limit {nofile}; wrk {wrk}")
        print(f"gunicorn (deploy/gunicorn.conf.py): {shown.get('workers')} workers, "
              f"{shown.get('worker_class')}, {shown.get('threads')} threads, keepalive {shown.get('keepalive')} s, "
              f"worker environment {shown.get('raw_env')}")
        stores = (f"PostgreSQL database {database_url.rsplit('/', 1)[1]}, Redis {redis_url} (result cache, limits)"
                  if args.production_services else f"SQLite and result cache under {var}, limits in memory")
        print(f"portal: CANCER_ALPHA_API_RATE_LIMIT={API_RATE_LIMIT!r} (raised so the benchmark is never "
              f"rate-limited), {stores}")

        targets: list[Target] = []
        if "bare" in wanted:
            bare = Server("bare", "bench.bare_endpoint:app", {**env, "BENCH_MODEL": args.model}, var / "bare.log")
            servers.append(bare)
            bare.start()
        if "portal" in wanted:
            key, why = create_api_key(env)
            if key is None:
                print(f"portal target SKIPPED: {why}")
            else:
                portal = Server("portal", "portal.wsgi:server", env, var / "portal.log")
                servers.append(portal)
                portal.start()
                status = portal.wait_until("/api/v1/health")
                if status == 0:
                    raise SetupError(f"the portal did not start; its log ends:\n{portal.tail()}")
                if status != 200:
                    print(f"portal target SKIPPED: GET /api/v1/health answered {status} (the API is not there yet)")
                    portal.stop()
                    portal.wait_stopped()
                else:
                    targets.append(Target("portal", portal, f"/api/v1/models/{args.model}/predict",
                                          f"Bearer {key}", "/api/v1/health"))
        if "bare" in wanted:
            if bare.wait_until("/health") != 200:
                raise SetupError(f"the bare endpoint did not start; its log ends:\n{bare.tail()}")
            targets.append(Target("bare", bare, "/predict", None, "/health"))
        if not targets:
            raise SetupError("no target to measure")
        workers = int(shown.get("workers") or 1)
        for target in targets:
            target.server.wait_booted(workers)
            target.warm_up(bodies)
            target.server.wait_booted(workers)  # the warm-up's models loaded, its requests answered
        print(f"set up in {time.monotonic() - started:.0f} s; targets: {', '.join(t.label for t in targets)}")

        results: list[Result] = []
        run_index = 0
        for mode in modes:
            for c in connections:
                run_index += 1  # the same bodies for every target, new ones for every run
                for target in targets:
                    result = run_wrk(wrk, target, samples_file, mode, c, args.duration, run_index, bodies)
                    results.append(result)
                    print(f"  {result.scenario:<26} {target.label:<7} {result.rps:8.0f} req/s  "
                          f"p50 {result.p50_ms:7.1f} ms  p99 {result.p99_ms:7.1f} ms  errors {result.errors}  "
                          f"workers' CPU {result.worker_shares}"
                          + (f"  [{result.detail}]" if args.verbose or result.errors else ""), flush=True)
                    waited = target.drain()
                    if waited > 1:
                        print(f"    ({target.label} computed the requests still queued when wrk stopped "
                              f"for another {waited:.1f} s)", flush=True)
        paced: list[Result] = []
        if not args.no_paced:
            run_index += 1
            for i, target in enumerate(sorted(targets, key=lambda t: t.label != "bare")):  # bare first
                result = run_paced(target, bodies, args.users, args.think, args.paced_duration, run_index)
                paced.append(result)
                print(f"  {result.scenario:<26} {target.label:<7} {result.detail}", flush=True)
                if i < len(targets) - 1:
                    target.drain()

        print_table(results + paced)
        for r in paced:
            print(f"{r.target}: {r.scenario}, distinct samples: p50 {r.p50_ms:.1f} ms, p99 {r.p99_ms:.1f} ms, "
                  f"errors {r.errors}, answered {r.answered_share:.1%} ({r.detail})")
        print(f"\nload average at the end {os.getloadavg()[0]:.2f} (1 min); whole run {time.monotonic() - started:.0f} s. "
              "wrk and the load generator run on the same cores as the servers.")
        return 0
    except SetupError as error:
        print(f"setup failed: {error}", file=sys.stderr)
        return 1
    finally:
        for server in servers:
            server.stop()
        for server in servers:
            server.wait_stopped()
        services.close()
        if args.keep:
            print(f"kept {var}")
        else:
            shutil.rmtree(var, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
