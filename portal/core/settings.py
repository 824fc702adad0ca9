"""The portal's settings: one typed object read from `CANCER_ALPHA_*` environment variables, with
embedded defaults that serve one machine (SQLite under var/, in-memory rate limits). Reading settings
connects to nothing."""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from engine.neighbours import DEFAULT_K as DEFAULT_NEIGHBOURS
from engine.neighbours import MAX_K as MAX_NEIGHBOURS
from engine.settings import PROJECT_ROOT

PREFIX = "CANCER_ALPHA_"
DEVELOPMENT_ENV = "development"
PRODUCTION_ENV = "production"
DERIVED_STORAGE_KEY = "derived"  # in CANCER_ALPHA_STORAGE_KEY: the key derived from the secret key


class SettingsError(Exception):
    """A setting is missing or malformed."""


@dataclass(frozen=True)
class Settings:
    env: str = DEVELOPMENT_ENV
    """`CANCER_ALPHA_ENV`: development or production (production requires a secret key, a storage key and a
    database other than SQLite, and sets Secure cookies and HSTS)."""
    var_dir: Path = PROJECT_ROOT / "var"
    """`CANCER_ALPHA_VAR_DIR`: the portal's own files (SQLite database, development secret key, caches)."""
    database_url: str = ""
    """`CANCER_ALPHA_DATABASE_URL`: SQLAlchemy URL; default a SQLite file under var/."""
    secret_key: str = field(default="", repr=False)
    """`CANCER_ALPHA_SECRET_KEY`: signs sessions. Development: generated once and kept in var/secret_key."""
    models_dir: Path = PROJECT_ROOT / "models"
    """`CANCER_ALPHA_MODELS_DIR`: the model registry's root."""
    data_dir: Path = PROJECT_ROOT / "var" / "data"
    """`CANCER_ALPHA_DATA_DIR`: the dataset cache."""
    redis_url: str | None = None
    """`CANCER_ALPHA_REDIS_URL`: optional; rate limits (and later caches and jobs) use it when set."""
    admin_email: str = "admin@localhost"
    """`CANCER_ALPHA_ADMIN_EMAIL`: the first administrator, created on first start."""
    admin_password: str | None = field(default=None, repr=False)
    """`CANCER_ALPHA_ADMIN_PASSWORD`: their password; if unset a strong one is made up and printed once."""
    host: str = "127.0.0.1"
    """`CANCER_ALPHA_HOST`: address of the development server (`python -m portal`)."""
    port: int = 8050
    """`CANCER_ALPHA_PORT`: its port."""
    login_rate_limit: str = "20 per minute"
    """`CANCER_ALPHA_LOGIN_RATE_LIMIT`: sign-in attempts per client address (Flask-Limiter notation)."""
    lockout_failures: int = 5
    """`CANCER_ALPHA_LOCKOUT_FAILURES`: failed sign-ins in a row, for one account from one client address,
    that refuse that address for that account (portal.accounts.users.authenticate)."""
    lockout_minutes: int = 15
    """`CANCER_ALPHA_LOCKOUT_MINUTES`: how long the first refusal holds (doubled at each further failure)."""
    session_hours: int = 12
    """`CANCER_ALPHA_SESSION_HOURS`: a sign-in's lifetime."""
    session_idle_minutes: int = 30
    """`CANCER_ALPHA_SESSION_IDLE_MINUTES`: a session unused this long is ended (as well as its lifetime)."""
    storage_key: str = field(default="", repr=False)
    """`CANCER_ALPHA_STORAGE_KEY`: key (Fernet, urlsafe base64 of 32 bytes) that encrypts stored uploads and
    results, or several separated by commas, newest first (written under the first, read under any: key
    rotation, portal.core.key_rotation); `derived` or no value: the key derived from the secret key (changing
    that key then makes stored files unreadable)."""
    max_upload_bytes: int = 50 * 1024 * 1024
    """`CANCER_ALPHA_MAX_UPLOAD_BYTES`: the largest upload accepted."""
    max_rows: int = 100_000
    """`CANCER_ALPHA_MAX_ROWS`: the most samples in one upload."""
    max_cells: int = 20_000_000
    """`CANCER_ALPHA_MAX_CELLS`: the most values (rows x columns) in one upload, so that memory stays bounded."""
    retention_days: int = 30
    """`CANCER_ALPHA_RETENTION_DAYS`: uploads, results and notebook inputs older than this are purged."""
    queue_timeout_seconds: int = 120
    """`CANCER_ALPHA_QUEUE_TIMEOUT_SECONDS`: how long a run may wait for a worker before its page says that
    none picked it up, and offers to retry it."""
    api_rate_limit: str = "600 per minute"
    """`CANCER_ALPHA_API_RATE_LIMIT`: requests per API key (Flask-Limiter notation)."""
    api_auth_failure_limit: str = "30 per minute"
    """`CANCER_ALPHA_API_AUTH_FAILURE_LIMIT`: failed API authentications per client address."""
    cors_origins: tuple[str, ...] = ()
    """`CANCER_ALPHA_CORS_ORIGINS`: origins (comma-separated) that may call the API from a browser; none by default."""
    trusted_proxy_hops: int = 0
    """`CANCER_ALPHA_TRUSTED_PROXY_HOPS`: reverse proxies in front of the portal whose X-Forwarded-For is trusted."""
    metrics_token: str | None = field(default=None, repr=False)
    """`CANCER_ALPHA_METRICS_TOKEN`: a bearer token that may read /metrics from anywhere."""
    metrics_allow: str = "127.0.0.1/32,::1/128"
    """`CANCER_ALPHA_METRICS_ALLOW`: networks (comma-separated CIDR) that may read /metrics without the token."""
    batch_chunk_samples: int = 5000
    """`CANCER_ALPHA_BATCH_CHUNK_SAMPLES`: a prediction run of more samples than this is split into chunks of
    this many, which Celery workers predict in parallel (where Celery runs)."""
    prometheus_url: str | None = None
    """`CANCER_ALPHA_PROMETHEUS_URL`: the Prometheus that scrapes the portal; the Monitoring page asks it for
    request rate, latency and errors over time."""
    log_format: str = "text"
    """`CANCER_ALPHA_LOG_FORMAT`: `json` (one JSON object a line, the default in production) or `text`."""
    neighbours: int = DEFAULT_NEIGHBOURS
    """`CANCER_ALPHA_NEIGHBOURS`: how many of the most similar training samples the explain page lists (1 to
    engine.neighbours.MAX_K)."""

    @property
    def production(self) -> bool:
        return self.env == PRODUCTION_ENV

    @property
    def rate_limit_storage(self) -> str:
        return self.redis_url or "cancer-alpha-memory://"  # portal.rate_limit_storage (one machine)

    @property
    def storage_dir(self) -> Path:
        """Encrypted uploads and results."""
        return self.var_dir / "storage"

    @property
    def notebook_runs_dir(self) -> Path:
        """Executed notebooks and their HTML, one folder per run."""
        return self.var_dir / "notebook-runs"

    @property
    def jobs_dir(self) -> Path:
        """diskcache folder of background jobs: shared by every worker of one deployment."""
        return self.var_dir / "jobs"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides) -> "Settings":
        """Settings from the environment; `overrides` (keyword per field) win, for tests and tools."""
        env = dict(os.environ if environ is None else environ)

        def get(name: str, default=None):
            value = env.get(PREFIX + name.upper())
            return default if value in (None, "") else value

        def integer(name: str, default: int) -> int:
            value = get(name, default)
            try:
                return int(value)
            except (TypeError, ValueError):
                raise SettingsError(f"{PREFIX}{name.upper()} must be a whole number, not {value!r}") from None

        def listed(name: str) -> tuple[str, ...]:
            return tuple(item.strip() for item in get(name, "").split(",") if item.strip())

        mode = get("env", DEVELOPMENT_ENV)
        if mode not in (DEVELOPMENT_ENV, PRODUCTION_ENV):
            raise SettingsError(f"{PREFIX}ENV must be {DEVELOPMENT_ENV} or {PRODUCTION_ENV}, not {mode!r}")
        var_dir = Path(get("var_dir", PROJECT_ROOT / "var"))
        values = dict(
            env=mode,
            var_dir=var_dir,
            database_url=get("database_url", f"sqlite:///{var_dir / 'portal.db'}"),
            secret_key=get("secret_key", ""),
            models_dir=Path(get("models_dir", PROJECT_ROOT / "models")),
            data_dir=Path(get("data_dir", var_dir / "data")),
            redis_url=get("redis_url"),
            admin_email=get("admin_email", "admin@localhost").strip().lower(),
            admin_password=get("admin_password"),
            host=get("host", "127.0.0.1"),
            port=integer("port", 8050),
            login_rate_limit=get("login_rate_limit", "20 per minute"),
            lockout_failures=integer("lockout_failures", 5),
            lockout_minutes=integer("lockout_minutes", 15),
            session_hours=integer("session_hours", 12),
            session_idle_minutes=integer("session_idle_minutes", 30),
            storage_key=get("storage_key", ""),
            max_upload_bytes=integer("max_upload_bytes", 50 * 1024 * 1024),
            max_rows=integer("max_rows", 100_000),
            max_cells=integer("max_cells", 20_000_000),
            retention_days=integer("retention_days", 30),
            queue_timeout_seconds=integer("queue_timeout_seconds", 120),
            api_rate_limit=get("api_rate_limit", "600 per minute"),
            api_auth_failure_limit=get("api_auth_failure_limit", "30 per minute"),
            cors_origins=listed("cors_origins"),
            trusted_proxy_hops=integer("trusted_proxy_hops", 0),
            metrics_token=get("metrics_token"),
            metrics_allow=get("metrics_allow", "127.0.0.1/32,::1/128"),
            batch_chunk_samples=integer("batch_chunk_samples", 5000),
            prometheus_url=get("prometheus_url"),
            log_format=get("log_format"),  # default set below, from the mode after overrides
            neighbours=integer("neighbours", DEFAULT_NEIGHBOURS),
        )
        values.update(overrides)
        for key in ("var_dir", "models_dir", "data_dir"):  # overrides may come as text
            values[key] = Path(values[key])
        if values["log_format"] is None:
            values["log_format"] = "json" if values["env"] == PRODUCTION_ENV else "text"
        if values["log_format"] not in ("json", "text"):
            raise SettingsError(f"{PREFIX}LOG_FORMAT must be json or text, not {values['log_format']!r}")
        if values["batch_chunk_samples"] < 1:
            raise SettingsError(f"{PREFIX}BATCH_CHUNK_SAMPLES must be at least 1")
        if not 1 <= values["neighbours"] <= MAX_NEIGHBOURS:
            raise SettingsError(f"{PREFIX}NEIGHBOURS must be from 1 to {MAX_NEIGHBOURS}, not {values['neighbours']}")
        settings = cls(**values)
        if settings.production:
            settings.check_production()
        elif not settings.secret_key:
            settings = cls(**{**values, "secret_key": development_secret(settings.var_dir)})
        return settings

    def check_production(self) -> None:
        """Production refuses to start without what one machine's defaults stand in for, naming all that
        is missing at once: a secret key (sessions), a storage key of its own (not derived from the secret
        key) and a database other than SQLite (PostgreSQL, shared by every worker)."""
        missing = []
        if not self.secret_key:
            missing.append(f"{PREFIX}SECRET_KEY (signs sessions)")
        if self.storage_key.split(",")[0].strip() in ("", DERIVED_STORAGE_KEY):  # the key new files get
            missing.append(f"{PREFIX}STORAGE_KEY (encrypts stored uploads and results)")
        if self.database_url.startswith("sqlite"):
            missing.append(f"{PREFIX}DATABASE_URL of a database server such as PostgreSQL (not SQLite)")
        if missing:
            raise SettingsError(f"{PREFIX}ENV=production needs: " + "; ".join(missing))


def development_secret(var_dir: Path) -> str:
    """A random key made once and kept in var/secret_key (mode 600), so sign-ins survive restarts."""
    path = var_dir / "secret_key"
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first: use theirs
            return path.read_text().strip()
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()
