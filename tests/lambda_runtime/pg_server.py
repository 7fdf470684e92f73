"""A throw-away PostgreSQL server for the tests: temporary data directory, free port, TLS."""

import glob
import os
import pwd
import shutil
import socket
import ssl
import struct
import subprocess
import tempfile
import time
from pathlib import Path

import pg8000.native
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from .tls_material import ServerCertificate

# PostgreSQL refuses to run as root; the tests then run its programs as this user.
SERVER_OS_USER = "postgres"
READY_TIMEOUT_SECONDS = 30
SSL_REQUEST_CODE = 80877103


def find_bin_dir() -> Path:
    """The directory of initdb/pg_ctl/postgres, newest major version first."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parent.parent.name),
        reverse=True,
    )
    on_path = shutil.which("pg_config")
    if on_path:
        bindir = subprocess.run(
            [on_path, "--bindir"], capture_output=True, text=True, check=True
        ).stdout.strip()
        candidates.insert(0, str(Path(bindir) / "initdb"))
    for initdb in candidates:
        if Path(initdb).is_file():
            return Path(initdb).parent
    raise RuntimeError(
        "PostgreSQL server binaries (initdb) were not found; run scripts/ensure-postgres.sh "
        "(make test does) or install Debian's 'postgresql' package."
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    """One postgres cluster in a temporary directory, listening on 127.0.0.1 and a free port.

    With `certificate` it accepts TCP connections only through `hostssl` lines with
    scram-sha-256; without it the server has ssl=off and plain `host` lines (used only to show
    that the client refuses such a server). The superuser connects over the Unix socket.
    """

    def __init__(
        self,
        name: str,
        *,
        certificate: ServerCertificate | None,
        max_connections: int = 20,
    ) -> None:
        self.bin_dir = find_bin_dir()
        self.base_dir = Path(tempfile.mkdtemp(prefix=f"lambda-runtime-{name}-"))
        self.data_dir = self.base_dir / "data"
        self.socket_dir = self.base_dir / "socket"
        self.log_file = self.base_dir / "server.log"
        self.port = free_port()
        self.host = "127.0.0.1"
        self.certificate = certificate
        self.max_connections = max_connections
        self._run_as = self._server_user()

    def _server_user(self) -> pwd.struct_passwd | None:
        if os.geteuid() != 0:
            return None
        try:
            return pwd.getpwnam(SERVER_OS_USER)
        except KeyError as exc:
            raise RuntimeError(
                f"Running as root, the tests start PostgreSQL as the '{SERVER_OS_USER}' user, "
                "which does not exist; install Debian's 'postgresql' package (it creates it)."
            ) from exc

    def _command(self, *args: str) -> list[str]:
        if self._run_as is None:
            return list(args)
        return ["runuser", "-u", SERVER_OS_USER, "--", *args]

    def _run(self, *args: str) -> None:
        result = subprocess.run(
            self._command(*args), cwd=self.base_dir, capture_output=True, text=True
        )
        if result.returncode != 0:
            log = self.log_file.read_text() if self.log_file.exists() else ""
            raise RuntimeError(
                f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n"
                f"{result.stderr}\n{log[-4000:]}"
            )

    def _own(self, path: Path, mode: int) -> None:
        os.chmod(path, mode)
        if self._run_as is not None:
            os.chown(path, self._run_as.pw_uid, self._run_as.pw_gid)

    def initialize(self) -> None:
        self._own(self.base_dir, 0o700)
        self.socket_dir.mkdir()
        self._own(self.socket_dir, 0o700)
        self._run(
            str(self.bin_dir / "initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            "postgres",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
            "--no-sync",
            "--no-instructions",
        )
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.socket_dir}'",
            "max_connections": str(self.max_connections),
            "superuser_reserved_connections": "3",
            "password_encryption": "'scram-sha-256'",
            "shared_buffers": "'16MB'",
            "fsync": "off",
            "full_page_writes": "off",
            # Commits never wait for a standby, except for a role that asks for it: the
            # replay test uses that to hold one COMMIT after it is durable but before the
            # client hears about it.
            "synchronous_standby_names": "'phantom_standby'",
            "synchronous_commit": "local",
            "log_min_messages": "warning",
            # Statement logging is off, but a test may turn it on for one role and then read
            # which statements that role's sessions sent; the prefix names the role.
            "log_line_prefix": "'%m [%p] %u@%d '",
            "ssl": "on" if self.certificate else "off",
        }
        if self.certificate is not None:
            settings["ssl_cert_file"] = "'server.crt'"
            settings["ssl_key_file"] = "'server.key'"
            settings["ssl_min_protocol_version"] = "'TLSv1.2'"
            self._write_certificate(self.certificate)
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write("\n# Settings of the lambda_src tests\n")
            for key, value in settings.items():
                conf.write(f"{key} = {value}\n")

        if self.certificate is not None:
            hba = "local all postgres trust\nhostssl all all 127.0.0.1/32 scram-sha-256\n"
        else:
            hba = "local all postgres trust\nhost all all 127.0.0.1/32 scram-sha-256\n"
        (self.data_dir / "pg_hba.conf").write_text(hba)
        self._own(self.data_dir / "pg_hba.conf", 0o600)

    def _write_certificate(self, certificate: ServerCertificate) -> None:
        for name, content in (
            ("server.crt", certificate.certificate_pem),
            ("server.key", certificate.key_pem),
        ):
            path = self.data_dir / name
            path.write_bytes(content)
            self._own(path, 0o600)

    def start(self) -> None:
        self._run(
            str(self.bin_dir / "pg_ctl"),
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_file),
            "-w",
            "-t",
            str(READY_TIMEOUT_SECONDS),
            "start",
        )

    def stop(self) -> None:
        self._run(
            str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"
        )

    def restart(self) -> None:
        self._run(
            str(self.bin_dir / "pg_ctl"),
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_file),
            "-m",
            "fast",
            "-w",
            "-t",
            str(READY_TIMEOUT_SECONDS),
            "restart",
        )

    def remove(self) -> None:
        shutil.rmtree(self.base_dir, ignore_errors=True)

    def admin(self, database: str = "postgres") -> pg8000.native.Connection:
        """A superuser connection over the Unix socket (trust, local only)."""
        return pg8000.native.Connection(
            user="postgres",
            database=database,
            unix_sock=str(self.socket_dir / f".s.PGSQL.{self.port}"),
            ssl_context=False,
            timeout=10,
        )

    def swap_certificate(self, certificate: ServerCertificate) -> None:
        """Serve `certificate` from now on: reload the configuration and wait until it shows."""
        self._write_certificate(certificate)
        self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "reload")
        expected = x509.load_pem_x509_certificate(certificate.certificate_pem).public_bytes(
            serialization.Encoding.DER
        )
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.presented_certificate() == expected:
                return
            time.sleep(0.02)
        raise RuntimeError("the server did not pick up the new certificate after a reload")

    def presented_certificate(self) -> bytes | None:
        """The DER certificate the server presents now (not verified: only for comparison)."""
        unverified = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        unverified.check_hostname = False
        unverified.verify_mode = ssl.CERT_NONE
        with socket.create_connection((self.host, self.port), timeout=5) as raw:
            raw.sendall(struct.pack("!ii", 8, SSL_REQUEST_CODE))
            if raw.recv(1) != b"S":
                return None
            with unverified.wrap_socket(raw) as tls:
                return tls.getpeercert(binary_form=True)
