"""protocol.md section 13 is a real session: replay its C: frames and compare every D: frame with the real answer."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from registry_storage.wire import loads

from .conftest import Spawn
from .rawclient import Reply, driver_command

PROTOCOL_MD = Path(__file__).resolve().parents[2] / "protocol.md"
MOD_TIME = re.compile(rb'"mod_time":"[^"]*"')


@dataclass(frozen=True)
class DocumentedFrame:
    """One frame of the transcript: who sends it, its JSON bytes and its attachment."""

    sender: str
    message: bytes
    attachment: bytes


@dataclass(frozen=True)
class Block:
    """One code block of the transcript and whether the text after it lets its answers come in either order."""

    frames: list[DocumentedFrame]
    any_order: bool


def parse_frame(sender: str, lines: list[str]) -> DocumentedFrame:
    """A frame from its lines: header lines, an empty line, then the body (JSON followed by the attachment)."""
    empty = lines.index("")
    headers = dict(line.strip().split(": ", 1) for line in lines[:empty])
    assert len(lines) == empty + 2, f"a frame has one body line: {lines}"
    assert lines[-1].startswith("   "), lines[-1]
    body = lines[-1][3:].encode()
    length = int(headers["Content-Length"])
    attachment = body[length:]
    assert len(attachment) == int(headers.get("Attachment-Length", "0")), f"Attachment-Length of {lines}"
    message = body[:length]
    assert message.startswith(b"{"), lines[-1]
    assert message.endswith(b"}"), f"Content-Length {length} does not fit {lines[-1]}"
    return DocumentedFrame(sender, message, attachment)


def transcript() -> list[Block]:
    """The code blocks of section 13, each with the frames it shows."""
    text = PROTOCOL_MD.read_text()
    section = text[text.index("## 13. A complete session") : text.index("## Changes")]
    pieces = section.split("```")
    blocks = []
    for index in range(1, len(pieces), 2):
        frames: list[DocumentedFrame] = []
        current: list[str] = []
        sender = ""
        for line in pieces[index].strip("\n").split("\n"):
            if line[:3] in ("C: ", "D: "):
                if current:
                    frames.append(parse_frame(sender, current))
                sender, current = line[0], ["   " + line[3:]]
            else:
                current.append(line)
        frames.append(parse_frame(sender, current))
        note = pieces[index + 1] if index + 1 < len(pieces) else ""
        blocks.append(Block(frames, "either order" in note))
    return blocks


def comparable(message: bytes) -> bytes:
    return MOD_TIME.sub(b'"mod_time":"<time>"', message)


def test_the_transcript_is_well_formed() -> None:
    blocks = transcript()
    frames = [frame for block in blocks for frame in block.frames]
    assert [frame.sender for frame in frames].count("C") == 14
    assert [frame.sender for frame in frames].count("D") == 14
    assert sum(block.any_order for block in blocks) == 1


def test_the_transcript_replays_against_the_filesystem_driver(spawn: Spawn, tmp_path: Path) -> None:
    client = spawn(driver_command("filesystem", {"rootdirectory": str(tmp_path / "store")}))
    for block in transcript():
        frames = list(block.frames)
        while frames:
            sending = []
            while frames and frames[0].sender == "C":
                sending.append(frames.pop(0))
            expected = []
            while frames and frames[0].sender == "D":
                expected.append(frames.pop(0))
            for frame in sending:
                client.send_bytes(
                    b"Content-Length: %d\r\n%s\r\n%s%s"
                    % (
                        len(frame.message),
                        b"Attachment-Length: %d\r\n" % len(frame.attachment) if frame.attachment else b"",
                        frame.message,
                        frame.attachment,
                    )
                )
            answers: list[Reply] = [client.next_reply() for _ in expected]
            if block.any_order:
                answers.sort(key=lambda reply: reply.message["id"])
                expected.sort(key=lambda frame: loads(frame.message)["id"])
            for documented, answer in zip(expected, answers, strict=True):
                assert comparable(answer.raw) == comparable(documented.message)
                assert len(answer.raw) == len(documented.message)
                assert answer.attachment == documented.attachment
    assert client.wait() == 0
