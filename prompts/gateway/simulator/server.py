"""Running the simulator: the threaded server and the handle tests and commands hold."""

from __future__ import annotations

import logging
import socket
import threading
from http.server import ThreadingHTTPServer

from .config import SimulatorConfig
from .handler import SimulatorHandler
from .state import SimulatorState

logger = logging.getLogger("prompts.gateway.simulator")


class SimulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address, state: SimulatorState) -> None:
        self.state = state
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, SimulatorHandler)


class SimulatorHandle:
    def __init__(self, server: SimulatorServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread
        self.host, self.port = server.server_address[:2]
        self.base_url = f"http://{_url_host(self.host)}:{self.port}/v1"

    @property
    def root_url(self) -> str:
        return self.base_url.removesuffix("/v1")

    def stats(self) -> dict:
        return self._server.state.stats()

    def usage_log(self) -> list[dict]:
        """Every billed call, oldest first: what GET /_sim/log answers."""
        return self._server.state.log_entries()

    def script(self, entries: list[dict]) -> None:
        self._server.state.add_script(entries)

    def configure(self, **changes) -> SimulatorConfig:
        return self._server.state.configure(**changes)

    def reset(self) -> None:
        self._server.state.reset()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def start_simulator(
    config: SimulatorConfig, host: str = "127.0.0.1", port: int = 0
) -> SimulatorHandle:
    """Serve in a background daemon thread; ``port=0`` picks a free port."""
    server = SimulatorServer((host, port), SimulatorState(config))
    thread = threading.Thread(target=server.serve_forever, name="gateway-simulator", daemon=True)
    thread.start()
    logger.info(
        "gateway simulator listening on http://%s:%s/v1", _url_host(host), server.server_address[1]
    )
    return SimulatorHandle(server, thread)
