"""A small grammar check for the Mermaid sequence diagrams the trace exports.

It accepts the subset the exporter writes (optional front-matter title, header, autonumber,
participant/actor declarations with aliases, messages with the four arrows we use) and
rejects anything Mermaid would misread: undeclared participants, raw ``;`` or ``#`` in
text, ``%%`` (a comment), empty labels.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

_DECL = re.compile(r"^(participant|actor) (?P<id>[A-Za-z][A-Za-z0-9_]*) as (?P<label>\S.*)$")
_MESSAGE = re.compile(
    r"^(?P<src>[A-Za-z][A-Za-z0-9_]*)(?P<arrow>->>|-->>|-x|--x)(?P<dst>[A-Za-z][A-Za-z0-9_]*)"
    r": (?P<text>\S.*)$"
)
_FRONT_TITLE = re.compile(r'^title: ".*"$')
_ENTITY = re.compile(r"#(?:\d+|[a-z]+);")


@dataclass(frozen=True)
class Message:
    source: str  # participant label
    arrow: str
    target: str
    text: str


@dataclass(frozen=True)
class Diagram:
    title: str | None
    participants: list[str]  # labels in declaration order
    messages: list[Message]


def _check_text(text: str, line_no: int) -> str:
    stripped = _ENTITY.sub("", text)
    if ";" in stripped or "#" in stripped:
        raise SyntaxError(f"line {line_no}: unescaped ';' or '#' in {text!r}")
    if "%%" in text:
        raise SyntaxError(f"line {line_no}: '%%' would start a comment")
    return _ENTITY.sub(lambda m: _decode_entity(m.group(0)), text)


def _decode_entity(entity: str) -> str:
    body = entity[1:-1]
    return chr(int(body)) if body.isdigit() else entity


def parse(source: str) -> Diagram:
    """Parse ``source`` or raise SyntaxError naming the first bad line."""
    lines = [line.strip() for line in source.splitlines()]
    lines = [line for line in lines if line]
    title = None
    if lines and lines[0] == "---":  # YAML front matter: only a JSON-quoted title here
        if len(lines) < 3 or lines[2] != "---" or not _FRONT_TITLE.match(lines[1]):
            raise SyntaxError("front matter must be '---', 'title: \"…\"', '---'")
        title = json.loads(lines[1][len("title: ") :])
        lines = lines[3:]
    if not lines or lines[0] != "sequenceDiagram":
        raise SyntaxError("the diagram must start with 'sequenceDiagram'")
    if len(lines) > 1 and lines[1] == "autonumber":
        del lines[1]
    labels: dict[str, str] = {}
    participants: list[str] = []
    messages: list[Message] = []
    for number, line in enumerate(lines[1:], start=2):
        declaration = _DECL.match(line)
        if declaration:
            if messages:
                raise SyntaxError(f"line {number}: declaration after the first message")
            ident = declaration.group("id")
            if ident in labels:
                raise SyntaxError(f"line {number}: {ident} declared twice")
            labels[ident] = _check_text(declaration.group("label"), number)
            participants.append(labels[ident])
            continue
        message = _MESSAGE.match(line)
        if message is None:
            raise SyntaxError(f"line {number}: not a declaration or message: {line!r}")
        for side in ("src", "dst"):
            if message.group(side) not in labels:
                raise SyntaxError(f"line {number}: undeclared participant {message.group(side)}")
        messages.append(
            Message(
                source=labels[message.group("src")],
                arrow=message.group("arrow"),
                target=labels[message.group("dst")],
                text=_check_text(message.group("text"), number),
            )
        )
    return Diagram(title=title, participants=participants, messages=messages)
