"""Access logs without sample ids or personal data: a logged request names its path without the query
string (which may carry `next=/explain/<run>/<sample>` or a model's parameters), with the sample id of
an explanation page's path (/explain/<run_id>/<sample_id>) and of the API's sample routes
(/api/v1/runs/<run_id>/samples/<sample_id>/...) replaced by `<sample>`.

Both servers the portal runs under log that way: the development server (werkzeug, through a filter on
its logger that create_app installs) and gunicorn (`logger_class` in deploy/gunicorn.conf.py), whose
atoms for the request line, path, query, referrer and the cookie and authorization headers are
rewritten whatever access_log_format says."""
from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit

from gunicorn import glogging

# an explanation page's path, and the API's routes of one sample of a run (its FHIR bundle, its report)
SAMPLE_IN_PATH = re.compile(r"^(/explain/[^/]+/|/api/v1/runs/[^/]+/samples/)[^/]+")
REQUEST_LINE = re.compile(r"([A-Z]+) (\S+) (HTTP/\d(?:\.\d)?)")  # inside werkzeug's colour codes too
SECRET_HEADERS = ("{cookie}i", "{authorization}i", "{x-api-key}i")


def loggable_path(target: str) -> str:
    """The path of a request target (or URL path), without its query, with an explained sample's id
    replaced: `/explain/r1/TCGA-A1?x=1` becomes `/explain/r1/<sample>`."""
    path = target.split("?", 1)[0].split("#", 1)[0]
    return SAMPLE_IN_PATH.sub(r"\1<sample>", path)


def loggable_url(url: str) -> str:
    """A referrer with the same treatment as a path (its site kept)."""
    if not url or url == "-":
        return "-"
    parts = urlsplit(url)
    site = f"{parts.scheme}://{parts.netloc}" if parts.netloc else ""
    return site + loggable_path(parts.path)


class RequestLineFilter(logging.Filter):
    """Rewrites the request line in werkzeug's access-log records ('"GET /path?query HTTP/1.1" 200 -')."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(REQUEST_LINE.sub(_loggable_line, arg) if isinstance(arg, str) else arg
                                for arg in record.args)
        return True


def _loggable_line(match: re.Match) -> str:
    return f"{match[1]} {loggable_path(match[2])} {match[3]}"


def install_development_filter() -> None:
    """Once per process: werkzeug's logger is global."""
    logger = logging.getLogger("werkzeug")
    if not any(isinstance(f, RequestLineFilter) for f in logger.filters):
        logger.addFilter(RequestLineFilter())


class GunicornLogger(glogging.Logger):
    """gunicorn's logger with the request's atoms made loggable (see the module's docstring)."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        path, referrer = loggable_path(environ.get("PATH_INFO") or ""), loggable_url(environ.get("HTTP_REFERER", "-"))
        atoms.update({"r": f"{environ.get('REQUEST_METHOD')} {path} {environ.get('SERVER_PROTOCOL')}", "U": path,
                      "q": "-", "f": referrer, "{referer}i": referrer})
        for name in SECRET_HEADERS:
            if name in atoms:
                atoms[name] = "-"
        return atoms
