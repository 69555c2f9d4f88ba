"""A fake GitHub Enterprise Server for tests: the OAuth web flow and the REST API endpoints the
``github`` connector reads, speaking GitHub's documented JSON shapes.

It serves, on one HTTPS host (127.0.0.1, a certificate from a test CA made with
``cryptography``), what a GitHub Enterprise host serves:

- ``GET /login/oauth/authorize``: approves at once as ``next_login`` and redirects to
  ``redirect_uri`` with ``code`` and ``state`` (or ``error=access_denied`` when ``deny`` is set);
- ``POST /login/oauth/access_token``: code for token (JSON with ``Accept: application/json``,
  else form-encoded; bad codes answer HTTP 200 with ``error``, as GitHub does);
- ``GET /api/v3/user``, ``/user/emails``, ``/user/orgs``, ``/user/teams`` (paginated with
  ``page``/``per_page`` and ``Link`` headers), ``/rate_limit``; a bad token gets 401
  ``{"message": "Bad credentials"}``.
"""

from __future__ import annotations

import secrets
import ssl
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, jsonify, redirect, request
from werkzeug.serving import BaseWSGIServer, make_server

from tests.tls import CAFiles

DOCS_URL = "https://docs.github.com/rest"


# --- the fake's data ----------------------------------------------------------------------------


@dataclass
class FakeUser:
    """A GitHub account: ``email`` is the public profile address (``None`` = not public);
    ``emails`` the ``/user/emails`` entries; ``teams`` are ``(org, name, slug)``."""

    id: int
    login: str
    name: str | None = None
    email: str | None = None
    emails: list[dict[str, Any]] = field(default_factory=list)
    orgs: list[str] = field(default_factory=list)
    teams: list[tuple[str, str, str]] = field(default_factory=list)


def _org_json(login: str, base: str) -> dict[str, Any]:
    org_id = abs(hash(login)) % 10_000_000
    url = f"{base}/api/v3/orgs/{login}"
    return {
        "login": login,
        "id": org_id,
        "node_id": f"O_{org_id}",
        "url": url,
        "repos_url": f"{url}/repos",
        "events_url": f"{url}/events",
        "hooks_url": f"{url}/hooks",
        "issues_url": f"{url}/issues",
        "members_url": f"{url}/members{{/member}}",
        "public_members_url": f"{url}/public_members{{/member}}",
        "avatar_url": f"{base}/avatars/{login}",
        "description": f"The {login} organization",
    }


def _team_json(org: str, name: str, slug: str, base: str) -> dict[str, Any]:
    team_id = abs(hash((org, slug))) % 10_000_000
    url = f"{base}/api/v3/organizations/{abs(hash(org)) % 10_000_000}/team/{team_id}"
    return {
        "id": team_id,
        "node_id": f"T_{team_id}",
        "url": url,
        "html_url": f"{base}/orgs/{org}/teams/{slug}",
        "name": name,
        "slug": slug,
        "description": "",
        "privacy": "closed",
        "notification_setting": "notifications_enabled",
        "permission": "pull",
        "members_url": f"{url}/members{{/member}}",
        "repositories_url": f"{url}/repos",
        "parent": None,
        "members_count": 3,
        "repos_count": 1,
        "organization": {**_org_json(org, base), "name": org, "type": "Organization"},
    }


