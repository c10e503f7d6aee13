"""The playground's local web server: the standard library's ``ThreadingHTTPServer``.

Routes (every ``/api`` answer is JSON; an error is ``{"error": message}`` with status
400, shown in the page):

======  ==========================  ====================================================
GET     ``/``, ``/static/<file>``   the page (from the package: works offline)
POST    ``/api/session``            a new session ``{"config": {...}}`` -> its id and setup
POST    ``/api/config``             new settings for a session
POST    ``/api/control``            ``play``, ``pause``, ``step``, ``reset`` -> the setup
POST    ``/api/upload``             a CSV file's text for a session
POST    ``/api/trace``              the chain-rule trace of one point
GET     ``/api/setup?session=ID``   the session's settings, points and layers
GET     ``/api/datasets``           100 points of each toy set (the buttons' pictures)
GET     ``/api/stream?session=ID``  Server-Sent Events: one frame per event
GET     ``/api/export?session=ID&what=command|data|model``
======  ==========================  ====================================================

Safety: a request whose ``Host`` header is not this server's local address is refused
(403), so a page on another site cannot reach it through DNS rebinding; a ``POST`` must
be ``application/json`` (a cross-site form or simple request cannot be), and its
``Origin``, when sent, must be this server's. Bodies, sessions and frame rates are
capped; every setting is checked (:func:`chainrule.playground.settings.check_config`).
A failing request answers with an error and leaves the server running.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
import threading
import time
import traceback
from collections import OrderedDict
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np

from chainrule.playground.datasets import (
    DATASETS,
    MAX_CSV_BYTES,
    Table,
    TableError,
    make_dataset,
    read_table,
)
from chainrule.playground.session import Session
from chainrule.playground.settings import MAX_FPS, ConfigError, check_config

__all__ = ["MAX_BODY", "MAX_SESSIONS", "PlaygroundServer", "make_server"]

#: Largest request body: a CSV file of MAX_CSV_BYTES, escaped in JSON, with room to spare.
MAX_BODY = 2 * MAX_CSV_BYTES + 65_536
#: Sessions kept at once; a new one beyond this drops the one unused the longest.
MAX_SESSIONS = 8
#: A session whose page has had no stream open for this long is paused.
PAUSE_AFTER = 30.0
#: Seconds between two keep-alive comments on a quiet stream.
KEEPALIVE = 10.0

_STATIC = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}

_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; "
    "style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
}


class RequestError(Exception):
    """A request refused with a status and a message for the page."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class PlaygroundServer(ThreadingHTTPServer):
    """The HTTP server and its sessions.

    Parameters
    ----------
    port : int
        0 picks a free port.
    table : Table, optional
        A CSV file given on the command line: every new session starts on it.
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int = 0, table: Table | None = None) -> None:
        self.table = table
        self.sessions: OrderedDict[str, Session] = OrderedDict()
        self.lock = threading.Lock()
        self.closing = threading.Event()
        super().__init__(("127.0.0.1", port), _Handler)
        self.port = self.server_address[1]
        self.hosts = {f"127.0.0.1:{self.port}", f"localhost:{self.port}"}
        self.origins = {f"http://{host}" for host in self.hosts}
        self._janitor = threading.Thread(target=self._watch, daemon=True, name="playground-janitor")
        self._janitor.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    # ------------------------------------------------------------ sessions

    def new_session(self, raw: Any) -> tuple[str, Session]:
        table = self.table
        if raw is None:
            raw = {}
        if table is not None and isinstance(raw, dict) and "dataset" not in raw:
            raw = {**_table_defaults(table), **raw}
        config = check_config(raw, table)
        session = Session(config, table)
        key = secrets.token_urlsafe(16)
        dropped = []
        with self.lock:
            self.sessions[key] = session
            while len(self.sessions) > MAX_SESSIONS:
                _, old = self.sessions.popitem(last=False)
                dropped.append(old)
        for old in dropped:
            old.close()
        return key, session

    def session(self, key: Any) -> Session:
        with self.lock:
            session = self.sessions.get(key) if isinstance(key, str) else None
            if session is None:
                raise RequestError(
                    HTTPStatus.NOT_FOUND,
                    "this page's session has ended (the server restarted or too many pages "
                    "were open): reload the page",
                )
            self.sessions.move_to_end(key)
        session.last_seen = time.monotonic()
        return session

    def _watch(self) -> None:
        while not self.closing.wait(5.0):
            self.pause_abandoned(time.monotonic())

    def pause_abandoned(self, now: float) -> int:
        """Pause the sessions whose page went away: playing, with no stream open and no
        request for PAUSE_AFTER seconds (a closed tab). Returns how many were paused."""
        with self.lock:
            sessions = list(self.sessions.values())
        paused = 0
        for session in sessions:
            idle = now - session.last_seen > PAUSE_AFTER
            if session.streams == 0 and session.playing and idle:
                try:
                    session.control("pause")
                    paused += 1
                except Exception:  # pragma: no cover - keep watching the others
                    traceback.print_exc()
        return paused

    def server_close(self) -> None:
        self.closing.set()
        with self.lock:
            sessions = list(self.sessions.values())
            self.sessions.clear()
        for session in sessions:
            session.close()
        super().server_close()


def _table_defaults(table: Table) -> dict[str, Any]:
    """Settings for a CSV file: the first two numeric columns on the map, the last column
    as the target (classification when it has at most 10 distinct values)."""
    numeric = list(table.numeric)
    target = table.columns[-1]
    if target in numeric[:2]:
        target = next((c for c in reversed(table.columns) if c not in numeric[:2]), target)
    x_column, y_column = [c for c in numeric if c != target][:2] + [None] * (
        2 - len([c for c in numeric if c != target][:2])
    )
    distinct = table.distinct[target]
    task = "classify" if distinct <= 10 or target not in table.numeric else "regress"
    return {
        "dataset": "csv",
        "x_column": x_column,
        "y_column": y_column,
        "target": target,
        "task": task,
        "features": ["x1", "x2"],
    }


def make_server(port: int = 0, table: Table | None = None) -> PlaygroundServer:
    """A playground server on ``127.0.0.1:port`` (0: a free port), not yet serving."""
    return PlaygroundServer(port, table)


# ---------------------------------------------------------------- the handler


class _Handler(BaseHTTPRequestHandler):
    server: PlaygroundServer
    protocol_version = "HTTP/1.1"
    server_version = "chainrule-playground"
    timeout = 60  # a client that stops reading cannot hold a thread for ever

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the terminal is the user's
        pass

    # ------------------------------------------------------------ replies

    def _send(self, status: int, body: bytes, content_type: str, extra: dict | None = None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in {**_HEADERS, **(extra or {})}.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, value: Any, status: int = 200) -> None:
        self._send(status, json.dumps(value).encode(), "application/json")

    def _error(self, status: int, message: str) -> None:
        self._json({"error": message}, status)

    # ------------------------------------------------------------ checks

    def _check_host(self) -> None:
        host = self.headers.get("Host", "")
        if host not in self.server.hosts:
            raise RequestError(
                HTTPStatus.FORBIDDEN,
                f"refused: Host {host!r} is not this server's local address "
                f"({' or '.join(sorted(self.server.hosts))})",
            )
        site = self.headers.get("Sec-Fetch-Site")
        if site == "cross-site":
            raise RequestError(HTTPStatus.FORBIDDEN, "refused: a request from another site")

    def _body(self) -> Any:
        origin = self.headers.get("Origin")
        if origin is not None and origin not in self.server.origins:
            raise RequestError(
                HTTPStatus.FORBIDDEN, f"refused: a request from another origin ({origin})"
            )
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise RequestError(
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                f"the body must be application/json; received {content_type or 'none'}",
            )
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            raise RequestError(HTTPStatus.LENGTH_REQUIRED, "a Content-Length header is needed")
        if int(length) > MAX_BODY:
            raise RequestError(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"the request is {int(length):,} bytes; the most is {MAX_BODY:,} (CSV files "
                f"up to {MAX_CSV_BYTES:,} bytes)",
            )
        data = self.rfile.read(int(length))
        try:
            return json.loads(data or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RequestError(
                HTTPStatus.BAD_REQUEST, f"the body is not valid JSON ({exc})"
            ) from None

    def _handle(self, route) -> None:
        try:
            self._check_host()
            route()
        except RequestError as exc:
            self.close_connection = True  # a body it refused may be left unread
            self._error(exc.status, exc.message)
        except (ConfigError, TableError) as exc:
            self._error(HTTPStatus.BAD_REQUEST, str(exc))
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True  # the page went away: nothing to answer
        except Exception as exc:  # a bug: answer, say so, keep serving
            traceback.print_exc()
            try:
                self._error(
                    HTTPStatus.INTERNAL_SERVER_ERROR,
                    f"internal error ({type(exc).__name__}: {exc}); this is a bug in chainrule",
                )
            except OSError:
                self.close_connection = True

    # ------------------------------------------------------------ GET

    def do_GET(self) -> None:
        self._handle(self._get)

    def _get(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        path = url.path
        if path == "/":
            path = "/static/index.html"
        if path.startswith("/static/"):
            name = path[len("/static/") :]
            if name not in _STATIC:
                raise RequestError(HTTPStatus.NOT_FOUND, f"no such file: {name}")
            body = (resources.files("chainrule.playground") / "static" / name).read_bytes()
            self._send(200, body, _STATIC[name])
        elif path == "/api/stream":
            self._stream(query)
        elif path == "/api/export":
            self._export(query)
        elif path == "/api/setup":
            self._json(self.server.session(query.get("session", [None])[0]).describe())
        elif path == "/api/datasets":
            self._json(_thumbnails())
        elif path == "/favicon.ico":
            self._send(204, b"", "image/x-icon")
        else:
            raise RequestError(HTTPStatus.NOT_FOUND, f"no such page: {url.path}")

    def _stream(self, query: dict[str, list[str]]) -> None:
        session = self.server.session(query.get("session", [None])[0])
        fps_text = query.get("fps", [str(MAX_FPS)])[0]
        if not fps_text.isdigit() or not 1 <= int(fps_text) <= MAX_FPS:
            raise RequestError(
                HTTPStatus.BAD_REQUEST,
                f"fps must be a whole number from 1 to {MAX_FPS}; received {fps_text!r}",
            )
        interval = 1.0 / int(fps_text)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        for key, value in _HEADERS.items():
            self.send_header(key, value)
        self.end_headers()
        self.close_connection = True
        seen, history_sent = -1, -1
        with _counting(session):
            while not self.server.closing.is_set() and session is self.server.sessions.get(
                query["session"][0]
            ):
                started = time.monotonic()
                version, frame = session.wait_frame(seen, KEEPALIVE)
                if frame is None:
                    self.wfile.write(b": keep-alive\n\n")
                    self.wfile.flush()
                    continue
                seen = version
                message = dict(frame)
                if history_sent != frame["generation"]:  # the whole chart once per network
                    with session._cond:
                        message["history"] = list(session.history)
                    history_sent = frame["generation"]
                data = json.dumps(message, allow_nan=False).encode()
                self.wfile.write(b"data: " + data + b"\n\n")
                self.wfile.flush()
                session.last_seen = time.monotonic()
                rest = interval - (time.monotonic() - started)
                if rest > 0:
                    time.sleep(rest)  # a slow page gets fewer frames, never a backlog

    def _export(self, query: dict[str, list[str]]) -> None:
        session = self.server.session(query.get("session", [None])[0])
        what = query.get("what", [""])[0]
        if what == "command":
            self._json(session.command())
        elif what == "data":
            body = session.data_csv().encode()
            self._send(
                200,
                body,
                "text/csv; charset=utf-8",
                {"Content-Disposition": 'attachment; filename="playground-data.csv"'},
            )
        elif what == "model":
            body = _model_bytes(session)
            self._send(
                200,
                body,
                "application/octet-stream",
                {"Content-Disposition": 'attachment; filename="playground-model.npz"'},
            )
        else:
            raise RequestError(
                HTTPStatus.BAD_REQUEST, f"what must be command, data or model; received {what!r}"
            )

    # ------------------------------------------------------------ POST

    def do_POST(self) -> None:
        self._handle(self._post)

    def _post(self) -> None:
        path = urlsplit(self.path).path
        routes = {
            "/api/session": self._new_session,
            "/api/config": self._config,
            "/api/control": self._control,
            "/api/upload": self._upload,
            "/api/trace": self._trace,
        }
        if path not in routes:
            raise RequestError(HTTPStatus.NOT_FOUND, f"no such action: {path}")
        body = self._body()
        if not isinstance(body, dict):
            raise RequestError(HTTPStatus.BAD_REQUEST, "the body must be a JSON object")
        routes[path](body)

    def _new_session(self, body: dict) -> None:
        key, session = self.server.new_session(body.get("config"))
        self._json({"session": key, **session.describe()})

    def _config(self, body: dict) -> None:
        session = self.server.session(body.get("session"))
        self._json(session.configure(body.get("config")))

    def _control(self, body: dict) -> None:
        session = self.server.session(body.get("session"))
        session.control(body.get("action"))
        self._json({"playing": session.playing, **session.describe()})

    def _upload(self, body: dict) -> None:
        session = self.server.session(body.get("session"))
        text, name = body.get("text"), body.get("name", "data.csv")
        if not isinstance(text, str) or not isinstance(name, str):
            raise RequestError(
                HTTPStatus.BAD_REQUEST, "an upload is {session, name, text}: the file's text"
            )
        table = read_table(text.encode("utf-8"), name[:200])
        session.set_table(table)
        self._json({"table": table.describe(), "suggested": _table_defaults(table)})

    def _trace(self, body: dict) -> None:
        session = self.server.session(body.get("session"))
        self._json(session.trace(body))


class _counting:
    """Count a session's open streams (a session with none is paused after a while)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def __enter__(self):
        with self.session._cond:
            self.session.streams += 1

    def __exit__(self, *exc):
        with self.session._cond:
            self.session.streams -= 1
        self.session.last_seen = time.monotonic()


def _thumbnails() -> dict[str, list[list[float]]]:
    """100 points of each toy set, for the page's buttons."""
    result = {}
    for name in DATASETS:
        X, y = make_dataset(name, 100, 0.0, np.random.default_rng(0))
        result[name] = [
            [round(float(a), 2), round(float(b), 2), round(float(t), 3)]
            for (a, b), t in zip(X, y, strict=True)
        ]
    return result


def _model_bytes(session: Session) -> bytes:
    """The model file of the session's network (the last frame's weights)."""
    network = session.snapshot()
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.npz")
        network.save(path)
        with open(path, "rb") as f:
            return f.read()
