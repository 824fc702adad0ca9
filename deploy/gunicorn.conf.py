"""Production gunicorn settings for the portal (and any WSGI app of this repository).

    .venv/bin/gunicorn -c deploy/gunicorn.conf.py portal.wsgi:server

Every setting can be changed from the environment; the defaults suit CPU-bound model serving on a
small machine (measured on 2 cores with bench/api_bench.py; figures in the comments below).

    CANCER_ALPHA_BIND           address:port or unix:PATH          127.0.0.1:8050
    GUNICORN_WORKERS            worker processes                   number of cores
    GUNICORN_WORKER_CLASS       sync or gthread                    gthread
    GUNICORN_THREADS            threads per gthread worker         2
    GUNICORN_TIMEOUT            seconds before a silent worker is killed and restarted   60
    GUNICORN_GRACEFUL_TIMEOUT   seconds a worker gets to finish on restart/stop          30
    GUNICORN_KEEPALIVE          seconds an idle keep-alive connection is kept (gthread)  5
    GUNICORN_MAX_REQUESTS       requests before a worker is replaced (0: never)          100000
    GUNICORN_MAX_REQUESTS_JITTER  random extra, so workers are not replaced together     10000
    GUNICORN_BACKLOG            connections waiting to be accepted                      2048
    GUNICORN_ACCESS_LOG         file or "-" (stdout) for the access log                  off
    GUNICORN_ACCESS_LOG_FORMAT  gunicorn access_log_format atoms (e.g. add %(p)s, the worker pid)  gunicorn's
    GUNICORN_LOG_LEVEL          error log level                                          info
    GUNICORN_CONTROL_SOCKET     path of gunicorn's control socket (gunicornc)            off
    CANCER_ALPHA_FORWARDED_ALLOW_IPS  proxies whose X-Forwarded-* headers are trusted   127.0.0.1
    PROMETHEUS_MULTIPROC_DIR    folder for the workers' metric files: /metrics sums all workers  off
"""
import multiprocessing
import os

# Native thread pools: one thread per worker. Set here, at the top of the configuration, which the
# master reads before any worker exists and before numpy, scikit-learn or OpenMP are imported, so every
# worker inherits them (the app is imported in the workers, after fork: see preload_app). Without
# this each worker starts one OpenMP/BLAS thread per core and the workers fight over the same cores:
# HistGradientBoosting served 3 to 18 requests/s that way against 57 with one thread
# (../shared/STACK_NOTES.md). A value already set in the environment wins.
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


bind = [os.environ.get("CANCER_ALPHA_BIND") or "127.0.0.1:8050"]

# Prediction is CPU-bound and the GIL lets one Python thread compute at a time, so processes, not
# threads, add throughput: one worker per core. The usual 2 x cores + 1 is for I/O-bound apps; here
# extra workers only add memory (each holds its own models) and context switches.
workers = _int("GUNICORN_WORKERS", multiprocessing.cpu_count())

# gthread with 2 threads rather than sync, measured with bench/api_bench.py on this 2-core machine
# (random forest, distinct samples, 64 connections, 2 workers, three alternating runs each, machine
# busy with other work): sync served 51 to 63 requests/s on the portal API and 271 to 331 on the bare
# endpoint; gthread with 2 threads 77 to 88 and 566 to 1,003 (1 thread, one run: 57 and 833). Why: sync
# answers `Connection: close` (no keep-alive), so every request pays a new TCP connection and accept,
# and it serves one connection at a time per worker; gthread keeps idle keep-alive connections in a
# poller, and its second thread computes while the first waits on SQLite (API key lookup, audit entry,
# result cache) or reads the next request. More threads add nothing for CPU-bound work (the GIL) but
# latency under load. Either class wants a buffering proxy in front of slow clients on the internet;
# sync most (one slow upload blocks a whole worker); gthread at least holds idle connections for free.
worker_class = os.environ.get("GUNICORN_WORKER_CLASS") or "gthread"
threads = _int("GUNICORN_THREADS", 2)
worker_connections = 1000  # gthread: open connections per worker; more are left in the backlog