class FakeGitHub:
    """The fake's state plus its Flask app; ``start()`` serves it over HTTPS in a thread."""

    def __init__(self, ca: CAFiles, client_id: str = "gh-client", client_secret: str = "gh-secret"):
        self.ca = ca
        self.client_id = client_id
        self.client_secret = client_secret
        self._lock = threading.Lock()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.reset()
        self.app = self._make_app()

    def reset(self) -> None:
        """Forget users, codes, tokens and recorded requests; restore the defaults."""
        with self._lock:
            self.users: dict[str, FakeUser] = {}
            self.next_login = ""
            self.deny = False
            self.codes: dict[str, tuple[str, str, str]] = {}  # code -> (login, redirect, scope)
            self.tokens: dict[str, tuple[str, str]] = {}  # token -> (login, scope)
            self.max_page_size = 100
            self.foreign_next_link = False
            self.authorize_requests: list[dict[str, str]] = []
            self.token_requests: list[dict[str, str]] = []
            self.api_requests: list[str] = []

    # --- test controls -----------------------------------------------------------------------

    def add_user(self, user: FakeUser) -> FakeUser:
        with self._lock:
            self.users[user.login] = user
        return user

    def issue_token(self, login: str, scope: str = "user:email read:org") -> str:
        """An access token for ``login`` without the web flow (for refresh tests)."""
        token = "gho_" + secrets.token_urlsafe(24)
        with self._lock:
            self.tokens[token] = (login, scope)
        return token

    def revoke(self, token: str) -> None:
        with self._lock:
            self.tokens.pop(token, None)

    @property
    def host_name(self) -> str:
        """What a config's ``hostName`` holds: ``127.0.0.1:<port>``."""
        assert self._server is not None, "not started"
        return f"127.0.0.1:{self._server.server_port}"

    @property
    def base_url(self) -> str:
        return f"https://{self.host_name}"

    def connector_config(self, **extra: Any) -> dict[str, Any]:
        """The ``github`` connector's config for this host, as a GitHub Enterprise user writes it
        (``hostName`` and ``rootCA``), with ``extra`` keys after."""
        return {
            "clientID": self.client_id,
            "clientSecret": self.client_secret,
            "hostName": self.host_name,
            "rootCA": str(self.ca.ca_pem),
            **extra,
        }

    def start(self) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.ca.cert_pem, self.ca.key_pem)
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True, ssl_context=context)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(10)

    # --- the HTTP side -------------------------------------------------------------------------

    def _make_app(self) -> Flask:
        app = Flask("fake_github")
        app.add_url_rule("/login/oauth/authorize", view_func=self._authorize)
        app.add_url_rule(
            "/login/oauth/access_token", view_func=self._access_token, methods=["POST"]
        )
        app.add_url_rule("/api/v3/user", view_func=self._user)
        app.add_url_rule("/api/v3/user/emails", view_func=self._emails)
        app.add_url_rule("/api/v3/user/orgs", view_func=self._orgs)
        app.add_url_rule("/api/v3/user/teams", view_func=self._teams)
        app.add_url_rule("/api/v3/rate_limit", view_func=self._rate_limit)
        return app

    def _authorize(self) -> Response:
        args = request.args.to_dict()
        with self._lock:
            self.authorize_requests.append(args)
        if args.get("client_id") != self.client_id:
            return Response("Not Found", status=404)
        redirect_uri = args.get("redirect_uri", "")
        if not redirect_uri:
            return Response("redirect_uri required by this fake", status=400)
        params = {"state": args.get("state", "")}
        if self.deny:
            params.update(
                error="access_denied",
                error_description="The user has denied your application access.",
            )
        else:
            code = secrets.token_hex(10)
            with self._lock:
                self.codes[code] = (self.next_login, redirect_uri, args.get("scope", ""))
            params["code"] = code
        sep = "&" if "?" in redirect_uri else "?"
        return redirect(redirect_uri + sep + urlencode(params), code=302)  # type: ignore[return-value]

    def _access_token(self) -> Response:
        form = request.form.to_dict()
        with self._lock:
            self.token_requests.append({**form, "_accept": request.headers.get("Accept", "")})
            entry = self.codes.pop(form.get("code", ""), None)
        if (form.get("client_id"), form.get("client_secret")) != (
            self.client_id,
            self.client_secret,
        ):
            body: dict[str, str] = {
                "error": "incorrect_client_credentials",
                "error_description": "The client_id and/or client_secret passed are incorrect.",
            }
        elif entry is None or (form.get("redirect_uri") and form["redirect_uri"] != entry[1]):
            body = {
                "error": "bad_verification_code",
                "error_description": "The code passed is incorrect or expired.",
            }
        else:
            token = self.issue_token(entry[0], entry[2])
            body = {"access_token": token, "token_type": "bearer", "scope": entry[2]}
        if "application/json" in request.headers.get("Accept", ""):
            return jsonify(body)
        return Response(urlencode(body), content_type="application/x-www-form-urlencoded")

    def _auth(self) -> tuple[FakeUser | None, str, Response | None]:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        with self._lock:
            self.api_requests.append(request.full_path.rstrip("?"))
            entry = self.tokens.get(token) if scheme.lower() in ("bearer", "token") else None
            user = self.users.get(entry[0]) if entry else None
        if entry is None or user is None:
            bad = jsonify(message="Bad credentials", documentation_url=DOCS_URL)
            bad.status_code = 401
            return None, "", bad
        return user, entry[1], None

    def _user(self) -> Response:
        user, _scope, err = self._auth()
        if err is not None:
            return err
        assert user is not None
        base = self.base_url
        return jsonify(
            login=user.login,
            id=user.id,
            node_id=f"U_{user.id}",
            avatar_url=f"{base}/avatars/{user.login}",
            html_url=f"{base}/{user.login}",
            type="User",
            site_admin=False,
            name=user.name,
            company=None,
            blog="",
            location=None,
            email=user.email,
            hireable=None,
            bio=None,
            public_repos=2,
            followers=0,
            following=0,
            created_at="2020-01-01T00:00:00Z",
            updated_at="2024-01-01T00:00:00Z",
        )

    def _emails(self) -> Response:
        user, scope, err = self._auth()
        if err is not None:
            return err
        assert user is not None
        if "user:email" not in scope.split() and "user" not in scope.split():
            return self._not_found()
        return self._page([dict(e) for e in user.emails])

    def _orgs(self) -> Response:
        user, scope, err = self._auth()
        if err is not None:
            return err
        assert user is not None
        if "read:org" not in scope.split():
            return self._forbidden("read:org")
        return self._page([_org_json(o, self.base_url) for o in user.orgs])

    def _teams(self) -> Response:
        user, scope, err = self._auth()
        if err is not None:
            return err
        assert user is not None
        if "read:org" not in scope.split():
            return self._forbidden("read:org")
        return self._page([_team_json(o, n, s, self.base_url) for o, n, s in user.teams])

    def _rate_limit(self) -> Response:
        core = {"limit": 5000, "remaining": 5000, "reset": 0, "used": 0}
        return jsonify(resources={"core": core}, rate=core)

    def _page(self, items: list[dict[str, Any]]) -> Response:
        """One page of ``items`` per ``page``/``per_page`` (default 30, capped), with a ``Link``
        header naming ``next``/``last`` and ``first``/``prev`` as GitHub does."""
        per_page = min(int(request.args.get("per_page", 30)), 100, self.max_page_size)
        page = max(int(request.args.get("page", 1)), 1)
        last = max((len(items) + per_page - 1) // per_page, 1)
        resp = jsonify(items[(page - 1) * per_page : page * per_page])
        base = self.base_url
        if self.foreign_next_link:
            base = "https://evil.example"

        def link(p: int, rel: str) -> str:
            query = urlencode({"per_page": per_page, "page": p})
            return f'<{base}{request.path}?{query}>; rel="{rel}"'

        links = []
        if page < last:
            links += [link(page + 1, "next"), link(last, "last")]
        if page > 1:
            links += [link(1, "first"), link(page - 1, "prev")]
        if links:
            resp.headers["Link"] = ", ".join(links)
        return resp

    @staticmethod
    def _not_found() -> Response:
        resp = jsonify(message="Not Found", documentation_url=DOCS_URL)
        resp.status_code = 404
        return resp

    @staticmethod
    def _forbidden(scope: str) -> Response:
        resp = jsonify(message=f"This API requires the {scope} scope.", documentation_url=DOCS_URL)
        resp.status_code = 403
        return resp
