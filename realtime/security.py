"""Who may read the stream: localhost by default; CURVE encryption + client keys beyond it.

``stmocap keys DIR`` writes ``DIR/server.key`` (the server's public key: give it to clients),
``DIR/server.key_secret`` (stays with the publisher) and one client pair in ``DIR/clients/``
(``NAME.key`` stays there, ``NAME.key_secret`` goes to that client). Files are ZeroMQ's text
certificate format (``public-key = "<Z85>"`` and, in secret files, ``secret-key = "<Z85>"``); secret
files are written mode 0600. The publisher serves with the server secret and accepts a client
whose public key is in a ``*.key`` file in ``DIR/clients/`` at the moment it connects: the folder is
read again on every handshake, so clients added (or removed) later need no restart.
"""

from __future__ import annotations

import datetime
import os
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


def _write_certificate(path: Path, public: bytes, secret: bytes | None) -> None:
    """One key file in ZeroMQ's certificate format; a secret one is created (and kept) 0600."""
    kind = "Secret" if secret is not None else "Public"
    lines = [f"#   ZeroMQ CURVE {kind} Certificate, written by stmocap keys on "
             f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC",
             "#   " + ("Keep this file private (mode 0600)." if secret is not None
                      else "Public key: may be copied freely."),
             "", "metadata", "curve", f'    public-key = "{public.decode()}"']
    if secret is not None:
        lines.append(f'    secret-key = "{secret.decode()}"')
    mode = 0o600 if secret is not None else 0o644
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        os.fchmod(f.fileno(), mode)  # an existing file keeps its old mode otherwise
        f.write("\n".join(lines) + "\n")


def create_keys(folder: Path, client_name: str = "client") -> tuple[Path, Path]:
    """Write a server key pair (kept if ``folder`` has one already) and a client key pair (in
    ``clients/``); return their secret files. Public files are 0644, secret files 0600."""
    folder = Path(folder)
    (folder / "clients").mkdir(parents=True, exist_ok=True)
    secrets = []
    for stem in (folder / "server", folder / "clients" / client_name):
        if stem.name == "server" and (folder / "server.key_secret").is_file():
            _load(folder / "server.key_secret", True)  # unreadable: say so rather than replace it
            secrets.append(folder / "server.key_secret")
            continue
        public, secret = zmq.curve_keypair()
        _write_certificate(stem.with_name(stem.name + ".key"), public, None)
        _write_certificate(stem.with_name(stem.name + ".key_secret"), public, secret)
        secrets.append(stem.with_name(stem.name + ".key_secret"))
    return secrets[0], secrets[1]


class ClientKeys:
    """CURVE credentials provider for pyzmq's authenticator: a client may connect while its public
    key is in a ``*.key`` file of ``folder`` (read again at every handshake)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def allowed(self) -> set[bytes]:
        keys = set()
        for path in sorted(self.folder.glob("*.key")):
            try:
                public, _ = zmq.auth.load_certificate(str(path))
            except (OSError, ValueError):
                continue  # a half-written or foreign file authorises nobody
            keys.add(public)
        return keys

    def callback(self, domain: str, key: bytes) -> bool:
        """pyzmq passes the client's public key in Z85, as the files hold it."""
        return key in self.allowed()


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
    auth.configure_curve_callback(domain="*", credentials_provider=ClientKeys(clients))
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
