"""``dex-py kube``: ``setup`` (what kubectl and kube-apiserver need, from a config file), and
``login``/``logout`` as listed commands. Those two normally never get here: ``dex_py.entry``
sends them to ``dex_py.kubelogin`` before click is imported; these wrappers only make them show
in ``--help`` and work through ``python -m dex_py.cli``.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import yaml

from dex_py.cli.common import fail, load_config_or_exit
from dex_py.cli.kube_setup import (
    NO_WEBHOOK,
    WEBHOOK_CONFIG_FILE,
    KubeSetup,
    SetupError,
    find_client,
)
from dex_py.config import Config, ConfigError
from dex_py.config.kubernetes import TokenReviewSettings, parse_token_review

_PASS_THROUGH = {"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []}
OUTPUTS = (
    "kubeconfig",
    "apiServerFlags",
    "authenticationConfiguration",
    "clusterRoleBinding",
    "webhookKubeconfig",
    "webhookFlags",
)
FLAG_LISTS = ("apiServerFlags", "webhookFlags")


@click.group()
def kube() -> None:
    """kubectl login (an exec credential plugin) and the Kubernetes setup."""


def _forward(command: str, args: tuple[str, ...]) -> None:
    from dex_py.kubelogin.command import run

    raise SystemExit(run([command, *args]))


@kube.command(context_settings=_PASS_THROUGH)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def login(args: tuple[str, ...]) -> None:
    """Print an ExecCredential for kubectl (see `dex-py kube login --help`)."""
    _forward("login", args)


@kube.command(context_settings=_PASS_THROUGH)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def logout(args: tuple[str, ...]) -> None:
    """Empty the token cache of `dex-py kube login`."""
    _forward("logout", args)


def _readable(path: str | None, option: str) -> str:
    if path and not Path(path).is_file():
        fail(f"{option} {path}: no such file")
    return path or ""


@kube.command()
@click.argument("config_file", type=click.Path(dir_okay=False))
@click.option("--client-id", required=True, help="The static client kubectl logs in as.")
@click.option("--server", required=True, help="The API server URL for the kubeconfig.")
@click.option("--cluster-name", default="dex-py", show_default=True)
@click.option("--output", "fmt", type=click.Choice(["yaml", "json"]), default="yaml")
@click.option(
    "--only", type=click.Choice(OUTPUTS), default=None, help="Print just this part (raw)."
)
@click.option("--certificate-authority", default=None, help="The issuer's private CA (PEM).")
@click.option("--server-certificate-authority", default=None, help="The API server's CA (PEM).")
@click.option("--username-claim", default="email", show_default=True)
@click.option("--username-prefix", default="oidc:", show_default=True)
@click.option("--groups-prefix", default="oidc:", show_default=True)
@click.option("--team", default="", help="Team of the example ClusterRoleBinding.")
@click.option(
    "--webhook",
    is_flag=True,
    help="Also the TokenReview webhook's kubeconfig and flags (kubernetes.tokenReview).",
)
@click.option(
    "--webhook-config-file",
    default=WEBHOOK_CONFIG_FILE,
    show_default=True,
    help="Where kube-apiserver will read the webhook kubeconfig (for its flag).",
)
def setup(
    config_file: str,
    client_id: str,
    server: str,
    cluster_name: str,
    fmt: str,
    only: str | None,
    certificate_authority: str | None,
    server_certificate_authority: str | None,
    username_claim: str,
    username_prefix: str,
    groups_prefix: str,
    team: str,
    webhook: bool,
    webhook_config_file: str,
) -> None:
    """Print the kubeconfig, kube-apiserver flags, AuthenticationConfiguration and an example
    ClusterRoleBinding for CONFIG_FILE's issuer (with --webhook, the webhook's too)."""
    config = load_config_or_exit(config_file)
    if only in ("webhookKubeconfig", "webhookFlags"):
        webhook = True
    try:
        plan = KubeSetup(
            config=config,
            client=find_client(config, client_id),
            server=server,
            cluster_name=cluster_name,
            issuer_ca_file=_readable(certificate_authority, "--certificate-authority"),
            server_ca_file=_readable(
                server_certificate_authority, "--server-certificate-authority"
            ),
            username_claim=username_claim,
            username_prefix=username_prefix,
            groups_prefix=groups_prefix,
            team=team,
            token_review=_token_review(config) if webhook else None,
            webhook_config_file=webhook_config_file,
        )
        outputs = plan.render_all()
    except SetupError as exc:
        fail(str(exc))
    for note in plan.warnings():
        click.echo(f"warning: {note}", err=True)
    data = outputs[only] if only else outputs
    if fmt == "json":
        click.echo(json.dumps(data, indent=2))
    elif only in FLAG_LISTS:
        click.echo(" \\\n  ".join(outputs[only]))
    else:
        click.echo(yaml.safe_dump(data, sort_keys=False), nl=False)


def _token_review(config: Config) -> TokenReviewSettings:
    """The webhook's settings; a SetupError when ``--webhook`` has nothing to describe."""
    try:
        review = parse_token_review(config)
    except ConfigError as exc:  # already reported by the loader's validation, normally
        raise SetupError(f"--webhook: {exc}") from None
    if review is None:
        raise SetupError(NO_WEBHOOK)
    return review
