"""What ``dex-py kube setup`` prints, derived from a loaded config: the kubeconfig for kubectl
(an exec credential plugin, client.authentication.k8s.io/v1), the kube-apiserver ``--oidc-*``
flags, the structured ``AuthenticationConfiguration`` (apiserver.config.k8s.io/v1beta1, JWT
authenticator) and an example ``ClusterRoleBinding`` for one team; with ``--webhook``, also the
kubeconfig of ``--authentication-token-webhook-config-file`` (Kubernetes webhook token
authentication: the cluster is ``{issuer}/kubernetes/tokenreview``, the user a caller token of
``kubernetes.tokenReview.callerTokens``) and the ``--authentication-token-webhook-*`` flags.

Each output is one function of ``KubeSetup`` returning plain data; ``render_all`` collects
them.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dex_py.config import Config, StaticClient
from dex_py.config.kubernetes import PATH as TOKEN_REVIEW_PATH
from dex_py.config.kubernetes import TokenReviewSettings, webhook_url

EXEC_API_VERSION = "client.authentication.k8s.io/v1"
AUTHN_CONFIG_API_VERSION = "apiserver.config.k8s.io/v1beta1"
PLUGIN_REDIRECT = "http://127.0.0.1/callback"  # dex_py.kubelogin.authcode, on an ephemeral port
EMAIL_VERIFIED_RULE = "claims.?email_verified.orValue(true) == true"
WEBHOOK_CONFIG_FILE = "/etc/kubernetes/dex-py-webhook.kubeconfig"  # where the flag points
# kube-apiserver caches a webhook's answers for 2 minutes by default: a revoked token would keep
# working that long. 10 s is what "revocation takes effect in seconds" needs.
WEBHOOK_CACHE_TTL = "10s"
NO_WEBHOOK = (
    f"--webhook: the config has no {TOKEN_REVIEW_PATH} with callerTokens "
    "(the TokenReview webhook is off)"
)


class SetupError(Exception):
    """The config or the options cannot produce a working setup; the message says why."""


@dataclass(frozen=True)
class KubeSetup:
    """The options of ``kube setup`` with the parts of the config they need."""

    config: Config
    client: StaticClient
    server: str
    cluster_name: str = "dex-py"
    issuer_ca_file: str = ""  # the issuer's private CA (https issuers)
    server_ca_file: str = ""  # the API server's CA, for the kubeconfig's cluster
    username_claim: str = "email"
    username_prefix: str = "oidc:"
    groups_prefix: str = "oidc:"
    team: str = ""
    command: str = "dex-py"
    token_review: TokenReviewSettings | None = None  # set: print the webhook's outputs too
    webhook_config_file: str = WEBHOOK_CONFIG_FILE

    @property
    def issuer(self) -> str:
        return self.config.issuer

    @property
    def private_ca(self) -> str:
        """The issuer CA file, used only when the issuer is https."""
        return self.issuer_ca_file if self.issuer.startswith("https:") else ""

    def exec_args(self) -> list[str]:
        args = ["kube", "login", "--issuer", self.issuer, "--client-id", self.client.id]
        if not self.client.public and self.client.secret:
            args += ["--client-secret", self.client.secret]
        if self.private_ca:
            args += ["--certificate-authority", str(Path(self.private_ca).resolve())]
        return args

    def kubeconfig(self) -> dict[str, Any]:
        """A kubeconfig (kind Config, v1) with one cluster, user and context."""
        cluster: dict[str, Any] = {"server": self.server}
        if self.server_ca_file:
            cluster["certificate-authority-data"] = _b64_file(self.server_ca_file)
        user = f"{self.cluster_name}-oidc"
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": self.cluster_name, "cluster": cluster}],
            "users": [
                {
                    "name": user,
                    "user": {
                        "exec": {
                            "apiVersion": EXEC_API_VERSION,
                            "command": self.command,
                            "args": self.exec_args(),
                            "interactiveMode": "IfAvailable",
                            "provideClusterInfo": False,
                        }
                    },
                }
            ],
            "contexts": [
                {"name": self.cluster_name, "context": {"cluster": self.cluster_name, "user": user}}
            ],
            "current-context": self.cluster_name,
        }

    def apiserver_flags(self) -> list[str]:
        """kube-apiserver's ``--oidc-*`` flags for this issuer and client."""
        flags = [
            f"--oidc-issuer-url={self.issuer}",
            f"--oidc-client-id={self.client.id}",
            f"--oidc-username-claim={self.username_claim}",
            f"--oidc-username-prefix={self.username_prefix or '-'}",
            "--oidc-groups-claim=groups",
            f"--oidc-groups-prefix={self.groups_prefix}",
            f"--oidc-signing-algs={self.config.signing.algorithm}",
        ]
        if self.private_ca:
            flags.append(f"--oidc-ca-file={Path(self.private_ca).resolve()}")
        return flags

    def authentication_configuration(self) -> dict[str, Any]:
        """The structured authentication config (``--authentication-config``), one JWT issuer."""
        # One audience: audienceMatchPolicy stays unset (it is required, as MatchAny, only
        # with several).
        issuer: dict[str, Any] = {"url": self.issuer, "audiences": [self.client.id]}
        if self.private_ca:
            issuer["certificateAuthority"] = Path(self.private_ca).read_text()
        jwt: dict[str, Any] = {
            "issuer": issuer,
            "claimMappings": {
                "username": {"claim": self.username_claim, "prefix": self.username_prefix},
                "groups": {"claim": "groups", "prefix": self.groups_prefix},
            },
        }
        if self.username_claim == "email":
            jwt["claimValidationRules"] = [
                {"expression": EMAIL_VERIFIED_RULE, "message": "the email is not verified"}
            ]
        return {
            "apiVersion": AUTHN_CONFIG_API_VERSION,
            "kind": "AuthenticationConfiguration",
            "jwt": [jwt],
        }

    def cluster_role_binding(self) -> dict[str, Any]:
        """Read-only access (ClusterRole ``view``) for the members of one team."""
        team = self.team or first_team(self.config)
        name = re.sub(r"[^a-z0-9.-]+", "-", f"dex-py-{team}-view".lower()).strip("-.")
        return {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": name[:253]},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "view",
            },
            "subjects": [
                {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "Group",
                    "name": f"{self.groups_prefix}{team}",
                }
            ],
        }

    def webhook_kubeconfig(self) -> dict[str, Any]:
        """The kubeconfig kube-apiserver reads from ``--authentication-token-webhook-config-file``:
        the webhook's URL as the cluster (with the issuer's private CA inline: the file must be
        self-contained where kube-apiserver runs) and the first caller token as the user."""
        review = self._token_review()
        cluster: dict[str, Any] = {"server": webhook_url(self.issuer)}
        if self.private_ca:
            cluster["certificate-authority-data"] = _b64_file(self.private_ca)
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "dex-py-tokenreview", "cluster": cluster}],
            "users": [{"name": "kube-apiserver", "user": {"token": review.caller_tokens[0]}}],
            "contexts": [
                {
                    "name": "webhook",
                    "context": {"cluster": "dex-py-tokenreview", "user": "kube-apiserver"},
                }
            ],
            "current-context": "webhook",
        }

    def webhook_flags(self) -> list[str]:
        """kube-apiserver's flags for the webhook (TokenReview v1, a short answer cache)."""
        self._token_review()
        return [
            f"--authentication-token-webhook-config-file={self.webhook_config_file}",
            "--authentication-token-webhook-version=v1",
            f"--authentication-token-webhook-cache-ttl={WEBHOOK_CACHE_TTL}",
        ]

    def _token_review(self) -> TokenReviewSettings:
        if self.token_review is None:
            raise SetupError(NO_WEBHOOK)
        return self.token_review

    def render_all(self) -> dict[str, Any]:
        outputs = {
            "kubeconfig": self.kubeconfig(),
            "apiServerFlags": self.apiserver_flags(),
            "authenticationConfiguration": self.authentication_configuration(),
            "clusterRoleBinding": self.cluster_role_binding(),
        }
        if self.token_review is not None:
            outputs["webhookKubeconfig"] = self.webhook_kubeconfig()
            outputs["webhookFlags"] = self.webhook_flags()
        return outputs

    def warnings(self) -> list[str]:
        notes = []
        if not self.issuer.startswith("https:"):
            notes.append(
                f"issuer {self.issuer} is not https: kube-apiserver only accepts https issuers"
            )
        if not self.client.public:
            notes.append(
                f"client {self.client.id} is confidential: its secret is in the kubeconfig"
            )
        elif self.client.redirect_uris and not any(
            _is_plugin_redirect(uri) for uri in self.client.redirect_uris
        ):
            notes.append(
                f"client {self.client.id} has no redirect URI {PLUGIN_REDIRECT!r}: the browser "
                "login of `dex-py kube login` will be refused (add it to its redirectURIs)"
            )
        if self.token_review is not None:
            notes += self._webhook_warnings(self.token_review)
        return notes

    def _webhook_warnings(self, review: TokenReviewSettings) -> list[str]:
        notes = [
            f"the webhook kubeconfig holds a caller token ({TOKEN_REVIEW_PATH}.callerTokens): "
            f"it is a secret; install it as {self.webhook_config_file} readable by "
            "kube-apiserver only",
            "with the webhook, leave out the --oidc-* flags and the AuthenticationConfiguration: "
            "kube-apiserver asks its JWT authenticator first, which accepts a revoked token "
            "until it expires",
        ]
        prefixes = (review.username_prefix_for(self.issuer) or "-", review.groups_prefix or "-")
        if prefixes != (self.username_prefix or "-", self.groups_prefix or "-"):
            notes.append(
                f"{TOKEN_REVIEW_PATH} maps with prefixes {prefixes[0]!r} (username) and "
                f"{prefixes[1]!r} (groups), not those of --username-prefix and --groups-prefix: "
                "the ClusterRoleBinding printed here names the group the --oidc-* flags produce"
            )
        if self.client.id not in review.audiences:
            notes.append(
                f"client {self.client.id} is not in {TOKEN_REVIEW_PATH}.audiences: the webhook "
                "denies its tokens"
            )
        return notes


