"""A throwaway OpenLDAP directory for the tests: Debian's ``slapd`` on two 127.0.0.1 ports
(``ldap://`` with StartTLS, and ``ldaps://``), seeded with ``openldap_seed.ldif``.

Everything lives in a fresh temporary directory: a ``slapd.conf`` written here (mdb backend, the
memberOf overlay, access rules that hide entries from anonymous clients), a new test CA and
server certificate (``tests/tls.py``), the database, the pid file and slapd's log. The seed is
loaded over LDAP with ``ldapadd`` once slapd answers, so the memberOf overlay fills in
``memberOf`` as it would for any client. ``SlapdInstance.stop`` ends the process by its pid and
removes the directory.

Started by root (as in CI), slapd drops to the ``openldap`` account that the Debian package
creates (``-u``/``-g``): a test directory has no need for root, and a bug or a hostile request
in a network daemon then cannot touch more than its own files.
"""

from __future__ import annotations

import atexit
import grp
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ldap3 import Connection, Server
from ldap3.core.exceptions import LDAPException

from tests.services import missing_service, port_open
from tests.tls import make_test_ca

SLAPD = Path("/usr/sbin/slapd")
SCHEMA_DIR = Path("/etc/ldap/schema")
MODULE_DIR = Path("/usr/lib/ldap")
SEED_LDIF = Path(__file__).with_name("openldap_seed.ldif")
SERVICE_USER = "openldap"  # created by Debian's slapd package

SUFFIX = "dc=example,dc=org"  # must match the seed
ADMIN_DN = f"cn=admin,{SUFFIX}"  # the root DN: only in slapd.conf, not an entry
ADMIN_PASSWORD = "admin-secret"
BIND_DN = f"cn=idp-service,ou=Services,{SUFFIX}"  # an entry of the seed
BIND_PASSWORD = "service-secret"
USERS_DN = f"ou=People,{SUFFIX}"
GROUPS_DN = f"ou=Groups,{SUFFIX}"

READY_WAIT_SECONDS = 30.0  # how long slapd may take to answer after starting
STOP_WAIT_SECONDS = 10.0  # how long it may take to shut down cleanly before SIGKILL
SCHEMAS = ("core", "cosine", "inetorgperson", "nis")


@dataclass
class SlapdInstance:
    """One running slapd: its ports, the CA its certificate chains to, and how to stop it."""

    port: int
    ldaps_port: int
    state_dir: Path
    process: subprocess.Popen[bytes]

    @property
    def ca_cert(self) -> Path:
        return self.state_dir / "tls" / "ca.pem"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "slapd.log"

    def env(self) -> dict[str, str]:
        """How clients reach it, as ``LDAP_*`` keys (URLs, DNs, passwords, CA path, pid)."""
        return {
            "LDAP_URL": f"ldap://127.0.0.1:{self.port}",
            "LDAPS_URL": f"ldaps://127.0.0.1:{self.ldaps_port}",
            "LDAP_BASE_DN": SUFFIX,
            "LDAP_USERS_DN": USERS_DN,
            "LDAP_GROUPS_DN": GROUPS_DN,
            "LDAP_BIND_DN": BIND_DN,
            "LDAP_BIND_PASSWORD": BIND_PASSWORD,
            "LDAP_ADMIN_DN": ADMIN_DN,
            "LDAP_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "LDAP_CA_CERT": str(self.ca_cert),
            "LDAP_PID": str(self.process.pid),
        }

    def stop(self) -> None:
        """SIGTERM to our slapd's pid (SIGKILL if it lingers), then delete its files."""
        _running.pop(self.port, None)
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_WAIT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.state_dir, ignore_errors=True)


_running: dict[int, SlapdInstance] = {}  # by ldap:// port, for stop_on_port and exit


def running_on(port: int) -> SlapdInstance | None:
    """The directory this process started on ``port``, if it still runs."""
    return _running.get(port)


def stop_on_port(port: int) -> None:
    """Stop the directory this process started on ``port``, if any (idempotent)."""
    instance = _running.get(port)
    if instance is not None:
        instance.stop()


@atexit.register
def _stop_all() -> None:
    for instance in list(_running.values()):
        instance.stop()


def start_slapd(port: int, ldaps_port: int, seed: Path = SEED_LDIF) -> SlapdInstance:
    """A freshly seeded directory on these ports (one this process already runs there is
    replaced). Skips/fails via ``missing_service`` when slapd or ldap-utils are not
    installed; raises ``RuntimeError`` with slapd's own words when it refuses to run."""
    _require_installed()
    stop_on_port(port)
    for p in (port, ldaps_port):
        if port_open("127.0.0.1", p, 0.5):
            raise RuntimeError(f"127.0.0.1:{p} is already in use")
    state_dir = Path(tempfile.mkdtemp(prefix=f"dexpy-slapd-{port}-"))
    try:
        instance = _launch(state_dir, port, ldaps_port)
    except BaseException:
        shutil.rmtree(state_dir, ignore_errors=True)
        raise
    _running[port] = instance
    try:
        _wait_until_ready(instance)
        _load(instance, seed)
    except BaseException:
        instance.stop()
        raise
    return instance


