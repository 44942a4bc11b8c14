"""A scriptable driver executable for the proxy tests: it speaks the protocol and misbehaves on request.

Run as ``python fake_driver.py '<json parameters>'``. It serves requests one at a time from an in-memory store and
understands these parameters (merged with the parameters file, as protocol.md section 2 says):

- ``name``: the driver name it announces (default ``fake``);
- ``version``: the protocol version it answers in the handshake, whatever was offered (by default it chooses by
  the version rule, implementing 1.0 only: no pages, no ``start_after``, no ``put_content.open``);
- ``crash_in``: a method; on its ``crash_after``-th call (default 1) the driver logs an ERROR line and exits with
  ``exit_status`` (default 7) without answering;
- ``hang_in``: a method that never answers (the driver stops reading until it is signalled);
- ``log``: lines written to stderr when ``ping`` is served, before its answer;
- ``limits``: the receive limits it announces in the handshake;
- ``get_content_limit``: ``get_content`` of more bytes answers 1009, as over the client's attachment limit;
- ``pidfile``: a file it writes its process id to when it starts.

``get_content("/fake/parameters")`` answers the parameters it received as JSON, and ``get_content("/fake/events")``
the streams it was asked to cancel, so tests can see what reached the driver.
"""

from __future__ import annotations

import os
import sys
import threading
from datetime import datetime, timezone
from typing import Any

import orjson

from registry_storage.wire.frames import Frame, FrameDecoder, encode_frame
from registry_storage.wire.handshake import choose_version

SPOKEN = "1.0"
"""The protocol version this driver implements: it is the 1.0-only driver of the cross-version tests."""


def _parameters() -> dict[str, Any]:
    given: dict[str, Any] = orjson.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    location = os.environ.get("REGISTRY_STORAGE_PARAMETERS_FILE")
    if location:
        with open(location, "rb") as secrets:
            given.update(orjson.loads(secrets.read()))
    return given


