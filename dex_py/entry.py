"""The ``dex-py`` console script: ``kube login``/``kube logout`` go straight to the light
``dex_py.kubelogin`` (kubectl runs it before every command; it must not load click, config or
the server stack); ``proxy`` goes to the auth proxy (``dex_py.proxy.command``, its own process
that loads nothing of the issuer); every other command goes to the click group of
``dex_py.cli``."""

from __future__ import annotations

import sys

_FAST_COMMANDS = ("login", "logout")


def main() -> None:
    argv = sys.argv[1:]
    if len(argv) >= 2 and argv[0] == "kube" and argv[1] in _FAST_COMMANDS:
        from dex_py.kubelogin.command import run

        sys.exit(run(argv[1:]))
    if argv and argv[0] == "proxy":
        from dex_py.proxy.command import run as run_proxy

        sys.exit(run_proxy(argv[1:]))
    from dex_py.cli import main as cli

    cli()
