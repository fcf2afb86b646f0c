"""The pipes between the grader and a sandboxed submission.

Messages are length-prefixed. The child's replies are ``torch.save`` payloads, which the grader
reads with ``torch.load(weights_only=True)``: only tensors, numbers, strings, lists, tuples and
dicts can be decoded, so a submission can send wrong answers but never an object that runs code in
the grader or pretends to be something it is not. The grader's requests are pickles (``send_request``):
only the grader holds the write end of the request pipe, and the child runs the student's code
anyway, so there is nothing to guard there, and a probe's arguments (a beam test's table of
thousands of log-probabilities) cost a C pickle instead of ``torch.save``'s per-object callback and
the safe loader's Python unpickler. A progress note (which statement the child is running) is a
bare header with its top bit set: loading 100k statements costs 100k small writes, not 100k
``torch.save`` calls.
"""
from __future__ import annotations

import io
import os
import pickle
import select
import struct
import time

HEADER = struct.Struct("!Q")
MAX_MESSAGE_BYTES = 512 * 1024 * 1024
PROGRESS = 1 << 63


class ChannelClosed(Exception):
    """The other end died, or sent something that is not a message."""


class ChannelTimeout(Exception):
    """No message arrived in time."""


def send(fd: int, message: dict) -> None:
    import torch

    buffer = io.BytesIO()
    torch.save(message, buffer)
    payload = buffer.getvalue()
    _write_all(fd, HEADER.pack(len(payload)) + payload)


def send_request(fd: int, message: dict) -> None:
    """The grader's side: a request for the child (see the module docstring)."""
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    _write_all(fd, HEADER.pack(len(payload)) + payload)


def receive_request(fd: int) -> dict:
    """The child's side: the next request from the grader."""
    size = HEADER.unpack(_read_exactly(fd, HEADER.size, None))[0]
    return pickle.loads(_read_exactly(fd, size, None))


def send_progress(fd: int, index: int) -> None:
    """Tell the grader which statement runs now (``{"op": "progress", "index": index}``)."""
    _write_all(fd, HEADER.pack(PROGRESS | index))


def receive(fd: int, timeout: float | None = None) -> dict:
    """The next message, decoded safely; raises ChannelTimeout or ChannelClosed."""
    deadline = None if timeout is None else time.monotonic() + timeout
    size = HEADER.unpack(_read_exactly(fd, HEADER.size, deadline))[0]
    if size & PROGRESS:
        return {"op": "progress", "index": size & ~PROGRESS}
    import torch

    if size > MAX_MESSAGE_BYTES:
        raise ChannelClosed(f"message of {size} bytes is over the limit")
    payload = _read_exactly(fd, size, deadline)
    try:
        message = torch.load(io.BytesIO(payload), weights_only=True)
    except Exception as error:  # anything undecodable is treated as a dead peer
        raise ChannelClosed(f"undecodable message ({type(error).__name__})") from None
    if not isinstance(message, dict):
        raise ChannelClosed("message is not a dict")
    return message


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except (BrokenPipeError, OSError) as error:
            raise ChannelClosed(str(error)) from None
        view = view[written:]


def _read_exactly(fd: int, size: int, deadline: float | None) -> bytes:
    chunks, remaining = [], size
    while remaining:
        wait = None if deadline is None else max(0.0, deadline - time.monotonic())
        ready, _, _ = select.select([fd], [], [], wait)
        if not ready:
            raise ChannelTimeout()
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            raise ChannelClosed("the process closed its end")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)
