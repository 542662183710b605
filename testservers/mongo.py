"""A MongoDB wire-protocol server for the tests: SecantusDB in a child process, in memory, on a loopback port.

No real ``mongod`` is installable from PyPI (every "memory server" package downloads the binary at run time), so the
fixtures start SecantusDB, a wire-protocol server, through its Python API, which (unlike its console script) honours
a short TTL sweep interval. ``KVSTORES_TEST_MONGO_URL`` runs the tests against a real server instead. Run as a module
(``python -m testservers.mongo PORT``) it serves until it receives SIGTERM or SIGINT.
"""

from __future__ import annotations

import signal
import sys
import tempfile
from pathlib import Path
from types import FrameType
from typing import Any

from .process import ServerProcess, wait_until

__all__ = ("MongoServer", "start_mongo_server")

TTL_SWEEP_SECONDS = 1.0
"""How often the server removes documents whose TTL-indexed date has passed (a real ``mongod`` sweeps every 60 s)."""

STARTUP_TIMEOUT = 30.0


class MongoServer:
    """A running SecantusDB child process listening on ``127.0.0.1:port``."""

    def __init__(self, port: int, log_dir: Path) -> None:
        self.port = port
        self.log_dir = log_dir
        self._process: ServerProcess | None = None

    @property
    def url(self) -> str:
        """The connection URL. The server calls itself a one-member replica set, so clients use replica-set mode."""
        return f"mongodb://127.0.0.1:{self.port}/"

    def start(self) -> None:
        """Start the child process and wait until it answers ``ping``.

        Raises:
            RuntimeError: the server exited or did not answer within ``STARTUP_TIMEOUT`` seconds.
        """
        argv = [sys.executable, "-m", "testservers.mongo", str(self.port)]
        project_root = Path(__file__).resolve().parents[1]
        self._process = ServerProcess(argv, self.log_dir / f"mongo-{self.port}.log", cwd=project_root)
        wait_until(self._answers_ping, STARTUP_TIMEOUT, f"SecantusDB on port {self.port}", interval=0.05)

    def _answers_ping(self) -> bool:
        from pymongo import MongoClient

        assert self._process is not None
        self._process.ensure_running()
        client: MongoClient[dict[str, Any]]
        with MongoClient(self.url, serverSelectionTimeoutMS=500, connectTimeoutMS=500) as client:
            return bool(client.admin.command("ping").get("ok"))

    def pause(self) -> None:
        """Freeze the child process (SIGSTOP): it keeps its connections open but answers nothing.

        Returns once every thread of it has stopped: the signal takes effect asynchronously, and a request sent
        right after ``kill()`` returned was seen being answered on a loaded machine.
        """
        assert self._process is not None
        pid = self._process.process.pid
        self._process.process.send_signal(signal.SIGSTOP)
        wait_until(lambda: _all_threads_stopped(pid), 5, f"SecantusDB on port {self.port} to stop")

    def resume(self) -> None:
        """Let a paused child process run again (SIGCONT)."""
        assert self._process is not None
        self._process.process.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        """Kill the child process at once, like a crash (``stop`` takes about 2 s for an orderly shutdown)."""
        if self._process is not None:
            self._process.process.kill()
            self._process.stop()
            self._process = None

    def stop(self) -> None:
        """Stop the child process (no-op if it is not running)."""
        if self._process is not None:
            self._process.stop()
            self._process = None


def _all_threads_stopped(pid: int) -> bool:
    """Whether every thread of the process ``pid`` is stopped (Linux ``/proc``; elsewhere assumed at once)."""
    tasks = Path(f"/proc/{pid}/task")
    if not tasks.is_dir():
        return True
    # the state is the first field after the parenthesised command name, which may itself contain spaces
    states = [(task / "stat").read_text().rpartition(")")[2].split()[0] for task in tasks.iterdir()]
    return all(state in ("T", "t") for state in states)


def start_mongo_server(port: int, log_dir: Path | None = None) -> MongoServer:
    """Start a :class:`MongoServer` on ``port`` and return it once it answers ``ping``."""
    server = MongoServer(port, log_dir or Path(tempfile.mkdtemp(prefix="kvstores-mongo-")))
    server.start()
    return server


def _serve(port: int) -> None:
    from secantus.server import SecantusDBServer  # type: ignore[import-untyped]

    server = SecantusDBServer(host="127.0.0.1", port=port, storage_path=":memory:", ttl_sweep_seconds=TTL_SWEEP_SECONDS)

    def request_stop(signum: int, frame: FrameType | None) -> None:
        server.stop()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    server.start()
    server.wait()


if __name__ == "__main__":
    _serve(int(sys.argv[1]))
