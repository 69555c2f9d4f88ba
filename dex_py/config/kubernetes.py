"""The ``kubernetes`` config section (a dex-py addition): the TokenReview webhook's settings.

::

    kubernetes:
      tokenReview:
        audiences: [kubernetes]          # client IDs whose tokens the cluster accepts
        usernameClaim: email             # default email; kube-apiserver's own default is sub
        usernamePrefix: "oidc:"          # default: "<issuer>#" unless the claim is email; "-": none
        groupsPrefix: "oidc:"            # default: none
        callerTokens: [$KUBE_WEBHOOK_TOKEN]   # $VAR / ${VAR} expanded; empty: endpoint off (404)
        apiServerAudiences:              # optional: API server audience -> client IDs
          https://kubernetes.default.svc: [kubernetes]
        connectorCheck: 10m              # default 10m; 0s: off (see below)

The webhook itself (``POST {issuer}/kubernetes/tokenreview``, Kubernetes' webhook token
authentication) lives in ``dex_py.kube``. The username and groups rules are those of
kube-apiserver's ``--oidc-username-claim``, ``--oidc-username-prefix`` and
``--oidc-groups-prefix``: a prefix left unset is ``<issuer>#`` for any username claim but
``email``, and ``-`` means no prefix. The default claim is ``email`` (not the API server's
``sub``): Dex's ``sub`` is an opaque encoding of user and connector, useless in RBAC bindings.

``apiServerAudiences`` serves the audience rule of the webhook contract: kube-apiserver sends
its own audiences in ``spec.audiences`` (by default its service account issuer) and accepts an
answer only for those named in ``status.audiences``. A token counts for such an audience if its
``aud`` names one of the client IDs the audience maps to; an audience not in the mapping maps to
every client of ``audiences`` (the cluster accepts those clients' tokens), so the mapping only
narrows. Every client ID named anywhere here must be a static client, and those of
``apiServerAudiences`` must also be among ``audiences``.

``connectorCheck``: how often the refresh chains of the ``audiences`` clients are checked
upstream between refreshes (``dex_py.oauth.connector_check``): a user the connector says is
gone, or who lost a team, has the chain revoked, so the webhook refuses their tokens within
about that time, not only at their next refresh (kubectl's plugin refreshes when the ID token
expires, ``expiry.idTokens``).

``parse_token_review`` returns the settings (``None`` when the section or ``callerTokens`` is
absent or empty: the endpoint is off); every problem is a ``ConfigError`` naming its key.
``kube setup --webhook`` reads ``webhook_url`` and ``caller_tokens`` from it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from dex_py.config import feature_flags
from dex_py.config.durations import parse_duration
from dex_py.config.envexpand import expand_env
from dex_py.config.model import Config, ConfigError

SECTION = "kubernetes"
TOKEN_REVIEW = "tokenReview"
PATH = f"{SECTION}.{TOKEN_REVIEW}"
WEBHOOK_PATH = "/kubernetes/tokenreview"  # under the issuer
# The section's keys (the JSON Schema of dex_py.config.schema lists them for editors).
SECTION_KEYS = (TOKEN_REVIEW,)
TOKEN_REVIEW_KEYS = (
    "audiences",
    "usernameClaim",
    "usernamePrefix",
    "groupsPrefix",
    "callerTokens",
    "apiServerAudiences",
    "connectorCheck",
)
DEFAULT_USERNAME_CLAIM = "email"
NO_PREFIX = "-"
MIN_CALLER_TOKEN_LENGTH = 16
DEFAULT_CONNECTOR_CHECK = timedelta(minutes=10)


@dataclass(frozen=True)
class TokenReviewSettings:
    """``kubernetes.tokenReview`` parsed; ``caller_tokens`` are expanded from the environment."""

    audiences: tuple[str, ...]
    caller_tokens: tuple[str, ...]
    username_claim: str = DEFAULT_USERNAME_CLAIM
    username_prefix: str | None = None  # None: kube-apiserver's default (see username_prefix_for)
    groups_prefix: str = ""
    api_server_audiences: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    connector_check: timedelta = DEFAULT_CONNECTOR_CHECK  # timedelta(0): off

    def username_prefix_for(self, issuer: str) -> str:
        """The prefix put before every username, by kube-apiserver's rules."""
        if self.username_prefix is None:
            return "" if self.username_claim == "email" else issuer + "#"
        return "" if self.username_prefix == NO_PREFIX else self.username_prefix

    def clients_for(self, api_audience: str) -> tuple[str, ...]:
        """The client IDs whose tokens count for an audience the API server sends."""
        return self.api_server_audiences.get(api_audience, self.audiences)


def webhook_url(issuer: str) -> str:
    """The webhook's URL, for ``--authentication-token-webhook-config-file``'s kubeconfig."""
    return issuer.rstrip("/") + WEBHOOK_PATH


def parse_token_review(config: Config) -> TokenReviewSettings | None:
    """The webhook's settings from ``config``, or ``None`` when it is off. Raises
    ``ConfigError`` listing every problem with its key path."""
    parser = _Parser({c.id for c in config.static_clients if c.id})
    settings = parser.parse(config.extensions.get(SECTION))
    if parser.errors:
        raise ConfigError(parser.errors)
    return settings


def validate_kubernetes_section(config: Config) -> list[tuple[str, str]]:
    """Every problem in ``config``'s ``kubernetes`` section as ``(key path, message)``."""
    try:
        parse_token_review(config)
    except ConfigError as exc:
        return list(exc.errors)
    return []


