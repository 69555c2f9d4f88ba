"""The auth proxy's config file (``dex-py proxy PROXY_CONFIG``, see ``proxy.example.yaml`` and
docs/proxy.md): YAML, camelCase keys like Dex, ``$VAR`` expanded, unknown keys refused.

``load_config(path)`` returns a ``ProxyConfig`` or raises ``ProxyConfigError`` naming the key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from dex_py.proxy.config_reader import ProxyConfigError, Section
from dex_py.proxy.identity_headers import HeaderOptions
from dex_py.proxy.rules import Allow, Rule
from dex_py.proxy.store_base import StoreSettings
from dex_py.proxy.upstream_route import UpstreamRoute

__all__ = ["CookieSettings", "ProxyConfig", "ProxyConfigError", "from_dict", "load_config"]

MIN_SECRET_BYTES = 32
SAME_SITE = {"lax": "Lax", "strict": "Strict", "none": "None"}
STORE_KINDS = ("cookie", "memory", "sql", "redis")


@dataclass(frozen=True)
class CookieSettings:
    name: str = "_dexpy_proxy"
    secrets: tuple[bytes, ...] = ()  # the first encrypts, all decrypt
    domain: str = ""
    path: str = "/"
    secure: bool = True
    same_site: str = "Lax"
    expire: float = 168 * 3600.0


@dataclass(frozen=True)
class ProxyConfig:
    listen_host: str
    listen_port: int
    issuer: str
    client_id: str
    client_secret: str
    redirect_url: str
    cookie: CookieSettings
    store: StoreSettings  # kind "cookie": the whole session in the cookie
    workers: int = 1
    scopes: tuple[str, ...] = ("openid", "email", "profile", "groups", "offline_access")
    issuer_ca_file: str = ""
    refresh_interval: float = 300.0
    upstreams: tuple[UpstreamRoute, ...] = ()
    rules: tuple[Rule, ...] = ()
    headers: HeaderOptions = field(default_factory=HeaderOptions)
    allowed_domains: tuple[str, ...] = ()
    issuer_logout: bool = True
    post_logout_redirect_url: str = ""
    backchannel_logout: bool = False
    bearer_enabled: bool = False
    bearer_audiences: tuple[str, ...] = ()
    metrics_listen: str = ""
    log_format: str = "json"
    log_level: str = "info"
    log_requests: bool = True

    @property
    def callback_path(self) -> str:
        return urlsplit(self.redirect_url).path


def parse_listen(text: str, key: str) -> tuple[str, int]:
    """``host:port`` or ``http://host:port``."""
    if text.startswith("http://"):
        text = text[len("http://") :].rstrip("/")
    elif "://" in text:
        raise ProxyConfigError(key, "only http is served (put TLS in front)")
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ProxyConfigError(key, f"must be host:port, got {text!r}")
    return host.strip("[]") or "0.0.0.0", int(port)  # noqa: S104 (an explicit ":port")


def _url(section: Section, name: str, *, required: bool, default: str = "") -> str:
    value = section.string(name, default, required=required)
    if value:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ProxyConfigError(section.key(name), f"must be an http(s) URL, got {value!r}")
    return value


def _cookie(section: Section) -> CookieSettings:
    name = section.string("name", "_dexpy_proxy")
    if not re.fullmatch(r"[A-Za-z0-9_\-]{1,64}", name):
        raise ProxyConfigError(section.key("name"), "letters, digits, _ and - only")
    secrets = section.strings("secrets")
    if not secrets:
        raise ProxyConfigError(section.key("secrets"), "list at least one secret")
    for i, secret in enumerate(secrets):
        if len(secret.encode()) < MIN_SECRET_BYTES:
            raise ProxyConfigError(
                f"{section.key('secrets')}[{i}]", f"must be at least {MIN_SECRET_BYTES} bytes"
            )
    same_site = section.string("sameSite", "lax").lower()
    if same_site not in SAME_SITE:
        raise ProxyConfigError(section.key("sameSite"), "must be lax, strict or none")
    secure = section.boolean("secure", True)
    if same_site == "none" and not secure:
        raise ProxyConfigError(section.key("sameSite"), "none needs secure: true")
    expire = section.duration("expire", 168 * 3600.0)
    if expire <= 0:
        raise ProxyConfigError(section.key("expire"), "must be positive")
    cookie = CookieSettings(
        name=name,
        secrets=tuple(s.encode() for s in secrets),
        domain=section.string("domain"),
        path=section.string("path", "/") or "/",
        secure=secure,
        same_site=SAME_SITE[same_site],
        expire=expire,
    )
    section.done()
    return cookie


