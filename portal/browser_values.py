"""Values a page's callback receives from the browser, checked for the type the page's own components send.

A request can be written by hand, so a grid's click event may arrive as a number, a text field as a list,
an id as a 30-digit integer. These helpers answer such a request 400 with a message naming the field,
instead of letting an AttributeError, an unhashable key or a database overflow become a 500; what the page
itself sends passes unchanged."""
from __future__ import annotations

import flask

from engine.registry import VERSION_PATTERN

MAX_RECORD_ID = 2**31 - 1  # INTEGER columns on SQLite and PostgreSQL


def event(value, field: str) -> dict:
    """A component's event or store object (a grid's cellClicked, a job's outcome): {} when unset."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        flask.abort(400, description=f"{field} must be an object")
    return value


def text(value, field: str, max_length: int) -> str | None:
    """A text field's value (None when empty), at most `max_length` characters."""
    if value is None:
        return None
    if not isinstance(value, str):
        flask.abort(400, description=f"{field} must be text")
    if len(value) > max_length:
        flask.abort(400, description=f"{field} has {len(value):,} characters; at most {max_length:,} are taken")
    return value


def version_number(value) -> int | None:
    """A version number from a page's address (`?version=2`), or None for anything else: a version is ASCII
    digits (str.isdigit() also takes "²", which int() refuses), and a repeated parameter arrives as a list."""
    return int(value) if isinstance(value, str) and VERSION_PATTERN.fullmatch(value) else None


def record_id(value, field: str) -> int | None:
    """A database id a dropdown offers (a user's, a key's): None when unset."""
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= MAX_RECORD_ID:
        flask.abort(400, description=f"{field} must be the id of a record")
    return value
