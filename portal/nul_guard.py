"""No NUL character (U+0000) reaches the database: PostgreSQL cannot store one in text (psycopg2 raises
ValueError, a 500), and no field of the portal has a use for it. Installed before the other request hooks
(create_app), it answers before any view or guard reads the request:

- a path holding one names nothing: 404;
- one in the query, in form fields or in the text of a JSON body (a Dash callback's): 400;
- a part of a multipart form whose Content-Disposition has no readable name (werkzeug keys it None, which
  no reader of a form expects): 400.

The API's JSON bodies are left to the API's request models (portal.api.schemas), whose OpenAPI document says
what a body may hold: of their texts only the data-use reference is stored, and it refuses every control
character (portal.predictions.consent); sample ids and feature names are only read and answered."""
from __future__ import annotations

import json

import flask

from portal.http_hardening import API_FOLDER

NUL_ESCAPE = b"\\u0000"  # JSON writes a NUL in text as \u0000 (a raw one is not JSON)
ESCAPED_BACKSLASH = b"\\\\"
REFUSED = "Text in this request holds a NUL character (\\u0000), which the portal does not take."
NAMELESS = "A part of the form has no readable name in its Content-Disposition header."


def install(server: flask.Flask) -> None:
    server.before_request(_refuse_nul)


def json_has_nul(raw: bytes) -> bool:
    """True when JSON text holds a \\u0000 escape (an odd run of backslashes before u0000; an even one is
    an escaped backslash followed by the letters). Dropping the escaped backslashes, pair by pair from the
    left, leaves of each run of backslashes one when it was odd and none when it was even: linear, and in C
    (a backtracking pattern took seconds for 20 kB of backslashes, before any sign-in). JSON in UTF-16 or
    UTF-32, which the JSON parser reads too, is read as text first."""
    encoding = json.detect_encoding(raw)
    if encoding not in ("utf-8", "utf-8-sig"):
        raw = raw.decode(encoding, errors="replace").encode("utf-8")
    return NUL_ESCAPE in raw and NUL_ESCAPE in raw.replace(ESCAPED_BACKSLASH, b"")


def _refuse_nul() -> None:
    request = flask.request
    if "\x00" in request.path:
        flask.abort(404, description="No such page: the address holds a NUL character.")
    if any("\x00" in key or "\x00" in value for key, value in request.args.items(multi=True)):
        flask.abort(400, description=REFUSED)
    if request.method not in ("POST", "PUT", "PATCH"):
        return
    if request.mimetype == "application/json":
        if not request.path.startswith(API_FOLDER) and json_has_nul(request.get_data(cache=True)):
            flask.abort(400, description=REFUSED)
    else:
        if None in request.form or None in request.files:
            flask.abort(400, description=NAMELESS)
        if any("\x00" in key or "\x00" in value for key, value in request.form.items(multi=True)):
            flask.abort(400, description=REFUSED)