# Seconds without a heartbeat before the master kills a worker: long enough for the largest allowed
# request (1,000 samples with explanations), short enough that a stuck worker comes back soon.
timeout = _int("GUNICORN_TIMEOUT", 60)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
# Longer than gunicorn's default of 2 s so a client (or a proxy) reusing its connection is rarely
# refused; keep it above a proxy's own idle timeout towards the app, or requests race a closing socket.
keepalive = _int("GUNICORN_KEEPALIVE", 5)
backlog = _int("GUNICORN_BACKLOG", 2048)

# Replace a worker after this many requests (with jitter, so both are not replaced at once): a bound
# on any slow leak. Large on purpose: a new portal worker spends a few seconds importing Dash and
# building the app, and with 0.5 to 1 ms of model time per request a small value would restart workers
# every few seconds under load.
max_requests = _int("GUNICORN_MAX_REQUESTS", 100_000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 10_000)

# Not preloaded. Preloading would share the loaded models copy-on-write, but create_app opens things
# that must not cross a fork: the SQLAlchemy engine's pooled database connection (migrations run at
# start), the diskcache connections of the job queue (SQLite), the API's kept read connections
# (portal.accounts.verified_keys) and the audit writer's connection. Each worker builds its own app and loads its models on the
# first request (about 1.5 MB of artifacts per worker here: memory is not the constraint).
preload_app = False

# The heartbeat file on a tmpfs, so a slow disk (or a container's overlay file system) never stalls it.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None

# Access logs are off by default: at hundreds of requests a second they cost CPU and disk, and the
# portal's audit trail records what matters. GUNICORN_ACCESS_LOG=- sends them to stdout.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
if os.environ.get("GUNICORN_ACCESS_LOG_FORMAT"):
    access_log_format = os.environ["GUNICORN_ACCESS_LOG_FORMAT"]
# Whatever the format, a logged request names its path without the query string and with an explained
# sample's id replaced, its referrer likewise, and no cookie or authorization header (portal.access_log);
# with JSON logs (production), the error and access lines are JSON objects (portal.json_logs).
logger_class = "portal.json_logs.GunicornLogger"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL") or "info"

forwarded_allow_ips = os.environ.get("CANCER_ALPHA_FORWARDED_ALLOW_IPS") or "127.0.0.1"

# gunicorn 25.1+ opens a control socket at one fixed path per user by default, so two instances on
# one machine would collide over it. Off unless a path is given.
control_socket_disable = not os.environ.get("GUNICORN_CONTROL_SOCKET")
if not control_socket_disable:
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]

# The same variables through gunicorn's own mechanism, so `gunicorn --print-config` shows them.
raw_env = [f"{name}={os.environ[name]}" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")]


def post_fork(server, worker):
    """In each new worker, before it loads the app. The environment variables above only reach thread
    pools created after them; if numpy or scikit-learn were already imported by the master (preload_app,
    or a hook that imports them), their pools exist, so limit them here through threadpoolctl."""
    import sys

    if "numpy" in sys.modules:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=int(os.environ["OMP_NUM_THREADS"]))


def on_starting(server):
    """In the master, before any worker: with PROMETHEUS_MULTIPROC_DIR set, make the folder of the workers'
    metric files and empty it, so counters start from zero with this gunicorn and no file of an earlier run
    (whose pids may come back) is summed in (portal.metrics)."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        os.makedirs(folder, exist_ok=True)
        for name in os.listdir(folder):
            if name.endswith(".db"):
                os.remove(os.path.join(folder, name))


def child_exit(server, worker):
    """In the master, when a worker has exited: drop its live gauges' files (its counters stay summed,
    as Prometheus expects of a counter)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
