"""The objects one portal app shares between its pages, callbacks and views."""
from __future__ import annotations

from dataclasses import dataclass

import flask

from engine.registry import Registry
from portal.db import Database
from portal.settings import Settings

EXTENSION = "cancer_alpha"


@dataclass
class Portal:
    settings: Settings
    db: Database
    registry: Registry


def install(server: flask.Flask, portal: Portal) -> None:
    server.extensions[EXTENSION] = portal


def get() -> Portal:
    """The current app's Portal (inside a request or an app context)."""
    return flask.current_app.extensions[EXTENSION]
