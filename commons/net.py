"""Loopback networking helpers shared by pods, servers and tests."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something already listens on ``host:port`` (a bind there fails)."""
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return True
        return False
