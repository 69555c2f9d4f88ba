"""The ``dex-py`` command line: serve, check-config, db upgrade, migrate-storage, passwords,
keys, example-app.

Each command is a thin shell over a service module; errors are printed as one line per problem
(with the config key path) and exit non-zero, never a stack trace. The command groups live in
their own modules (``keys``, ``passwords``, ``teams``, ``kube``) and are added to ``main`` here;
what they share is in ``common``. The console script is ``dex_py.entry``, which hands
``kube login``/``kube logout`` to ``dex_py.kubelogin`` before this module is imported.
"""

from __future__ import annotations

import sys

import click

from dex_py.cli.audit_log import audit
from dex_py.cli.common import fail, load_config_or_exit
from dex_py.cli.keys import keys
from dex_py.cli.kube import kube
from dex_py.cli.migrate_storage import migrate_storage
from dex_py.cli.passwords import passwords
from dex_py.cli.teams import teams
from dex_py.cli.users import users


@click.group()
@click.version_option(package_name="dex-py")
def main() -> None:
    """dex-py: an OpenID Connect identity provider compatible with Dex."""


@main.command()
@click.argument("config_file", type=click.Path(dir_okay=False))
@click.option("--workers", type=int, default=None, help="Worker processes (overrides config).")
@click.option(
    "--server",
    "engine",
    type=click.Choice(["granian", "gunicorn"]),
    default=None,
    help="HTTP server (overrides server.engine; default granian).",
)
@click.option("--web-http-addr", default=None, help="Web HTTP address (overrides web.http).")
@click.option("--web-https-addr", default=None, help="Web HTTPS address (overrides web.https).")
@click.option(
    "--telemetry-addr", default=None, help="Telemetry address (overrides telemetry.http)."
)
@click.option("--grpc-addr", default=None, help="gRPC API address (overrides grpc.addr).")
def serve(
    config_file: str,
    workers: int | None,
    engine: str | None,
    web_http_addr: str | None,
    web_https_addr: str | None,
    telemetry_addr: str | None,
    grpc_addr: str | None,
) -> None:
    """Run the server (Granian, or gunicorn) with CONFIG_FILE. The address flags are Dex's:
    each replaces its key of the config file."""
    from dex_py.serving.run import serve as run_server

    flags = {
        "web.http": web_http_addr,
        "web.https": web_https_addr,
        "telemetry.http": telemetry_addr,
        "grpc.addr": grpc_addr,
    }
    overrides = {key: value for key, value in flags.items() if value is not None}
    config = load_config_or_exit(config_file, overrides, echo_warnings=False)
    run_server(config, config_file, workers=workers, engine=engine)


@main.command()
def version() -> None:
    """Print the versions of dex-py and of the Python running it (as ``dex version`` does)."""
    import platform
    from importlib.metadata import version as package_version

    click.echo(f"dex-py Version: {package_version('dex-py')}")
    click.echo(f"Python Version: {platform.python_version()}")
    click.echo(f"OS/Arch: {platform.system().lower()} {platform.machine()}")


@main.command(
    "proxy",
    context_settings={"ignore_unknown_options": True, "help_option_names": []},
    add_help_option=False,
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def proxy(args: tuple[str, ...]) -> None:
    """Run the auth proxy: dex-py proxy PROXY_CONFIG (docs/proxy.md)."""
    # The console script hands `proxy` to dex_py.proxy.command before click loads; this entry
    # lists it in --help and serves `python -m dex_py.cli proxy ...` the same way.
    from dex_py.proxy.command import run

    sys.exit(run(list(args)))


@main.command("check-config")
@click.option("--strict", is_flag=True, help="Fail on every warning, not only on ignored keys.")
@click.argument("config_file", type=click.Path(dir_okay=False))
def check_config(config_file: str, strict: bool) -> None:
    """Validate CONFIG_FILE and report every problem. Fails (exit 1) on errors and on anything
    dex-py would ignore (unknown or unused keys, values that have no effect); with --strict on
    every warning. `serve` only warns about those, as Dex does."""
    config = load_config_or_exit(config_file)
    failing = config.warnings if strict else config.ignored
    if failing:
        what = "warning(s)" if strict else "key(s) or value(s) dex-py would ignore"
        fail(f"{config_file}: {len(failing)} {what} (listed above)")
    click.echo(
        f"config OK: issuer {config.issuer}, storage {config.storage.type}, "
        f"{len(config.static_clients)} static client(s), {len(config.connectors)} connector(s)"
    )


@main.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@click.argument("config_file", type=click.Path(dir_okay=False))
def db_upgrade(config_file: str) -> None:
    """Apply migrations to the configured database."""
    from dex_py.storage import migrate

    config = load_config_or_exit(config_file)
    try:
        revision = migrate.upgrade(config.storage)
    except migrate.MigrationError as exc:
        fail(str(exc))
    click.echo(f"database at revision {revision}")


@main.command("example-app")
@click.option("--issuer", default="http://127.0.0.1:5556/dex", show_default=True)
@click.option("--client-id", default="example-app", show_default=True)
@click.option("--client-secret", default="ZXhhbXBsZS1hcHAtc2VjcmV0", show_default=True)
@click.option("--listen", default="127.0.0.1:5555", show_default=True)
@click.option("--redirect-uri", default="http://127.0.0.1:5555/callback", show_default=True)
def example_app(
    issuer: str, client_id: str, client_secret: str, listen: str, redirect_uri: str
) -> None:
    """Run a small relying party that logs in through the issuer and shows the tokens."""
    from dex_py.example_app import run

    run(
        issuer=issuer,
        client_id=client_id,
        client_secret=client_secret,
        listen=listen,
        redirect_uri=redirect_uri,
    )


main.add_command(passwords)
main.add_command(keys)
main.add_command(teams)
main.add_command(users)
main.add_command(audit)
main.add_command(kube)
main.add_command(migrate_storage)
