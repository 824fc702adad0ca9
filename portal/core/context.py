"""The objects one portal app shares between its pages, callbacks and views."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

import flask

from engine.registry import Registry
from portal.core.db import Database
from portal.core.settings import Settings
from portal.core.storage import Storage

EXTENSION = "cancer_alpha"


@dataclass
class Portal:
    settings: Settings
    db: Database
    registry: Registry
    storage: Storage = field(default=None)

    def __post_init__(self):
        if self.storage is None:
            self.storage = Storage(self.settings)

    @classmethod
    def from_settings(cls, settings: Settings) -> "Portal":
        return cls(settings=settings, db=Database(settings.database_url), registry=Registry(settings.models_dir))


_standalone: dict[Settings, Portal] = {}
_standalone_lock = threading.Lock()


def standalone(settings: Settings) -> Portal:
    """A Portal for code outside a request (background jobs in their own process), one per settings."""
    with _standalone_lock:
        if settings not in _standalone:
            _standalone[settings] = Portal.from_settings(settings)
        return _standalone[settings]


def install(server: flask.Flask, portal: Portal) -> None:
    server.extensions[EXTENSION] = portal


def get() -> Portal:
    """The current app's Portal (inside a request or an app context)."""
    return flask.current_app.extensions[EXTENSION]
