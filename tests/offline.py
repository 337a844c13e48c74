"""The network switched off, for the tier that runs the rules on in-memory stores: a test
that reaches for a socket fails instead of quietly talking to moto or anything else."""

import socket
from contextlib import contextmanager
from unittest import mock


class NetworkUsed(RuntimeError):
    pass


def _refuse(*args, **_kwargs):
    raise NetworkUsed("the offline tier opened a connection: %r" % (args[1:] or args,))


@contextmanager
def no_network():
    with (
        mock.patch.object(socket.socket, "connect", _refuse),
        mock.patch.object(socket.socket, "connect_ex", _refuse),
        mock.patch.object(socket, "create_connection", _refuse),
    ):
        yield