class FakeDriver:
    """The request handlers; :meth:`serve` runs the loop on stdin/stdout."""

    def __init__(self, parameters: dict[str, Any]) -> None:
        self.parameters = parameters
        self.name = str(parameters.get("name", "fake"))
        self.files: dict[str, bytes] = {"/fake/parameters": orjson.dumps(parameters)}
        self.streams: dict[int, dict[str, Any]] = {}
        self.cancelled: list[int] = []
        self.calls: dict[str, int] = {}
        self.next_stream = 1
        self.out = os.fdopen(os.dup(1), "wb", buffering=0)
        os.dup2(2, 1)

    def send(self, request_id: object, result: object = None, attachment: bytes = b"", error: Any = None) -> None:
        body: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id}
        if error is None:
            body["result"] = result
        else:
            body["error"] = error
        for piece in encode_frame(orjson.dumps(body), attachment):
            self.out.write(piece)

    def not_found(self, path: str) -> dict[str, Any]:
        data = {"type": "PathNotFoundError", "driver": self.name, "path": path}
        return {"code": 1001, "message": f"path not found: {path}", "data": data}

    def misbehave(self, method: str) -> None:
        self.calls[method] = self.calls.get(method, 0) + 1
        if method == self.parameters.get("crash_in") and self.calls[method] >= int(
            self.parameters.get("crash_after", 1)
        ):
            sys.stderr.write(f"ERROR fake: crashing in {method}\n")
            sys.stderr.flush()
            os._exit(int(self.parameters.get("exit_status", 7)))
        if method == self.parameters.get("hang_in"):
            threading.Event().wait()

    def handle(self, frame: Frame) -> None:
        message = orjson.loads(frame.message)
        method, params, request_id = message.get("method"), message.get("params") or {}, message.get("id")
        if request_id is None:
            return  # a notification ($/cancel): requests are served one at a time, so there is nothing queued
        self.misbehave(method)
        handler = getattr(self, "do_" + method.replace(".", "_"), None)
        if handler is None:
            error = {"code": -32601, "message": "Method not found", "data": {"type": "ProtocolError", "reason": method}}
            self.send(request_id, error=error)
            return
        handler(request_id, params, frame.attachment)

    def do_handshake(self, request_id: object, params: dict[str, Any], _: bytes) -> None:
        chosen = self.parameters.get("version") or choose_version(params.get("versions"), SPOKEN)
        if chosen is None:
            data = {"type": "IncompatibleVersionError", "driver": self.name, "offered": params.get("versions")}
            self.send(
                request_id, error={"code": 1008, "message": "no common version", "data": {**data, "chosen": None}}
            )
            return
        capabilities = {"walk": False, "cancel": False, "concurrent": True, "url_for": False}
        driver = {"name": self.name, "implementation": "fake", "version": "0"}
        limits = self.parameters.get("limits", {})
        self.send(request_id, {"version": chosen, "driver": driver, "capabilities": capabilities, "limits": limits})

    def do_ping(self, request_id: object, _params: dict[str, Any], _: bytes) -> None:
        for line in self.parameters.get("log", []):
            sys.stderr.write(line + "\n")
        sys.stderr.flush()
        self.send(request_id, {})

    def do_shutdown(self, request_id: object, _params: dict[str, Any], _: bytes) -> None:
        self.send(request_id)
        sys.exit(0)

    def do_put_content(self, request_id: object, params: dict[str, Any], attachment: bytes) -> None:
        self.files[params["path"]] = bytes(attachment)
        self.send(request_id)

    def do_get_content(self, request_id: object, params: dict[str, Any], _: bytes) -> None:
        if params["path"] == "/fake/events":
            self.files["/fake/events"] = orjson.dumps({"cancelled": self.cancelled})
        content = self.files.get(params["path"])
        if content is None:
            self.send(request_id, error=self.not_found(params["path"]))
        elif len(content) > self.parameters.get("get_content_limit", len(content)):
            data = {"type": "ProtocolError", "driver": self.name, "reason": "content over the attachment limit"}
            self.send(request_id, error={"code": 1009, "message": "content over the attachment limit", "data": data})
        else:
            self.send(request_id, {"size": len(content)}, content)

    def do_stat(self, request_id: object, params: dict[str, Any], _: bytes) -> None:
        content = self.files.get(params["path"])
        if content is None:
            self.send(request_id, error=self.not_found(params["path"]))
            return
        moment = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        self.send(request_id, {"path": params["path"], "size": len(content), "mod_time": moment, "is_dir": False})

    def open_stream(self, request_id: object, stream: dict[str, Any]) -> None:
        self.streams[self.next_stream] = stream
        self.send(request_id, {"stream": self.next_stream})
        self.next_stream += 1

    def do_read_stream_open(self, request_id: object, params: dict[str, Any], _: bytes) -> None:
        content = self.files.get(params["path"])
        if content is None:
            self.send(request_id, error=self.not_found(params["path"]))
            return
        self.open_stream(request_id, {"content": content, "position": params["offset"]})

    def do_write_stream_open(self, request_id: object, params: dict[str, Any], _: bytes) -> None:
        base = self.files.get(params["path"], b"")[: params["offset"]].ljust(params["offset"], b"\0")
        self.open_stream(request_id, {"path": params["path"], "content": bytearray(base), "written": 0})

    def unknown_stream(self, request_id: object) -> None:
        data = {"type": "ProtocolError", "driver": self.name, "reason": "unknown stream"}
        self.send(request_id, error={"code": 1009, "message": "unknown stream", "data": data})

    def do_stream_read(self, request_id: object, params: dict[str, Any], _: bytes) -> None:
        stream = self.streams.get(params["stream"])
        if stream is None:
            self.unknown_stream(request_id)
            return
        start = stream["position"]
        chunk = stream["content"][start : start + params["size"]]
        stream["position"] = start + len(chunk)
        at_end = stream["position"] >= len(stream["content"])
        if at_end:
            del self.streams[params["stream"]]
        self.send(request_id, {"eof": at_end}, chunk)

    def do_stream_write(self, request_id: object, params: dict[str, Any], attachment: bytes) -> None:
        stream = self.streams.get(params["stream"])
        if stream is None:
            self.unknown_stream(request_id)
            return
        stream["content"] += attachment
        stream["written"] += len(attachment)
        self.files[stream["path"]] = bytes(stream["content"])
        self.send(request_id)

    def do_stream_close(self, request_id: object, params: dict[str, Any], _: bytes) -> None:
        stream = self.streams.pop(params["stream"], None)
        self.send(request_id, {"written": stream["written"]} if stream and "written" in stream else None)

    def do_stream_cancel(self, request_id: object, params: dict[str, Any], _: bytes) -> None:
        self.streams.pop(params["stream"], None)
        self.cancelled.append(params["stream"])
        self.send(request_id)

    def serve(self) -> None:
        decoder = FrameDecoder()
        while True:
            data = os.read(0, 1 << 20)
            if not data:
                return
            decoder.feed(data)
            event = decoder.next_event()
            while event is not None:
                if isinstance(event, Frame):
                    self.handle(event)
                event = decoder.next_event()


def main() -> None:
    parameters = _parameters()
    if "pidfile" in parameters:
        with open(parameters["pidfile"], "w", encoding="ascii") as pidfile:
            pidfile.write(str(os.getpid()))
    FakeDriver(parameters).serve()


if __name__ == "__main__":
    main()
