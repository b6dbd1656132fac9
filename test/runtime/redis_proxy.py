"""A TCP proxy on 127.0.0.1 in front of a real redis-server, to script timelines a real server cannot produce on demand.

Every reply chunk the server sends back is held until ``before_reply(request, index)`` returns: ``request`` is the
last chunk the client sent on that connection, ``index`` counts the replies of the connection from 0 (the first ones
answer the connection's set-up: AUTH/HELLO, CLIENT SETINFO). The hook may sleep (a slow handshake, a slow command) or
act on the server through another connection (an interleaving).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from types import TracebackType

from cached_booking_api.local.processes import free_port

ReplyHook = Callable[[bytes, int], None]


class RedisProxy:
    """Forwards 127.0.0.1:``port`` to 127.0.0.1:``upstream_port``, holding each reply until the hook returns."""

    def __init__(self, upstream_port: int, before_reply: ReplyHook | None = None) -> None:
        self.upstream_port = upstream_port
        self.before_reply = before_reply
        self.port = free_port()
        self.connections = 0
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._sockets: list[socket.socket] = [self._listener]
        self._closed = False

    @property
    def url(self) -> str:
        """``redis://`` URL of the proxy."""
        return f"redis://127.0.0.1:{self.port}"

    def __enter__(self) -> RedisProxy:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._closed = True
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            self._sockets += [client, upstream]
            last_request = [b""]
            threading.Thread(target=self._requests, args=(client, upstream, last_request), daemon=True).start()
            threading.Thread(target=self._replies, args=(upstream, client, last_request), daemon=True).start()

    @staticmethod
    def _requests(source: socket.socket, target: socket.socket, last_request: list[bytes]) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                last_request[0] = data
                target.sendall(data)
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)

    def _replies(self, source: socket.socket, target: socket.socket, last_request: list[bytes]) -> None:
        index = 0
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if self.before_reply is not None:
                    self.before_reply(last_request[0], index)
                index += 1
                target.sendall(data)
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)