def _store(section: Section) -> tuple[StoreSettings, float]:
    kind = section.string("store", "cookie")
    if kind not in STORE_KINDS:
        raise ProxyConfigError(section.key("store"), f"must be one of {', '.join(STORE_KINDS)}")
    sql, redis = section.section("sql"), section.section("redis")
    settings = StoreSettings(kind=kind)
    if kind == "sql":
        url = sql.string("url", required=True)
        settings = StoreSettings(kind=kind, url=url, table=sql.string("table", "proxy_sessions"))
    elif kind == "redis":
        url = redis.string("url", required=True)
        settings = StoreSettings(
            kind=kind, url=url, key_prefix=redis.string("keyPrefix", "dexpy-proxy:")
        )
    else:
        for sub, name in ((sql, "url"), (sql, "table"), (redis, "url"), (redis, "keyPrefix")):
            sub.string(name)  # documented keys that only the other stores use
    sql.done()
    redis.done()
    refresh = section.duration("refreshInterval", 300.0)
    section.done()
    return settings, refresh


def _upstream(item: Section) -> UpstreamRoute:
    path = item.string("path", "/")
    if not path.startswith("/"):
        raise ProxyConfigError(item.key("path"), "must start with /")
    route = UpstreamRoute(
        path_prefix=path,
        url=_url(item, "url", required=True),
        connect_timeout=item.duration("connectTimeout", 5.0),
        read_timeout=item.duration("readTimeout", 60.0),
        pass_host_header=item.boolean("passHostHeader", True),
    )
    item.done()
    return route


def _rule(item: Section, index: int) -> Rule:
    path = item.string("path", "/")
    if not path.startswith("/"):
        raise ProxyConfigError(item.key("path"), "must start with /")
    regex = item.string("pathRegex")
    try:
        compiled = re.compile(regex) if regex else None
    except re.error as exc:
        raise ProxyConfigError(item.key("pathRegex"), f"not a regular expression: {exc}") from None
    skip = item.boolean("skipAuth", False)
    allow_section = item.section("allow")
    allow = Allow(
        teams=frozenset(allow_section.strings("teams")),
        groups=frozenset(allow_section.strings("groups")),
        emails=frozenset(e.lower() for e in allow_section.strings("emails")),
        email_domains=frozenset(
            d.lower().lstrip("@") for d in allow_section.strings("emailDomains")
        ),
        authenticated=allow_section.boolean("authenticated", False),
    )
    allow_section.done()
    if skip and not allow.is_empty():
        raise ProxyConfigError(item.key("allow"), "a skipAuth rule lets everyone in: drop allow")
    if not skip and allow.is_empty():
        raise ProxyConfigError(
            item.key("allow"),
            "list teams, groups, emails or emailDomains, or authenticated: true (or skipAuth)",
        )
    rule = Rule(
        name=f"rules[{index}]",
        host=item.string("host").lower(),
        path=path,
        methods=frozenset(m.upper() for m in item.strings("methods")),
        path_regex=compiled,
        skip_auth=skip,
        allow=allow,
    )
    item.done()
    return rule


