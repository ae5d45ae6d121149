"""Who may read the stream: localhost by default; CURVE encryption + client keys beyond it.

``stmocap keys DIR`` writes ``DIR/server.key`` (public), ``DIR/server.key_secret`` and one client
key pair in ``DIR/clients/``. The publisher serves with the server secret and accepts only clients
whose public key is in ``DIR/clients/``; a client needs its own secret and the server's public key.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import zmq
import zmq.auth

LOCAL = re.compile(r"^(ipc|inproc)://|^tcp://(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?$")


class SecurityError(RuntimeError):
    """Keys are missing or unreadable; the message is one line for the user."""


def is_local(endpoint: str) -> bool:
    """True for ipc/inproc and tcp on a loopback address."""
    return bool(LOCAL.match(endpoint))


def create_keys(folder: Path, client_name: str = "client") -> tuple[Path, Path]:
    """Write a server key pair and a client key pair (in ``clients/``); return their secret files."""
    folder = Path(folder)
    (folder / "clients").mkdir(parents=True, exist_ok=True)
    _, server_secret = zmq.auth.create_certificates(str(folder), "server")
    _, client_secret = zmq.auth.create_certificates(str(folder / "clients"), client_name)
    return Path(server_secret), Path(client_secret)


def _load(path: Path, secret: bool) -> tuple[bytes, bytes | None]:
    try:
        return zmq.auth.load_certificate(str(path))
    except (OSError, ValueError) as exc:
        kind = "secret" if secret else "public"
        raise SecurityError(f"cannot read {kind} key {path} (create keys with `stmocap keys DIR`)"
                            ) from exc


def secure_server(sock: zmq.Socket, ctx: zmq.Context, keys: Path) -> Any:
    """Make ``sock`` a CURVE server accepting the clients in ``keys/clients``; returns the
    authenticator (stop it when done)."""
    from zmq.auth.thread import ThreadAuthenticator

    public, secret = _load(Path(keys) / "server.key_secret", True)
    clients = Path(keys) / "clients"
    if not clients.is_dir():
        raise SecurityError(f"no {clients} folder of authorised client keys")
    auth = ThreadAuthenticator(ctx)
    auth.start()
    auth.configure_curve(domain="*", location=str(clients))
    sock.curve_secretkey = secret
    sock.curve_publickey = public
    sock.curve_server = True
    return auth


def secure_client(sock: zmq.Socket, keys: Path, client_name: str = "client") -> None:
    """Configure ``sock`` to talk to a CURVE server made by :func:`secure_server`."""
    server_public, _ = _load(Path(keys) / "server.key", False)
    public, secret = _load(Path(keys) / "clients" / f"{client_name}.key_secret", True)
    sock.curve_secretkey = secret
    sock.curve_publickey = public
    sock.curve_serverkey = server_public


def warn_if_open(endpoint: str, keys: Path | None) -> None:
    if keys is None and not is_local(endpoint):
        print(f"WARNING: publishing OPEN on {endpoint}: anyone who can reach it can read the "
              "pose stream. Use --keys DIR (see `stmocap keys`) to encrypt and authenticate.",
              file=sys.stderr, flush=True)
