"""``dex-py kube login`` and ``dex-py kube logout``: argument parsing and the plugin's output.

``run(argv)`` is called by ``dex_py.entry`` before click or any of the server's modules are
imported. stdout carries only the ExecCredential JSON; messages and errors go to stderr, and
every failure is one line (``dex-py kube login: error: ...``) with exit status 1.
"""

from __future__ import annotations

import argparse
import os
import sys

DEFAULT_CACHE_DIR = "~/.kube/cache/dex-py"
TYPE_CHECKING = False  # typing and collections.abc are not imported on kubectl's hot path
if TYPE_CHECKING:
    from collections.abc import Sequence


class _Formatter(argparse.HelpFormatter):
    """argparse's formatter, sized without ``shutil`` (which loads bz2 and lzma): argparse
    builds one for every ``add_argument``, so this is on kubectl's hot path."""

    def __init__(self, prog: str) -> None:
        try:
            width = int(os.environ.get("COLUMNS") or os.get_terminal_size(2).columns) - 2
        except (OSError, ValueError):
            width = 78
        super().__init__(prog, width=max(width, 40))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dex-py kube",
        description="kubectl exec credential plugin for a dex-py issuer.",
        formatter_class=_Formatter,
    )
    # An explicit prog: argparse would otherwise build a help formatter (importing shutil, and
    # with it bz2/lzma) just to name the subcommands.
    commands = parser.add_subparsers(dest="command", required=True, prog="dex-py kube")
    login = commands.add_parser(
        "login",
        help="print an ExecCredential with an ID token (kubectl's exec plugin)",
        formatter_class=_Formatter,
    )
    login.add_argument("--issuer", required=True, help="the issuer URL")
    login.add_argument("--client-id", required=True)
    login.add_argument("--client-secret", default="", help="for a confidential client")
    login.add_argument(
        "--grant-type",
        choices=("auto", "authcode", "device-code", "password"),
        default="auto",
        help="auto: authcode when a browser can open, else the device flow",
    )
    login.add_argument("--username", default="", help="password grant")
    login.add_argument("--password", default="", help="password grant")
    login.add_argument(
        "--extra-scope", action="append", default=[], help="a scope to add (repeatable)"
    )
    login.add_argument(
        "--listen-address", default="127.0.0.1:0", help="loopback redirect host:port (authcode)"
    )
    login.add_argument("--skip-open-browser", action="store_true", help="only print the URL")
    login.add_argument("--certificate-authority", default="", help="CA file for the issuer")
    login.add_argument("--insecure-skip-tls-verify", action="store_true")
    login.add_argument("--token-cache-dir", default=DEFAULT_CACHE_DIR)
    logout = commands.add_parser("logout", help="empty the token cache", formatter_class=_Formatter)
    logout.add_argument("--token-cache-dir", default=DEFAULT_CACHE_DIR)
    return parser


def run(argv: Sequence[str]) -> int:
    """Parse ``argv`` (after ``kube``) and run the command; the exit status."""
    args = _parser().parse_args(list(argv))
    if args.command == "logout":
        return _logout(args.token_cache_dir)
    return _login(args)


def _login(args: argparse.Namespace) -> int:
    from dex_py.kubelogin.credential import LoginOptions, get_token
    from dex_py.kubelogin.errors import LoginError
    from dex_py.kubelogin.exec_credential import parse_exec_info, render

    opts = LoginOptions(
        issuer=args.issuer,
        client_id=args.client_id,
        cache_dir=args.token_cache_dir,
        client_secret=args.client_secret,
        grant_type=args.grant_type,
        username=args.username,
        password=args.password,
        extra_scopes=args.extra_scope,
        listen_address=args.listen_address,
        skip_open_browser=args.skip_open_browser,
        ca_file=args.certificate_authority,
        insecure=args.insecure_skip_tls_verify,
    )
    # While logging in, fd 1 points at stderr: whatever a login writes there (a browser that
    # webbrowser starts, a library) must not reach kubectl, which reads stdout as JSON.
    saved_stdout = os.dup(1)
    os.dup2(2, 1)
    try:
        info = parse_exec_info(os.environ.get("KUBERNETES_EXEC_INFO"))
        tokens = get_token(opts, interactive=info.interactive)
    except LoginError as exc:
        return _error(str(exc))
    except KeyboardInterrupt:
        return _error("interrupted")
    finally:
        sys.stdout.flush()
        os.dup2(saved_stdout, 1)
        os.close(saved_stdout)
    sys.stdout.write(render(info.api_version, tokens.id_token, tokens.expires_at) + "\n")
    return 0


def _logout(cache_dir: str) -> int:
    from dex_py.kubelogin.cache import TokenCache

    try:
        removed = TokenCache(cache_dir).clear()
    except OSError as exc:
        return _error(f"cannot empty {cache_dir}: {exc}")
    print(f"dex-py kube logout: removed {removed} cached login(s)", file=sys.stderr)
    return 0


def _error(message: str) -> int:
    print(f"dex-py kube login: error: {message}", file=sys.stderr, flush=True)
    return 1
