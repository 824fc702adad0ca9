"""The objects one portal app shares between its pages, callbacks and views, and the caches they own.

Every cache of the portal belongs to a Portal (or to its Registry), is bounded and thread-safe
(engine.caching.BoundedCache), and goes with it: a test that builds a new app starts with empty caches."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

import flask

from engine.caching import BoundedCache
from engine.registry import Registry
from portal.accounts.audit_writer import AuditWriter
from portal.accounts.verified_keys import VerifiedKeys
from portal.core.db import Database
from portal.core.settings import Settings
from portal.core.storage import Storage
from portal.reports.figure_export import FigureExporter

EXTENSION = "cancer_alpha"


@dataclass
class PortalCaches:
    """What a portal computes once and reads often. Every entry is keyed by what makes it valid (a
    version's path and artifact sha256, an upload id), so none needs invalidating."""

    uploads: BoundedCache = field(default_factory=lambda: BoundedCache(2))
    """Decrypted uploads by (upload id, the run's revised_at): the results and explain pages read one
    repeatedly; an erasure that rewrites an upload changes revised_at, so another process reads it again."""
    run_tables: BoundedCache = field(default_factory=lambda: BoundedCache(4))
    """Finished runs' results as the results grid shows them, by (run id, revised_at): only an erasure
    changes a finished run, and it sets revised_at; a deleted or purged one is refused before this is read."""
    training_samples: BoundedCache = field(default_factory=lambda: BoundedCache(8))
    """A version's training values and labels (the explain page's context of a feature)."""
    projections: BoundedCache = field(default_factory=lambda: BoundedCache(4))
    """A version's PCA projection, fitted once (the results page's map of samples)."""
    reference_samples: BoundedCache = field(default_factory=lambda: BoundedCache(4))
    """A version's training samples in its out-of-distribution space (engine.neighbours: the explain page's
    most similar reference samples)."""
    performance_views: BoundedCache = field(default_factory=lambda: BoundedCache(32))
    """The Performance page's figures of a version, built once."""
    schema_arrays: BoundedCache = field(default_factory=lambda: BoundedCache(16))
    """The API's per-version arrays (feature names, value getter, bounds) for reading request bodies."""
    api_document: BoundedCache = field(default_factory=lambda: BoundedCache(1))
    """The generated OpenAPI document."""
    notebook_catalog: BoundedCache = field(default_factory=lambda: BoundedCache(1))
    """The notebooks and their parameters, keyed by the files' names and modification times."""
    drift: BoundedCache = field(default_factory=lambda: BoundedCache(16, ttl=300))
    """Drift of recent uploads against a production version's training samples (portal.monitoring.drift), by
    version, window and the uploads read (id, revised_at): the Monitoring page and the /metrics collector share
    it; the TTL lets uploads age out of the window."""


@dataclass
class Portal:
    settings: Settings
    db: Database
    registry: Registry
    storage: Storage = field(default=None)
    caches: PortalCaches = field(default_factory=PortalCaches)
    figure_exporter: FigureExporter = field(default_factory=FigureExporter)
    """The one kaleido browser of this portal's process for the PDF reports' figures, started on first use."""
    audit_writer: AuditWriter = field(default=None)
    """This process's group commit of the audit entries its requests record."""
    verified_keys: VerifiedKeys = field(default=None)
    """The API keys this process verified, held while the credential generation stands still."""

    def __post_init__(self):
        if self.storage is None:
            self.storage = Storage(self.settings)
        if self.audit_writer is None:
            self.audit_writer = AuditWriter(self.db.engine)
        if self.verified_keys is None:
            self.verified_keys = VerifiedKeys(self.db)

    @classmethod
    def from_settings(cls, settings: Settings) -> "Portal":
        return cls(settings=settings, db=Database(settings.database_url), registry=Registry(settings.models_dir))


class StandalonePortals:
    """Portals for code outside a request (background jobs in their own process), one per settings."""

    def __init__(self):
        self._portals: dict[Settings, Portal] = {}
        self._lock = threading.Lock()

    def get(self, settings: Settings) -> Portal:
        with self._lock:
            if settings not in self._portals:
                self._portals[settings] = Portal.from_settings(settings)
            return self._portals[settings]


# A job process has no app to hang its Portal on: this one holder is the process's (a worker builds
# one Portal per deployment's settings and keeps it, as a web process keeps its app's).
STANDALONE = StandalonePortals()


def standalone(settings: Settings) -> Portal:
    return STANDALONE.get(settings)


def install(server: flask.Flask, portal: Portal) -> None:
    server.extensions[EXTENSION] = portal


def get() -> Portal:
    """The current app's Portal (inside a request or an app context)."""
    return flask.current_app.extensions[EXTENSION]
