"""The body of a Dash callback request (POST /_dash-update-component), checked before Dash reads it.

Dash trusts the body's shape: a list where it expects an object, an output no server callback has, one
input too few, or a dependency with another id all ended in a KeyError or TypeError, so a 500. A body
that does not match the callback it names is refused here with 400 in the portal's error shape, naming
what is wrong. The dependencies must be the callback's own, in its order (their ids and properties as
declared; a pattern-matching one with the declared keys), so that what reads a value by its id (the
background guard, portal.jobs.managers) reads what the callback gets. Values stay the callbacks' to check,
except the address properties of dcc.Location, which Dash's own page routing reads as text.

`callback_body()` is the checked body, worked out once per request (kept in the request's WSGI environ, not
in flask.g, which a pushed application context shares between requests)."""
from __future__ import annotations

import json

import dash
import flask

DASH_CALLBACK = "/_dash-update-component"
WILDCARDS = {"ALL", "ALLSMALLER", "MATCH"}
MULTIPLE = {"ALL", "ALLSMALLER"}  # a list of dependencies in the body; MATCH is one
TEXT_PROPERTIES = {"search", "hash", "href"}  # dcc.Location's: text or null; "pathname" text from "/"
MAX_OUTPUT = 10_000  # characters of the output key (the longest the portal's callbacks make is ~400)
_ENVIRON_KEY = "cancer_alpha.callback_body"


class BadCallbackBody(Exception):
    """What is wrong with a callback request's body, in words for the answer."""


def install(app: dash.Dash) -> None:
    """Check every callback request's body before Dash reads it."""
    app.server.extensions["cancer_alpha_dash_app"] = app
    app.server.before_request(_check_callback_request)


def _check_callback_request() -> None:
    if is_callback_request():
        callback_body()


def is_callback_request() -> bool:
    return flask.request.method == "POST" and flask.request.path == DASH_CALLBACK


def callback_body() -> dict:
    """The request's callback body once it matched the callback it names (400 otherwise)."""
    environ = flask.request.environ
    if _ENVIRON_KEY not in environ:
        app = flask.current_app.extensions["cancer_alpha_dash_app"]
        try:
            body = _parsed()
            check(body, app.callback_map)
        except BadCallbackBody as error:
            flask.abort(400, description=f"This callback request is malformed: {error}")
        environ[_ENVIRON_KEY] = body
    return environ[_ENVIRON_KEY]


def _parsed():
    """The body as JSON (None for none). The parser's RecursionError for arrays nested thousands deep is no
    ValueError, so get_json(silent=True) lets it through: a malformed body too."""
    try:
        body = flask.request.get_json(silent=True)
    except RecursionError:
        raise BadCallbackBody("the body is nested too deeply") from None
    if body is None and flask.request.get_data():
        raise BadCallbackBody("the body is not valid JSON")
    return body


def check(body, callback_map: dict) -> None:
    """Raise BadCallbackBody unless `body` is a request for a server callback of `callback_map` with
    that callback's outputs, inputs and state."""
    if not isinstance(body, dict):
        raise BadCallbackBody("the body must be a JSON object with output, outputs, inputs, state and "
                              "changedPropIds")
    output = body.get("output")
    if not isinstance(output, str) or len(output) > MAX_OUTPUT:
        raise BadCallbackBody("'output' must be the text naming the callback's outputs")
    spec = callback_map.get(output)
    if spec is None or "callback" not in spec:  # a clientside callback runs in the browser only
        raise BadCallbackBody(f"no server callback has the output {output[:200]!r}")
    _check_outputs(body.get("outputs"), output)
    _check_dependencies(body.get("inputs"), spec["inputs"], "inputs")
    _check_dependencies(body.get("state", []), spec["state"], "state")
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or not all(isinstance(item, str) for item in changed):
        raise BadCallbackBody("'changedPropIds' must be a list of texts")


def _check_outputs(outputs, output: str) -> None:
    many = output.startswith("..")
    count = len([part for part in output.strip(".").split("...") if part]) if many else 1
    if many and not (isinstance(outputs, list) and len(outputs) == count):
        raise BadCallbackBody(f"'outputs' must be a list of the callback's {count} outputs")
    for item in outputs if many else [outputs]:
        items = item if isinstance(item, list) else [item]  # a pattern-matching output is a list
        if not all(isinstance(target, dict) and isinstance(target.get("property"), str) for target in items):
            raise BadCallbackBody("each of 'outputs' must be an object with an id and a property")


def _check_dependencies(given, declared: list[dict], field: str) -> None:
    if not isinstance(given, list) or len(given) != len(declared):
        raise BadCallbackBody(f"'{field}' must be a list of the callback's {len(declared)} {field}")
    for position, (item, dependency) in enumerate(zip(given, declared)):
        where = f"{field}[{position}]"
        pattern = _pattern(dependency["id"])
        if pattern is None:
            _check_one(item, dependency["id"], dependency["property"], where)
        elif _wildcards(pattern) & MULTIPLE:
            if not isinstance(item, list):
                raise BadCallbackBody(f"{where} must be a list (its id is a pattern)")
            for index, one in enumerate(item):
                _check_one(one, pattern, dependency["property"], f"{where}[{index}]")
        else:
            _check_one(item, pattern, dependency["property"], where)


def _check_one(item, declared_id, prop: str, where: str) -> None:
    if not isinstance(item, dict) or item.get("property") != prop or not _same_id(item.get("id"), declared_id):
        raise BadCallbackBody(f"{where} must be the callback's own dependency ({_shown(declared_id)}.{prop})")
    value = item.get("value")
    if prop == "pathname" and not (isinstance(value, str) and value.startswith("/")):
        raise BadCallbackBody(f"{where}: a pathname is text starting with '/'")
    if prop in TEXT_PROPERTIES and not isinstance(value, (str, type(None))):
        raise BadCallbackBody(f"{where}: {prop} is text")


def _pattern(component_id: str) -> dict | None:
    """A pattern-matching id as declared (Dash keeps it as JSON text), or None for a plain id."""
    if not component_id.startswith("{"):
        return None
    return json.loads(component_id)


def _wildcards(pattern: dict) -> set[str]:
    return {value[0] for value in pattern.values() if isinstance(value, list) and value and value[0] in WILDCARDS}


def _same_id(given, declared) -> bool:
    if isinstance(declared, str):
        return given == declared
    if not isinstance(given, dict) or set(given) != set(declared):
        return False
    for key, wanted in declared.items():
        if isinstance(wanted, list):  # a wildcard: any one plain value
            if not isinstance(given[key], (str, int, float, bool)):
                return False
        elif given[key] != wanted:
            return False
    return True


def _shown(declared_id) -> str:
    return declared_id if isinstance(declared_id, str) else json.dumps(declared_id, sort_keys=True)
