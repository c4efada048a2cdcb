"""A real S3 server for the object-store tests: moto's `ThreadedMotoServer`, bound to
127.0.0.1 on a free port, with every request counted as it arrives (method, path, body
bytes), so tests can check what a writer uploaded, not only what the store ends up with.

Moto keeps its buckets in the process, so a server stopped and started again on the same
port still has them (the "server went away and came back" tests rely on this).
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator
from typing import Any, Callable

import boto3
from moto.server import ThreadedMotoServer
from tensorboard.compat.proto import event_pb2
from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

#: Credentials and region for moto (any value works) and for object_store's env lookup.
ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Request:
    def __init__(self, method: str, path: str, query: str, body_bytes: int) -> None:
        self.method, self.path, self.query, self.body_bytes = method, path, query, body_bytes

    def __repr__(self) -> str:
        return f"{self.method} {self.path}?{self.query} ({self.body_bytes} B)"


class _Counting:
    """WSGI middleware recording each request before moto answers it."""

    def __init__(self, app: Callable, log: list, lock: threading.Lock) -> None:
        self.app, self.log, self.lock = app, log, lock

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        size = int(environ.get("CONTENT_LENGTH") or 0)
        request = Request(
            environ["REQUEST_METHOD"], environ["PATH_INFO"], environ.get("QUERY_STRING", ""), size
        )
        with self.lock:
            self.log.append(request)
        return self.app(environ, start_response)


class S3Server:
    """Start/stop a loopback moto S3 server that counts requests."""

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._server: ThreadedMotoServer | None = None
        self._connections: list[socket.socket] = []

    def start(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        server.start()
        wsgi = server._server  # werkzeug's server: its requests go through `.app`
        assert wsgi is not None
        wsgi.app = _Counting(wsgi.app, self.requests, self._lock)  # type: ignore[attr-defined]
        # Connections are kept, so that stop() can cut them: a kept-alive connection
        # would otherwise go on being served after the server "stopped".
        accept = wsgi.process_request

        def process_request(request: socket.socket, address: Any) -> None:
            self._connections.append(request)
            accept(request, address)

        wsgi.process_request = process_request  # type: ignore[method-assign]
        self._server = server

    def stop(self) -> None:
        """Stops like a crashed server: no listener, every open connection cut."""
        if self._server is not None:
            wsgi = self._server._server
            self._server.stop()
            if wsgi is not None:
                wsgi.server_close()
            for connection in self._connections:
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass  # already closed
            self._connections.clear()
            self._server = None

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=ENV["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=ENV["AWS_SECRET_ACCESS_KEY"],
            region_name=ENV["AWS_DEFAULT_REGION"],
        )

    def uploads(self, bucket: str) -> list[Request]:
        """PUT requests of objects (whole objects and multipart parts, not the bucket's
        creation) into `bucket`, in order."""
        with self._lock:
            return [
                r
                for r in self.requests
                if r.method == "PUT"
                and r.path.lstrip("/").partition("/")[::2][0] == bucket
                and r.path.lstrip("/").partition("/")[2]
            ]

    def objects(self, bucket: str, prefix: str) -> list[tuple[str, bytes]]:
        """(key, bytes) of every object under `prefix`, in key order."""
        s3 = self.client()
        keys = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys += [o["Key"] for o in page.get("Contents", [])]
        return [(k, s3.get_object(Bucket=bucket, Key=k)["Body"].read()) for k in sorted(keys)]


def records(data: bytes) -> tuple[list[bytes], bool]:
    """The TFRecords of `data` (CRCs checked) and whether every byte belonged to one."""
    out, offset = [], 0
    while offset + 12 <= len(data):
        header = data[offset : offset + 8]
        if int.from_bytes(data[offset + 8 : offset + 12], "little") != masked_crc32c(header):
            return out, False
        length = int.from_bytes(header, "little")
        end = offset + 12 + length + 4
        if end > len(data):
            return out, False
        payload = data[offset + 12 : offset + 12 + length]
        if int.from_bytes(data[end - 4 : end], "little") != masked_crc32c(payload):
            return out, False
        out.append(payload)
        offset = end
    return out, offset == len(data)


def events(data: bytes) -> list[Any]:
    """The events of one object, which must be a whole event file: clean records, the
    file-version header first."""
    recs, clean = records(data)
    assert clean, "the object ends in a torn or corrupt record"
    decoded = [event_pb2.Event.FromString(r) for r in recs]
    assert decoded and decoded[0].file_version == "brain.Event:2", decoded[:1]
    return decoded[1:]


def scalar_steps(objects: list[tuple[str, bytes]]) -> Iterator[int]:
    """The step of every summary value in the objects, in order."""
    for _, data in objects:
        for event in events(data):
            for _value in event.summary.value:
                yield event.step
