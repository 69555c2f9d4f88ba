"""The ``github`` connector: log in with GitHub or GitHub Enterprise Server (Dex type ``github``).

The browser goes through GitHub's OAuth web flow (``/login/oauth/authorize``, then a code for
token exchange); the connector reads ``/user``, ``/user/emails``, ``/user/orgs`` and
``/user/teams`` with the access token. GitHub OAuth tokens do not expire, so the token is kept
in ``connector_data`` and every refresh re-reads the user and their groups; a revoked token
makes the refresh fail.

Groups, as Dex forms them: with ``orgs`` the user must belong to one listed org (and, if the org
lists teams, to one of them); groups are ``org`` and ``org:team``. The legacy ``org`` key
requires membership and yields the user's bare team names in that org. ``loadAllGroups`` yields
every org and ``org:team`` of the user.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Self
from urllib.parse import urlencode, urlsplit

from connectors.base import (
    CallbackConnector,
    CallbackRequest,
    ConnectorConfigError,
    ConnectorError,
    Identity,
    RefreshConnector,
    Scopes,
    get_logger,
    key,
    parse_config,
)
from connectors.github_api import GitHubAPI, GitHubEndpoints

__all__ = ["GitHubConnector", "GitHubOrg", "Team", "pick_email"]

TEAM_NAME_FIELDS = ("name", "slug", "both")


@dataclass(frozen=True)
class GitHubOrg:
    """One entry of ``orgs``: an organization, optionally narrowed to some of its teams."""

    name: str = key("name")  # the org's login
    teams: tuple[str, ...] = key("teams", default=())  # team names or slugs; empty = any member


@dataclass(frozen=True)
class Team:
    """A team the user belongs to, as ``GET /user/teams`` describes it."""

    org: str
    name: str
    slug: str


@dataclass(frozen=True)
class GitHubConfig:
    """Settings of the ``github`` connector.

    Example::

        connectors:
        - type: github
          id: github
          name: GitHub
          config:
            clientID: $GITHUB_CLIENT_ID
            clientSecret: $GITHUB_CLIENT_SECRET
            redirectURI: https://dex.example.com/dex/callback
            orgs:
            - name: acme
              teams: [platform, sre]
            - name: acme-oss
            teamNameField: slug
            # GitHub Enterprise Server only:
            # hostName: github.acme.internal
            # rootCA: /etc/dex/github-ca.pem
    """

    client_id: str = key("clientID")  # OAuth app client ID
    client_secret: str = key("clientSecret")  # OAuth app client secret
    redirect_uri: str = key("redirectURI", default="")  # the issuer's /callback URL
    org: str = key("org", default="")  # legacy: one required org; groups are its team names
    orgs: tuple[GitHubOrg, ...] = key("orgs", default=())  # required orgs (and teams)
    load_all_groups: bool = key("loadAllGroups", default=False)  # every org and team as groups
    team_name_field: str = key("teamNameField", default="name")  # name | slug | both
    use_login_as_id: bool = key("useLoginAsID", default=False)  # user id = login, not number
    host_name: str = key("hostName", default="")  # GitHub Enterprise Server host[:port]
    root_ca: str = key("rootCA", default="")  # PEM file trusted for hostName's certificate
    preferred_email_domain: str = key("preferredEmailDomain", default="")  # e.g. *.acme.com

    def validate(self) -> list[tuple[str, str]]:
        errors: list[tuple[str, str]] = []
        if not self.client_id:
            errors.append(("clientID", "must not be empty"))
        if not self.client_secret:
            errors.append(("clientSecret", "must not be empty"))
        if self.redirect_uri:
            parts = urlsplit(self.redirect_uri)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                errors.append(("redirectURI", "must be an absolute http(s) URL"))
        if self.org and self.orgs:
            errors.append(("org", "cannot be used together with orgs; list it under orgs"))
        for i, org in enumerate(self.orgs):
            if not org.name:
                errors.append((f"orgs[{i}].name", "must not be empty"))
            for j, team in enumerate(org.teams):
                if not team:
                    errors.append((f"orgs[{i}].teams[{j}]", "must not be empty"))
        if self.team_name_field not in TEAM_NAME_FIELDS:
            errors.append(("teamNameField", "must be one of name, slug, both"))
        if self.host_name and ("/" in self.host_name or " " in self.host_name):
            errors.append(("hostName", "must be a host name (optionally :port), not a URL"))
        domain = self.preferred_email_domain
        if domain and (domain.endswith("*") or "@" in domain or "*" in domain[2:]):
            errors.append(
                ("preferredEmailDomain", "must be a domain such as acme.com or *.acme.com")
            )
        return errors


def pick_email(emails: list[Any], preferred_domain: str = "") -> str:
    """The verified address in ``preferred_domain`` (``*.acme.com`` matches subdomains only),
    else the verified primary address; ``ConnectorError`` if there is none."""
    primary = ""
    for entry in emails:
        if not isinstance(entry, Mapping) or entry.get("verified") is not True:
            continue
        address = entry.get("email")
        if not isinstance(address, str) or "@" not in address:
            continue
        if preferred_domain and _domain_matches(address, preferred_domain):
            return address
        if entry.get("primary") is True and not primary:
            primary = address
    if primary:
        return primary
    raise ConnectorError("Your GitHub account has no verified primary email address.")


def _domain_matches(address: str, pattern: str) -> bool:
    domain = address.rsplit("@", 1)[1].lower()
    pattern = pattern.lower()
    if pattern.startswith("*."):
        return domain.endswith(pattern[1:])
    return domain == pattern


class GitHubConnector(CallbackConnector, RefreshConnector):
    """Logs users in through GitHub's OAuth web flow (see the module docstring)."""

    Config = GitHubConfig

    def __init__(
        self,
        config: GitHubConfig,
        *,
        connector_id: str = "github",
        logger: logging.Logger | None = None,
    ) -> None:
        self.config = config
        self.connector_id = connector_id
        self._log = logger or get_logger(connector_id)
        self.endpoints = GitHubEndpoints(config.host_name, config.root_ca)

    @classmethod
    def open(
        cls,
        config: Mapping[str, Any] | None,
        *,
        connector_id: str,
        logger: logging.Logger | None = None,
        **services: Any,
    ) -> Self:
        cfg = parse_config(GitHubConfig, config)
        log = logger or get_logger(connector_id)
        if cfg.root_ca and not cfg.host_name:
            # Dex ignores rootCA without hostName; so do we, but say so.
            log.warning("connector %s: rootCA is ignored without hostName", connector_id)
            cfg = replace(cfg, root_ca="")
        if cfg.root_ca:
            _check_root_ca(cfg.root_ca)
        return cls(cfg, connector_id=connector_id, logger=log)

    # --- the web flow ----------------------------------------------------------------------

    def _scope(self) -> str:
        cfg = self.config
        if cfg.orgs or cfg.org or cfg.load_all_groups:
            return "user:email read:org"
        return "user:email"

    def login_url(self, scopes: Scopes, callback_url: str, state: str) -> tuple[str, bytes | None]:
        redirect_uri = self.config.redirect_uri or callback_url
        query = {
            "client_id": self.config.client_id,
            "redirect_uri": redirect_uri,
            "scope": self._scope(),
            "state": state,
        }
        login_state = json.dumps({"state": state, "redirectURI": redirect_uri}).encode()
        return f"{self.endpoints.authorize_url}?{urlencode(query)}", login_state

    def handle_callback(
        self, scopes: Scopes, request: CallbackRequest, login_state: bytes | None
    ) -> Identity:
        saved = _load_json(login_state)
        expected_state = saved.get("state")
        redirect_uri = saved.get("redirectURI")
        if not isinstance(expected_state, str) or not isinstance(redirect_uri, str):
            raise ConnectorError("This GitHub login was not started here; start again.")
        returned = request.args.get("state", "").encode()
        if not hmac.compare_digest(returned, expected_state.encode()):
            raise ConnectorError("The GitHub login returned a mismatched state; start again.")
        if request.args.get("error"):
            detail = request.args.get("error_description") or request.args["error"]
            raise ConnectorError(f"GitHub login failed: {detail[:200]}")
        code = request.args.get("code", "")
        if not code:
            raise ConnectorError("GitHub returned no authorization code.")
        with GitHubAPI(self.endpoints, self._log) as api:
            token = api.exchange_code(
                self.config.client_id, self.config.client_secret, code, redirect_uri
            )
            return self._identity(api, scopes, token)

    def refresh(self, scopes: Scopes, identity: Identity) -> Identity:
        token = _load_json(identity.connector_data).get("accessToken")
        if not isinstance(token, str) or not token:
            raise ConnectorError("No GitHub access token is stored for this login; log in again.")
        with GitHubAPI(self.endpoints, self._log, token) as api:
            return self._identity(api, scopes, token)

    def check(self) -> None:
        with GitHubAPI(self.endpoints, self._log) as api:
            api.ping(timeout=5.0)

    # --- who the user is -------------------------------------------------------------------

    def _identity(self, api: GitHubAPI, scopes: Scopes, token: str) -> Identity:
        user = api.get("/user")
        if not isinstance(user, Mapping):
            raise ConnectorError("GitHub's /user answered something unusable.")
        user_id, login = user.get("id"), user.get("login")
        if isinstance(user_id, bool) or not isinstance(user_id, int) or not isinstance(login, str):
            raise ConnectorError("GitHub's /user lacks id or login.")
        email = user.get("email") if isinstance(user.get("email"), str) else ""
        if not email or self.config.preferred_email_domain:
            email = pick_email(api.get_all("/user/emails"), self.config.preferred_email_domain)
        groups = self._groups(api, scopes, login)
        name = user.get("name")
        return Identity(
            user_id=login if self.config.use_login_as_id else str(user_id),
            username=name if isinstance(name, str) and name else login,
            preferred_username=login,
            email=email,
            email_verified=True,  # GitHub only shows and lets users publish verified addresses
            groups=groups,
            connector_data=json.dumps({"accessToken": token}).encode(),
        )

    def _groups(self, api: GitHubAPI, scopes: Scopes, login: str) -> tuple[str, ...]:
        cfg = self.config
        if cfg.orgs:
            return self._groups_for_orgs(api, login)
        if cfg.org:
            return self._legacy_org_groups(api, login)
        if cfg.load_all_groups and scopes.groups:
            return self._all_groups(*self._memberships(api))
        return ()

    def _memberships(self, api: GitHubAPI) -> tuple[list[str], list[Team]]:
        """The user's org logins and teams (``/user/orgs``, ``/user/teams``)."""
        orgs: list[str] = []
        for org in api.get_all("/user/orgs"):
            if isinstance(org, Mapping) and isinstance(org.get("login"), str):
                orgs.append(org["login"])
        teams: list[Team] = []
        for team in api.get_all("/user/teams"):
            if not isinstance(team, Mapping) or not isinstance(team.get("organization"), Mapping):
                continue
            org_login, name, slug = (
                team["organization"].get("login"),
                team.get("name"),
                team.get("slug"),
            )
            if isinstance(org_login, str) and isinstance(name, str) and isinstance(slug, str):
                teams.append(Team(org_login, name, slug))
                if org_login.lower() not in {o.lower() for o in orgs}:
                    orgs.append(org_login)  # a team member is a member of its org
        return orgs, teams

    def _team_names(self, team: Team) -> list[str]:
        field_name = self.config.team_name_field
        if field_name == "slug":
            return [team.slug]
        if field_name == "both" and team.slug != team.name:
            return [team.name, team.slug]
        return [team.name]

    def _all_groups(self, orgs: list[str], teams: list[Team]) -> tuple[str, ...]:
        groups = list(orgs)
        for team in teams:
            groups.extend(f"{team.org}:{n}" for n in self._team_names(team))
        return tuple(dict.fromkeys(groups))

    def _groups_for_orgs(self, api: GitHubAPI, login: str) -> tuple[str, ...]:
        orgs, teams = self._memberships(api)
        member_of = {o.lower() for o in orgs}
        groups: list[str] = []
        for org in self.config.orgs:
            if org.name.lower() not in member_of:
                continue
            in_org = [t for t in teams if t.org.lower() == org.name.lower()]
            if org.teams:
                wanted = {t.lower() for t in org.teams}
                in_org = [t for t in in_org if t.name.lower() in wanted or t.slug.lower() in wanted]
                if not in_org:
                    self._log.info(
                        "GitHub user %s is in org %s but no listed team", login, org.name
                    )
                    continue
            groups.append(org.name)
            for team in in_org:
                groups.extend(f"{org.name}:{n}" for n in self._team_names(team))
        if not groups:
            self._log.info("GitHub user %s is in no required org or team", login)
            raise ConnectorError(
                f"GitHub user {login} is not a member of a required organization or team."
            )
        if self.config.load_all_groups:
            return self._all_groups(orgs, teams)
        return tuple(dict.fromkeys(groups))

    def _legacy_org_groups(self, api: GitHubAPI, login: str) -> tuple[str, ...]:
        orgs, teams = self._memberships(api)
        wanted = self.config.org.lower()
        if wanted not in {o.lower() for o in orgs}:
            self._log.info("GitHub user %s is not in org %s", login, self.config.org)
            raise ConnectorError(
                f"GitHub user {login} is not a member of the required organization."
            )
        names = [n for t in teams if t.org.lower() == wanted for n in self._team_names(t)]
        return tuple(dict.fromkeys(names))


def _load_json(data: bytes | None) -> dict[str, Any]:
    if not data:
        return {}
    try:
        value = json.loads(data)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _check_root_ca(path: str) -> None:
    """Fail at start, with the key path, if ``rootCA`` is not a readable PEM certificate file."""
    try:
        with open(path, "rb") as fh:
            pem = fh.read()
    except OSError as exc:
        raise ConnectorConfigError(
            [("config.rootCA", f"cannot read {path}: {exc.strerror}")]
        ) from None
    if b"-----BEGIN CERTIFICATE-----" not in pem:
        raise ConnectorConfigError([("config.rootCA", f"{path} holds no PEM certificate")])
