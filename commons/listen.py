"""Run an ASGI app under uvicorn and say on stderr when it listens.

uvicorn's own "running on" line is an INFO log, and the project's servers run at WARNING (no
access log, no lifecycle chatter); a person who started one in the background still needs to
know when and where it answers.
"""

from __future__ import annotations

import sys
from typing import Any

import uvicorn


class _AnnouncingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, name: str) -> None:
        super().__init__(config)
        self.name = name

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets)
        if self.started:  # not when the bind failed (uvicorn then logs the error and exits 1)
            config = self.config
            print(f"{self.name} listening on http://{config.host}:{config.port}", file=sys.stderr, flush=True)


def serve_app(app: Any, *, host: str, port: int, name: str) -> None:
    """Serve ``app`` on ``host:port`` until SIGINT/SIGTERM, printing ``"<name> listening on
    http://host:port"`` to stderr once the socket is bound.

    Raises:
        SystemExit: uvicorn exits 1 when the port cannot be bound.
    """
    _AnnouncingServer(uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False),
                      name).run()
