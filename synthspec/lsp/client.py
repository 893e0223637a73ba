"""A minimal LSP client over a pair of byte streams: what the tests and benchmarks/lsp_latency.py use.

JSON-RPC with `Content-Length` framing, read by a background thread so that every wait has a
timeout (a hung server fails a test instead of blocking it).  Requests the server sends to the
client (`client/registerCapability`, `workspace/configuration` ...) are answered with `null`.
Each notification keeps the time it arrived (`time.perf_counter`), for latency measurements.

Standard library only.  It is not an editor integration and checks nothing about the server.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO


class ClientError(Exception):
    """The server answered with an error, closed the stream or did not answer in time."""


@dataclass
class Note:
    """A notification from the server and when it arrived."""

    method: str
    params: Any
    at: float


class Client:
    def __init__(self, reader: BinaryIO, writer: BinaryIO, process: subprocess.Popen | None = None) -> None:
        self.reader, self.writer, self.process = reader, writer, process
        self._ids = itertools.count(1)
        self._lock = threading.Condition()
        self._responses: dict[int, dict] = {}
        self._notes: list[Note] = []
        self._closed = False
        self._stderr: list[bytes] = []
        self._thread = threading.Thread(target=self._read_loop, name="lsp-client-reader", daemon=True)
        self._thread.start()
        if process is not None and process.stderr is not None:
            threading.Thread(target=self._drain, args=(process.stderr,), daemon=True).start()

    @classmethod
    def spawn(cls, argv: list[str], **popen) -> "Client":
        """Start the server `argv` (e.g. `[python, "-m", "synthspec.cli", "lsp"]`) and talk to it over its stdio."""
        process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen)
        return cls(process.stdout, process.stdin, process)

    # ---- wire ------------------------------------------------------------------------------------

    def _send(self, message: dict) -> None:
        body = json.dumps(message).encode("utf-8")
        self.writer.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.writer.flush()

    def _read_message(self) -> dict | None:
        length = None
        while True:
            line = self.reader.readline()
            if not line:
                return None
            line = line.strip()
            if not line:
                break
            name, _, value = line.decode("ascii").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        if length is None:
            raise ClientError("a message without Content-Length")
        body = b""
        while len(body) < length:
            chunk = self.reader.read(length - len(body))
            if not chunk:
                return None
            body += chunk
        return json.loads(body.decode("utf-8"))

    def _read_loop(self) -> None:
        try:
            while True:
                message = self._read_message()
                if message is None:
                    break
                arrived = time.perf_counter()
                if "method" in message and "id" in message:  # a request from the server
                    self._send({"jsonrpc": "2.0", "id": message["id"], "result": None})
                    continue
                with self._lock:
                    if "method" in message:
                        self._notes.append(Note(message["method"], message.get("params"), arrived))
                    else:
                        self._responses[message.get("id")] = message
                    self._lock.notify_all()
        except (OSError, ValueError, ClientError):
            pass
        finally:
            with self._lock:
                self._closed = True
                self._lock.notify_all()

    def _drain(self, stream) -> None:
        for line in iter(stream.readline, b""):
            self._stderr.append(line)

    @property
    def stderr(self) -> str:
        return b"".join(self._stderr).decode("utf-8", "replace")

    # ---- protocol --------------------------------------------------------------------------------

    def notify(self, method: str, params: Any = None) -> None:
        self._send({"jsonrpc": "2.0", "method": method, **({"params": params} if params is not None else {})})

    def request(self, method: str, params: Any = None, timeout: float = 10.0) -> Any:
        """Send a request and wait for its result; an error answer raises ClientError."""
        ident = next(self._ids)
        self._send({"jsonrpc": "2.0", "id": ident, "method": method, **({"params": params} if params is not None else {})})
        deadline = time.monotonic() + timeout
        with self._lock:
            while ident not in self._responses:
                left = deadline - time.monotonic()
                if self._closed or left <= 0:
                    raise ClientError(f"no answer to {method} within {timeout} s" + ("; the server closed" if self._closed else ""))
                self._lock.wait(left)
            answer = self._responses.pop(ident)
        if "error" in answer:
            raise ClientError(f"{method}: {answer['error']}")
        return answer.get("result")

    def wait(self, method: str, where: Callable[[Any], bool] | None = None, timeout: float = 10.0) -> Note:
        """The first notification `method` not yet taken (and matching `where`); waits up to `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                for i, note in enumerate(self._notes):
                    if note.method == method and (where is None or where(note.params)):
                        return self._notes.pop(i)
                left = deadline - time.monotonic()
                if self._closed or left <= 0:
                    raise ClientError(f"no {method} within {timeout} s" + ("; the server closed" if self._closed else ""))
                self._lock.wait(left)

    def notes(self, method: str) -> list[Note]:
        """Every notification `method` received and not yet taken (without waiting)."""
        with self._lock:
            return [n for n in self._notes if n.method == method]

    def initialize(self, root_uri: str | None = None, capabilities: dict | None = None, timeout: float = 30.0) -> dict:
        result = self.request("initialize", {"processId": None, "rootUri": root_uri, "capabilities": capabilities or {}},
                              timeout=timeout)
        self.notify("initialized", {})
        return result

    def shutdown(self, timeout: float = 10.0) -> int | None:
        """shutdown, exit, and the server process's exit status (None when it is not a process)."""
        self.request("shutdown", timeout=timeout)
        self.notify("exit")
        if self.process is None:
            return None
        try:
            return self.process.wait(timeout=timeout)
        finally:
            self.close()

    def close(self) -> None:
        for stream in (self.writer, self.reader):
            try:
                stream.close()
            except OSError:
                pass
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
