"""A Milvus server on this machine: the standalone Milvus 2.3 of the `milvus` package (`pip install
'kzru-rag[server]'`), run by its `milvus-server` script on 127.0.0.1 with its data in a folder.

`python -m kzru_rag.stores.milvus.server --data DIR` (`make milvus`) runs one in the foreground until Ctrl-C; the
tests and bench/scale.py start one on a free port with `LocalMilvus`, every other port it uses (its embedded etcd's,
its coordinators') free too, so that several run on this machine at once. `milvus-server` starts the engine as a child
process (`DIR/bin/milvus run standalone`); stopping stops both, by pid: the engine with SIGTERM (SIGKILL after a
timeout), then the script.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from pymilvus import MilvusClient, MilvusException

PORTS = (
    "etcd-port",
    "root-coord-port",
    "proxy-internal-port",
    "query-coord-port",
    "query-node-port",
    "index-coord-port",
    "index-node-port",
    "data-coord-port",
    "data-node-port",
)
"""The ports `milvus-server --help` lists besides the proxy's: each has a fixed default (etcd 2379, …), so a second
server on this machine would find them taken; each server gets free ones (`LocalMilvus._ports`)."""
ETCD_PEERS = "etcd-peer-port"
"""The embedded etcd's peer port, which `milvus-server` does not name (`LocalMilvus._etcd_config`)."""
ROOT_TOKEN = "root:Milvus"
"""The token of the user a new server with authorization enabled has (user root, password Milvus)."""
DEFAULT_PORT = 19530


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on now."""
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """`count` different TCP ports on 127.0.0.1 nobody listens on now."""
    with contextlib.ExitStack() as held:  # all bound at once, so that no port comes twice
        probes = [held.enter_context(socket.socket()) for _ in range(count)]
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in probes]


class LocalMilvus:
    """A `milvus-server` process (and its engine) serving on 127.0.0.1:`port` with its data under `data`."""

    def __init__(self, data: Path, port: int | None = None, authorization: bool = False) -> None:
        self.data, self.port, self.authorization = Path(data), port or free_port(), authorization
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 180.0) -> LocalMilvus:
        """Start the server and wait until it answers; RuntimeError when it exits or does not answer in time."""
        script = Path(sys.executable).with_name("milvus-server")
        if not script.exists():
            raise RuntimeError(f"{script} is missing: install the server with `pip install 'kzru-rag[server]'`")
        # The engine locks its pid file in DATA/run when that folder exists, else in /run/milvus, which would keep a
        # second server on this machine from starting.
        (self.data / "run").mkdir(parents=True, exist_ok=True)
        # `--proxy-port` alone is a wish: milvus-server probes it with a bind() that a killed server's connections,
        # lingering in TIME_WAIT for a minute, refuse, and then serves on the next free port. The config line is
        # the engine's own setting, and the engine binds its port even with those connections lingering.
        command = [str(script), "--data", str(self.data), "--proxy-port", str(self.port)]
        command += ["--extra-config", f"proxy.port={self.port}"]
        ports = self._ports()
        command += [argument for name in PORTS for argument in (f"--{name}", str(ports[name]))]
        command += ["--authorization-enabled", "true"] if self.authorization else []
        config = self._etcd_config(ports["etcd-port"], ports[ETCD_PEERS])
        environment = {**os.environ, "ETCD_CONFIG_PATH": str(config)}
        with open(self.data / "milvus-server.log", "ab") as log:
            # A session of its own: a Ctrl-C meant for the caller reaches the server only through `stop`.
            self.process = subprocess.Popen(command, stdout=log, stderr=log, env=environment, start_new_session=True)
        deadline = time.monotonic() + timeout
        while not self._answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the Milvus server did not start: see {self.data / 'milvus-server.log'}")
            time.sleep(0.5)
        return self

    def _ports(self) -> dict[str, int]:
        """A port for each of `PORTS` and `ETCD_PEERS`: the one this data folder's server had last (kept in
        DATA/ports.json) while it is free, so that a server started again on its data (after a crash) serves where
        it did, as with fixed ports; else a new free one."""
        kept = self.data / "ports.json"
        before: dict[str, int] = json.loads(kept.read_text()) if kept.exists() else {}
        names = [*PORTS, ETCD_PEERS]
        taken = {self.port, *before.values()}
        fresh = iter(port for port in free_ports(len(names) + len(taken)) if port not in taken)
        ports: dict[str, int] = {}
        for name in names:
            port = before.get(name)
            ports[name] = port if port and port != self.port and _free(port) else next(fresh)
        kept.write_text(json.dumps(ports))
        return ports

    def _etcd_config(self, client: int, peer: int) -> Path:
        """The embedded etcd's own configuration, serving on `client` and `peer`: without one it listens on etcd's
        default ports (2379, 2380) whatever `--etcd-port` says (that names the port Milvus's settings give, not the
        one the embedded etcd binds). The engine reads its path from the ETCD_CONFIG_PATH environment variable (the
        setting `etcd.config.path`, which the `milvus-server` template does not hold)."""
        config = self.data / "etcd.yaml"
        clients, peers = f"http://127.0.0.1:{client}", f"http://127.0.0.1:{peer}"
        config.write_text(
            f"listen-client-urls: {clients}\nadvertise-client-urls: {clients}\n"
            f"listen-peer-urls: {peers}\ninitial-advertise-peer-urls: {peers}\ninitial-cluster: default={peers}\n"
        )
        return config

    def _answers(self) -> bool:
        try:
            client = MilvusClient(self.uri, token=ROOT_TOKEN if self.authorization else "", timeout=2)
        except MilvusException:
            return False
        try:
            client.list_collections()
            return True
        except MilvusException:
            return False
        finally:
            client.close()

    def pids(self) -> list[int]:
        """The script's pid and its engine's (none once stopped)."""
        if self.process is None or self.process.poll() is not None:
            return []
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        engine = [int(pid) for pid in children.read_text().split()] if children.exists() else []
        return [self.process.pid, *engine]

    def rss_mib(self) -> float:
        """Resident memory of the script and its engine together, in MiB."""
        pages = 0
        for pid in self.pids():
            try:
                pages += int(Path(f"/proc/{pid}/statm").read_text().split()[1])
            except (OSError, IndexError, ValueError):
                continue
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the engine (SIGTERM, SIGKILL after `timeout`), then the script."""
        if self.process is None:
            return
        for pid in self.pids()[1:]:
            _end(pid, signal.SIGTERM, timeout)
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # milvus-server's own way out: it stops and reaps its engine
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def kill(self) -> None:
        """End the server at once, as a crash would (SIGKILL to the engine and the script)."""
        if self.process is None:
            return
        for pid in reversed(self.pids()):
            os.kill(pid, signal.SIGKILL)
        self.process.wait()
        self.process = None

    def __enter__(self) -> LocalMilvus:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _free(port: int) -> bool:
    """True when nothing holds `port` on 127.0.0.1 (the probe `milvus-server` makes before it serves there)."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _end(pid: int, first: signal.Signals, timeout: float) -> None:
    """Send `first` to `pid` and wait for it to go; SIGKILL it when it has not within `timeout`."""
    try:
        os.kill(pid, first)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            os.kill(pid, 0)
            if Path(f"/proc/{pid}/stat").read_text().split(") ")[-1].startswith("Z"):
                return  # gone, waiting for its parent to reap it
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, FileNotFoundError):
        return


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Run a server in the foreground until Ctrl-C (`make milvus`)."""
    parser = argparse.ArgumentParser(description="Run a local Milvus server on 127.0.0.1 until Ctrl-C.")
    parser.add_argument("--data", type=Path, required=True, help="folder holding the server's data and logs")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port to serve on (default {DEFAULT_PORT})")
    parser.add_argument("--authorization", action="store_true", help="require a token (user root, password Milvus)")
    args = parser.parse_args(argv)
    for stop in (signal.SIGINT, signal.SIGTERM):  # Ctrl-C, and `kill`, even where the shell ignored SIGINT
        signal.signal(stop, _interrupt)
    server = LocalMilvus(args.data.resolve(), args.port, args.authorization)
    try:
        server.start()
        print(f"Milvus server at {server.uri} (data in {server.data}); Ctrl-C stops it", flush=True)
        while server.process is not None and server.process.poll() is None:
            time.sleep(1)
        print("the Milvus server stopped by itself", file=sys.stderr)
        return 1
    except RuntimeError as err:
        print(err, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("stopping the Milvus server…", flush=True)
        return 0
    finally:
        server.stop()


if __name__ == "__main__":
    raise SystemExit(main())