def _lookup_into(missing: list[str]) -> Callable[[str], str]:
    """An environment lookup for ``expand_env`` that lists the names that are not set."""

    def lookup(name: str) -> str:
        if name not in os.environ:
            missing.append(name)
        return os.environ.get(name, "")

    return lookup


class _Parser:
    def __init__(self, static_clients: set[str]) -> None:
        self.static_clients = static_clients
        self.errors: list[tuple[str, str]] = []
        self.expand = feature_flags.expand_env()

    def error(self, path: str, message: str) -> None:
        self.errors.append((path, message))

    def mapping(self, value: Any, path: str, known: tuple[str, ...]) -> Mapping[Any, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.error(path, "must be a mapping")
            return {}
        for key in value:
            if key not in known:
                self.error(f"{path}.{key}", f"unknown key (expected one of: {', '.join(known)})")
        return value

    def strings(self, section: Mapping[Any, Any], key: str, path: str) -> list[str]:
        value = section.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.error(path, "must be a list of strings")
            return []
        out = []
        for j, item in enumerate(value):
            if not isinstance(item, str) or not item:
                self.error(f"{path}[{j}]", "must be a non-empty string")
            else:
                out.append(item)
        return out

    def string(self, section: Mapping[Any, Any], key: str, default: str | None) -> str | None:
        value = section.get(key)
        if value is None:
            return default
        if not isinstance(value, str):
            self.error(f"{PATH}.{key}", "must be a string")
            return default
        return value

    def client_ids(self, section: Mapping[Any, Any], key: str, path: str) -> tuple[str, ...]:
        ids = self.strings(section, key, path)
        for j, cid in enumerate(ids):
            if cid not in self.static_clients:
                self.error(f"{path}[{j}]", f"{cid!r} is not a static client (staticClients)")
        return tuple(dict.fromkeys(ids))

    def caller_tokens(self, section: Mapping[Any, Any]) -> tuple[str, ...]:
        path = f"{PATH}.callerTokens"
        out = []
        for j, raw in enumerate(self.strings(section, "callerTokens", path)):
            missing: list[str] = []
            token = expand_env(raw, _lookup_into(missing)) if self.expand else raw
            if missing:
                names = ", ".join(missing)
                self.error(f"{path}[{j}]", f"environment variable {names} is not set")
            elif len(token) < MIN_CALLER_TOKEN_LENGTH or token != token.strip():
                self.error(
                    f"{path}[{j}]",
                    f"must be at least {MIN_CALLER_TOKEN_LENGTH} characters, without spaces "
                    "around it (after $VAR expansion)",
                )
            else:
                out.append(token)
        return tuple(dict.fromkeys(out))

    def api_audiences(
        self, section: Mapping[Any, Any], audiences: tuple[str, ...]
    ) -> dict[str, tuple[str, ...]]:
        path = f"{PATH}.apiServerAudiences"
        value = section.get("apiServerAudiences")
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.error(path, "must be a mapping of API server audience to a list of client IDs")
            return {}
        out: dict[str, tuple[str, ...]] = {}
        for api_audience in value:
            at = f"{path}.{api_audience}"
            if not isinstance(api_audience, str) or not api_audience:
                self.error(at, "the API server audience must be a non-empty string")
                continue
            ids = self.client_ids(value, api_audience, at)
            for j, cid in enumerate(ids):
                if cid in self.static_clients and cid not in audiences:
                    self.error(f"{at}[{j}]", f"{cid!r} is not among {PATH}.audiences")
            if value[api_audience] in (None, []):
                self.error(at, "must name at least one client ID")
            out[api_audience] = ids
        return out

    def duration(self, section: Mapping[Any, Any], key: str, default: timedelta) -> timedelta:
        value = self.string(section, key, None)
        if value is None:
            return default
        try:
            parsed = parse_duration(value)
        except ValueError as exc:
            self.error(f"{PATH}.{key}", str(exc))
            return default
        if parsed < timedelta(0):
            self.error(f"{PATH}.{key}", "must not be negative")
            return default
        return parsed

    def parse(self, raw: Any) -> TokenReviewSettings | None:
        section = self.mapping(raw, SECTION, SECTION_KEYS)
        review = self.mapping(section.get(TOKEN_REVIEW), PATH, TOKEN_REVIEW_KEYS)
        audiences = self.client_ids(review, "audiences", f"{PATH}.audiences")
        caller_tokens = self.caller_tokens(review)
        username_claim = self.string(review, "usernameClaim", DEFAULT_USERNAME_CLAIM) or ""
        if not username_claim:
            self.error(f"{PATH}.usernameClaim", "must not be empty")
        username_prefix = self.string(review, "usernamePrefix", None)
        groups_prefix = self.string(review, "groupsPrefix", "") or ""
        if groups_prefix == NO_PREFIX:
            groups_prefix = ""
        mapping = self.api_audiences(review, audiences)
        connector_check = self.duration(review, "connectorCheck", DEFAULT_CONNECTOR_CHECK)
        enabled = bool(review.get("callerTokens"))
        if enabled and not audiences and not review.get("audiences"):
            self.error(f"{PATH}.audiences", "required: the client IDs whose tokens to accept")
        if not enabled or self.errors:
            return None
        return TokenReviewSettings(
            audiences=audiences,
            caller_tokens=caller_tokens,
            username_claim=username_claim,
            username_prefix=username_prefix,
            groups_prefix=groups_prefix,
            api_server_audiences=mapping,
            connector_check=connector_check,
        )