def from_dict(data: Any) -> ProxyConfig:
    """A ``ProxyConfig`` from the parsed YAML; ProxyConfigError naming the first bad key."""
    top = Section(data, "")
    listen_host, listen_port = parse_listen(top.string("listen", "127.0.0.1:4180"), "listen")
    workers = top.integer("workers", 1)
    issuer = _url(top, "issuer", required=True).rstrip("/")
    client_id = top.string("clientID", required=True)
    client_secret = top.string("clientSecret", required=True)
    redirect_url = _url(top, "redirectURL", required=True)
    scopes = top.strings("scopes", ("openid", "email", "profile", "groups", "offline_access"))
    if "openid" not in scopes:
        raise ProxyConfigError("scopes", "must include openid")
    ca_file = top.string("issuerCAFile")
    if ca_file and not Path(ca_file).is_file():
        raise ProxyConfigError("issuerCAFile", f"no such file: {ca_file}")
    cookie = _cookie(top.section("cookie"))
    store, refresh = _store(top.section("session"))
    upstreams = tuple(_upstream(item) for item in top.items("upstreams"))
    rules = tuple(_rule(item, i) for i, item in enumerate(top.items("rules")))
    headers_section = top.section("headers")
    headers = HeaderOptions(
        pass_access_token=headers_section.boolean("passAccessToken", False),
        set_authorization=headers_section.boolean("setAuthorization", False),
    )
    headers_section.done()
    redirects = top.section("redirects")
    allowed_domains = tuple(d.lower() for d in redirects.strings("allowedDomains"))
    redirects.done()
    sign_out = top.section("signOut")
    issuer_logout = sign_out.boolean("issuerLogout", True)
    post_logout = _url(sign_out, "postLogoutRedirectURL", required=False)
    sign_out.done()
    if store.kind == "memory" and workers != 1:
        raise ProxyConfigError(
            "session.store",
            "memory keeps sessions inside one process: use sql or redis with workers other than 1",
        )
    backchannel = top.boolean("backchannelLogout", False)
    if backchannel and store.kind == "cookie":
        raise ProxyConfigError(
            "backchannelLogout", "needs server-side sessions (session.store: memory, sql, redis)"
        )
    bearer = top.section("bearer")
    bearer_enabled = bearer.boolean("enabled", False)
    audiences = bearer.strings("audiences", (client_id,))
    bearer.done()
    metrics = top.section("metrics")
    metrics_listen = metrics.string("listen")
    if metrics_listen:
        parse_listen(metrics_listen, "metrics.listen")
    metrics.done()
    logging_section = top.section("logging")
    log_format = logging_section.string("format", "json")
    if log_format not in ("json", "text"):
        raise ProxyConfigError("logging.format", "must be json or text")
    log_level = logging_section.string("level", "info").lower()
    if log_level not in ("debug", "info", "warn", "warning", "error"):
        raise ProxyConfigError("logging.level", "must be debug, info, warn or error")
    log_requests = logging_section.boolean("requests", True)
    logging_section.done()
    top.done()
    return ProxyConfig(
        listen_host=listen_host,
        listen_port=listen_port,
        workers=workers,
        issuer=issuer,
        client_id=client_id,
        client_secret=client_secret,
        redirect_url=redirect_url,
        scopes=scopes,
        issuer_ca_file=ca_file,
        cookie=cookie,
        store=store,
        refresh_interval=refresh,
        upstreams=upstreams,
        rules=rules,
        headers=headers,
        allowed_domains=allowed_domains,
        issuer_logout=issuer_logout,
        post_logout_redirect_url=post_logout,
        backchannel_logout=backchannel,
        bearer_enabled=bearer_enabled,
        bearer_audiences=audiences,
        metrics_listen=metrics_listen,
        log_format=log_format,
        log_level=log_level,
        log_requests=log_requests,
    )


def load_config(path: str | Path) -> ProxyConfig:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ProxyConfigError("", f"cannot read {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ProxyConfigError("", f"{path} is not valid YAML: {exc}") from None
    return from_dict(data)
