"""No cookie session for the API: its callers authenticate with a key on every request, so Flask opens no
signed session cookie for them (itsdangerous's serializer and the cookie's signature check were about 2% of
an API call's CPU) and saves none. Everywhere else, Flask's own signed cookie sessions."""
from __future__ import annotations

import flask
from flask.sessions import SecureCookieSessionInterface

from portal.http_hardening import API_FOLDER


class NoSessionForTheApi(SecureCookieSessionInterface):
    def open_session(self, app: flask.Flask, request: flask.Request):
        if request.path.startswith(API_FOLDER):
            return self.null_session_class()
        return super().open_session(app, request)