def _is_plugin_redirect(uri: str) -> bool:
    """Does ``uri`` admit the plugin's loopback redirect (any port, RFC 8252 §7.3)?"""
    parts = urlsplit(uri)
    host = parts.hostname or ""
    return (
        parts.scheme == "http"
        and host in ("127.0.0.1", "localhost")
        and (parts.path == "/callback")
    )


def find_client(config: Config, client_id: str) -> StaticClient:
    for client in config.static_clients:
        if client.id == client_id:
            return client
    known = ", ".join(c.id for c in config.static_clients) or "none"
    raise SetupError(f"staticClients has no client {client_id!r} (configured: {known})")


def first_team(config: Config) -> str:
    """The first team named in ``teams.rules`` (no ``$`` templates), else the first group of a
    static password user; SetupError when the config names none."""
    rules = config.extensions.get("teams", {}).get("rules") or []
    for rule in rules:
        names = [rule.get("team")] if rule.get("team") else list(rule.get("teams") or [])
        for name in names:
            if isinstance(name, str) and name and "$" not in name:
                return name
    for user in config.static_passwords:
        if user.groups:
            return user.groups[0]
    raise SetupError(
        "the config names no team (teams.rules or staticPasswords groups): pass --team NAME"
    )


def _b64_file(path: str) -> str:
    try:
        return base64.b64encode(Path(path).read_bytes()).decode("ascii")
    except OSError as exc:
        raise SetupError(f"cannot read {path}: {exc.strerror}") from None
