"""Helpers for starting real servers as child processes on free loopback ports."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ("ServerProcess", "free_port", "wait_until")


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.02) -> None:
    """Call ``check`` until it returns ``True``; raise ``RuntimeError`` naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception as exc:  # the server is still starting
            last_error = exc
        time.sleep(interval)
    raise RuntimeError(f"{what} did not become ready within {timeout} s (last error: {last_error!r})")


class ServerProcess:
    """A server child process with its log file; ``stop()`` terminates it and waits."""

    def __init__(self, argv: Sequence[str], log_path: Path, cwd: Path | None = None) -> None:
        self.argv = list(argv)
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            self.argv, stdout=self._log, stderr=subprocess.STDOUT, cwd=cwd, env=os.environ.copy()
        )

    def ensure_running(self) -> None:
        """Raise ``RuntimeError`` with the server's log if the process has exited."""
        if self.process.poll() is not None:
            raise RuntimeError(
                f"{self.argv[0]} exited with {self.process.returncode}:\n{self.log_path.read_text(errors='replace')}"
            )

    def stop(self, timeout: float = 10) -> None:
        """Terminate the process (kill it after ``timeout`` seconds) and close its log."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
