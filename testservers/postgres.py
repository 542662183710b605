"""A real PostgreSQL server for the tests and benchmarks, from the binaries of the ``pgserver`` wheel.

``pgserver`` carries PostgreSQL 16 (see ``FACTS.md``). Its own ``get_server`` listens on a Unix socket only, so this
module runs the wheel's ``initdb`` and ``postgres`` itself: a new cluster in a temporary directory, listening on a
free 127.0.0.1 port, with password authentication over TCP (so that tests can check that a password never leaks)
and no durability (``fsync=off``: the data is thrown away). PostgreSQL refuses to run as root; as root the server
runs as the unprivileged user ``nobody``.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .process import free_port, wait_until

__all__ = ("PASSWORD", "URL_VARIABLE", "USER", "PostgresServer", "postgres_url", "start_postgres_server")

URL_VARIABLE = "KVSTORES_TEST_POSTGRES_URL"
"""An existing server to use instead of starting one (``postgresql://user:password@host:port/db``)."""

USER = "kvstores"
PASSWORD = "pg-secret-Xq7"
"""The password of :data:`USER`; tests check that it never appears in an error message."""

DATABASE = "postgres"
START_TIMEOUT = 30.0
_UNPRIVILEGED_USER = "nobody"


def _binary(name: str) -> str:
    """The path of a PostgreSQL program in the wheel (found without importing ``pgserver``, which warns as root)."""
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("The pgserver wheel is not installed")
    return str(Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin" / name)


def _run_as() -> str | None:
    """The user to run PostgreSQL as: ``nobody`` when we are root (PostgreSQL refuses root), else ourselves."""
    return _UNPRIVILEGED_USER if os.geteuid() == 0 else None


def _answers_queries(url: str) -> bool:
    import psycopg

    with psycopg.connect(url, connect_timeout=1) as connection:
        return connection.execute("SELECT 1").fetchone() == (1,)


@dataclass
class PostgresServer:
    """A ``postgres`` child process on ``127.0.0.1:port`` over the cluster in ``directory``."""

    port: int
    directory: Path
    argv: list[str]
    user: str | None
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The connection URL, with the user's password."""
        return f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{DATABASE}"

    @property
    def log(self) -> str:
        """The server's log so far."""
        return (self.directory / "postgres.log").read_text(errors="replace")

    def ensure_running(self) -> None:
        """Raise ``RuntimeError`` with the server's log if the process has exited."""
        if self.process is None or self.process.poll() is not None:
            code = None if self.process is None else self.process.returncode
            raise RuntimeError(f"postgres exited with {code}:\n{self.log}")

    def start(self) -> None:
        """Start the server over its cluster (again, after :meth:`halt`: the data is kept).

        Raises:
            RuntimeError: the server exited or did not accept connections within 30 s.
        """
        with (self.directory / "postgres.log").open("ab") as log:
            self.process = subprocess.Popen(
                self.argv, user=self.user, cwd=self.directory, stdout=log, stderr=subprocess.STDOUT
            )

        def answers() -> bool:
            self.ensure_running()
            return _answers_queries(self.url)

        wait_until(answers, START_TIMEOUT, f"PostgreSQL :{self.port}")

    def halt(self) -> None:
        """Stop the server (fast shutdown: open connections are closed; killed after 10 s), keeping its cluster."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def stop(self) -> None:
        """Stop the server and remove its directory."""
        self.halt()
        shutil.rmtree(self.directory, ignore_errors=True)


def start_postgres_server(port: int | None = None) -> PostgresServer:
    """Create a new cluster in a temporary directory and start PostgreSQL on ``port`` (a free one by default).

    Raises:
        RuntimeError: ``initdb`` failed, or the server exited or did not accept connections within 30 s.
    """
    port = port or free_port()
    user = _run_as()
    directory = Path(tempfile.mkdtemp(prefix="kvstores-postgres-"))
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(directory, entry.pw_uid, entry.pw_gid)
    password_file = directory / "password"
    password_file.write_text(PASSWORD + "\n")
    if user is not None:
        os.chown(password_file, pwd.getpwnam(user).pw_uid, -1)
    data = directory / "data"
    initdb = subprocess.run(
        [
            _binary("initdb"),
            "-D",
            str(data),
            "-U",
            USER,
            "--pwfile",
            str(password_file),
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        ],
        user=user,
        cwd=directory,
        capture_output=True,
        text=True,
        check=False,
    )
    password_file.unlink()
    if initdb.returncode:
        shutil.rmtree(directory, ignore_errors=True)
        raise RuntimeError(f"initdb failed with {initdb.returncode}:\n{initdb.stdout}\n{initdb.stderr}")
    settings = {"listen_addresses": "127.0.0.1", "port": str(port), "unix_socket_directories": str(directory)}
    settings |= {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off", "max_connections": "200"}
    argv = [_binary("postgres"), "-D", str(data)]
    for name, value in settings.items():
        argv += ["-c", f"{name}={value}"]
    server = PostgresServer(port, directory, argv, user)
    try:
        server.start()
    except BaseException:
        server.stop()
        raise
    return server


@contextmanager
def postgres_url() -> Iterator[str]:
    """The URL of ``KVSTORES_TEST_POSTGRES_URL``, or of a server started for the ``with`` block and stopped after it."""
    given = os.environ.get(URL_VARIABLE)
    if given:
        yield given
        return
    server = start_postgres_server()
    try:
        yield server.url
    finally:
        server.stop()


if __name__ == "__main__":
    running = start_postgres_server()
    print(running.url, flush=True)
    try:
        assert running.process is not None
        running.process.wait()
    except KeyboardInterrupt:
        running.stop()