def _require_installed() -> None:
    for path in (SLAPD, MODULE_DIR / "back_mdb.la", MODULE_DIR / "memberof.la"):
        if not path.exists():
            missing_service("openldap", f"{path} not found (Debian package slapd)")
    if shutil.which("ldapadd") is None:
        missing_service("openldap", "ldapadd not found (Debian package ldap-utils)")


def _service_account() -> tuple[str, str] | None:
    """(user, group) for slapd's ``-u``/``-g`` when we are root, else None (run as we are)."""
    if os.geteuid() != 0:
        return None
    try:
        account = pwd.getpwnam(SERVICE_USER)
    except KeyError:
        return None
    return account.pw_name, grp.getgrgid(account.pw_gid).gr_name


def _slapd_conf(state_dir: Path) -> str:
    tls = state_dir / "tls"
    includes = "\n".join(f"include {SCHEMA_DIR / name}.schema" for name in SCHEMAS)
    return f"""{includes}
pidfile {state_dir / "slapd.pid"}
argsfile {state_dir / "slapd.args"}
modulepath {MODULE_DIR}
moduleload back_mdb.la
moduleload memberof.la
TLSCACertificateFile {tls / "ca.pem"}
TLSCertificateFile {tls / "server.pem"}
TLSCertificateKeyFile {tls / "server-key.pem"}

database mdb
maxsize 67108864
suffix "{SUFFIX}"
rootdn "{ADMIN_DN}"
rootpw {ADMIN_PASSWORD}
directory {state_dir / "data"}
index objectClass eq
index uid,mail,cn,member,memberUid eq

# groupOfNames members get memberOf; deleting or renaming a person updates the groups too.
overlay memberof
memberof-refint TRUE

# Passwords serve binds only; their owner may change them.
access to attrs=userPassword
    by self write
    by anonymous auth
    by * none
# The rest: readable by the service account and any bound person, nothing for anonymous
# clients (the root DSE, outside this database, stays readable as always).
access to *
    by dn.exact="{BIND_DN}" read
    by users read
    by * none
"""


def _launch(state_dir: Path, port: int, ldaps_port: int) -> SlapdInstance:
    (state_dir / "data").mkdir()
    make_test_ca(state_dir / "tls")
    conf = state_dir / "slapd.conf"
    conf.write_text(_slapd_conf(state_dir))
    account = _service_account()
    if account is not None:
        for path in (state_dir, *state_dir.rglob("*")):
            shutil.chown(path, *account)
    check = subprocess.run(  # -u: check the config without opening the database
        [str(SLAPD), "-T", "test", "-u", "-f", str(conf)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if check.returncode != 0:
        raise RuntimeError(f"slapd rejected {conf}: {check.stderr.strip()[-800:]}")
    command = [str(SLAPD), "-d", "0", "-f", str(conf)]
    command += ["-h", f"ldap://127.0.0.1:{port}/ ldaps://127.0.0.1:{ldaps_port}/"]
    if account is not None:
        command += ["-u", account[0], "-g", account[1]]
    with (state_dir / "slapd.log").open("wb") as log:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
        )
    return SlapdInstance(port, ldaps_port, state_dir, process)


def _answers(port: int) -> bool:
    """Whether slapd serves an anonymous read of the root DSE on ``port``."""
    try:
        server = Server("127.0.0.1", port=port, connect_timeout=1)
        conn = Connection(server, auto_bind=True, receive_timeout=2)
    except LDAPException:  # not listening yet, or not answering yet
        return False
    try:
        return bool(conn.search("", "(objectClass=*)", search_scope="BASE"))
    finally:
        conn.unbind()


def _wait_until_ready(instance: SlapdInstance) -> None:
    deadline = time.monotonic() + READY_WAIT_SECONDS
    while not _answers(instance.port):
        if instance.process.poll() is not None:
            raise RuntimeError(f"slapd exited: {_log_tail(instance)}")
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"slapd did not answer on port {instance.port}: {_log_tail(instance)}"
            )
        time.sleep(0.1)


def _load(instance: SlapdInstance, seed: Path) -> None:
    """Add the seed's entries over LDAP as the root DN."""
    url = f"ldap://127.0.0.1:{instance.port}"
    command = ["ldapadd", "-x", "-H", url, "-D", ADMIN_DN, "-w", ADMIN_PASSWORD, "-f", str(seed)]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"loading {seed.name} failed: {proc.stderr.strip()[-800:]}")


def _log_tail(instance: SlapdInstance) -> str:
    try:
        return instance.log_file.read_text(errors="replace").strip()[-800:]
    except OSError:
        return "(no log)"
