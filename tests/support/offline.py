"""The network switched off, for the tier that runs the rules on in-memory stores: a test
that reaches for a socket fails instead of quietly talking to moto, AWS or anything else.
With `loopback=True`, connections to 127.0.0.1 stay allowed (the Zammad emulator)."""

import socket
from contextlib import contextmanager
from unittest import mock


class NetworkUsed(RuntimeError):
    pass


@contextmanager
def no_network(loopback: bool = False):
    real_connect = socket.socket.connect

    def connect(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if loopback and host in ("127.0.0.1", "::1", "localhost"):
            return real_connect(self, address)
        raise NetworkUsed("the offline tier opened a connection to %r" % (address,))

    def refuse(*args, **_kwargs):
        raise NetworkUsed("the offline tier opened a connection: %r" % (args,))

    with (
        mock.patch.object(socket.socket, "connect", connect),
        mock.patch.object(socket.socket, "connect_ex", refuse),
    ):
        yield
