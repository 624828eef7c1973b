"""A live `roadroller serve` (the real binary on its embedded broker) for the
whole session, on ports the operating system picks, and a client to it; and
further servers with extra flags (authentication, TLS) for one module."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from roadroller import Client, RoadType

SCHEMA = {
    "type": "object",
    "properties": {"price": {"type": "number"}, "name": {"type": "string"}},
    "required": ["price"],
}


def _binary() -> str:
    explicit = os.environ.get("ROADROLLER_BIN")
    if explicit:
        return explicit
    target = os.environ.get("CARGO_TARGET_DIR") or str(Path.home() / ".cache/roadroller/target")
    return str(Path(target) / "debug" / "roadroller")


class Server:
    """`roadroller serve` as a child process, its JSON log lines collected."""

    def __init__(self, data_dir: Path, flags: Sequence[str] = ()) -> None:
        binary = _binary()
        if not os.access(binary, os.X_OK):
            pytest.fail(f"no roadroller binary at {binary}: run cargo build -p roadroller-server")
        args = [
            binary, "serve",
            "--log-format", "json",
            "--listen", "127.0.0.1:0",
            "--embedded-listen", "127.0.0.1:0",
            "--data-dir", str(data_dir / "data"),
            "--grace-period", "5s",
            "--http-listen", "",  # no HTTP gateway
            "--admin-listen", "",  # no admin listener
            *flags,
        ]  # fmt: skip
        # Settings come from flags only, not from the caller's ROADROLLER_*.
        env = {k: v for k, v in os.environ.items() if not k.startswith("ROADROLLER_")}
        env["RUST_LOG"] = "info"
        self.stderr_path = data_dir / "stderr.log"
        self.lines: list[str] = []
        self._listen: str | None = None
        self._ready = threading.Event()
        with open(self.stderr_path, "w") as stderr:
            self.process = subprocess.Popen(
                args, stdout=subprocess.PIPE, stderr=stderr, env=env, text=True
            )
        threading.Thread(target=self._read_logs, daemon=True).start()

    def _read_logs(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("message") == "serving":
                self._listen = entry["listen"]
                self._ready.set()
        self._ready.set()

    def address(self, within: float = 30.0) -> str:
        """The bound gRPC address, from the `serving` log line."""
        self._ready.wait(within)
        if self._listen is None:
            self.process.kill()
            pytest.fail(f"roadroller did not log 'serving' within {within}s:\n{self.output()}")
        return self._listen

    def output(self) -> str:
        return "".join(self.lines[-50:]) + self.stderr_path.read_text()[-5000:]

    def stop(self) -> int:
        """SIGTERM, then the exit code (0 for a clean shutdown)."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return -1


@pytest.fixture(scope="session")
def server_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = Server(tmp_path_factory.mktemp("roadroller"))
    try:
        yield server.address()
    finally:
        code = server.stop()
        assert code == 0, f"roadroller serve exited with {code}:\n{server.output()}"


@pytest.fixture(scope="module")
def start_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., str]]:
    """Starts a further server with extra `serve` flags and returns its
    address; each stops, and must exit cleanly, at the end of the module."""
    servers: list[Server] = []

    def start(*flags: str) -> str:
        server = Server(tmp_path_factory.mktemp("roadroller"), flags)
        servers.append(server)
        return server.address()

    yield start
    codes = [(server.stop(), server) for server in servers]
    for code, server in codes:
        assert code == 0, f"roadroller serve exited with {code}:\n{server.output()}"


@pytest.fixture(scope="session")
def client(server_address: str) -> Iterator[Client]:
    with Client(server_address) as c:
        yield c


@pytest.fixture
def compacted_road(client: Client) -> Callable[[], str]:
    """Makes a COMPACTED road with a schema, enabled and ready to use."""

    def make() -> str:
        name = f"py_{uuid.uuid4().hex[:12]}"
        client.create_road(name, RoadType.COMPACTED, description="Python client test")
        client.wait_for_topic(name)
        client.register_schema(name, SCHEMA)
        client.set_enabled(name)
        return name

    return make
