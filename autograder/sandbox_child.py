"""The sandboxed side: runs a submission's definitions, then the probes the grader sends.

Started by ``autograder.sandbox`` in its box (``autograder.fork_start``): served directly in a
fork of the grader, or as ``python -m autograder.sandbox_child REQUEST_FD REPLY_FD``. It computes and reports plain data; it never judges.
Everything here may be tampered with by the student code it runs, which is why the grading
process trusts nothing it sends beyond being data.
"""
from __future__ import annotations

import builtins
import math
import os
import sys


def main(request_fd: int, reply_fd: int) -> None:
    import torch

    from autograder import channel
    from coursekit.testing import student_error_message, to_data

    torch.set_num_threads(1)
    namespace: dict = {"__name__": "__main__", "__builtins__": builtins}
    while True:
        try:
            request = channel.receive_request(request_fd)
        except channel.ChannelClosed:
            os._exit(0)
        if request["op"] == "load":
            errors = load(request["statements"], namespace, reply_fd)
            channel.send(reply_fd, {"op": "loaded", "errors": errors,
                                    "defined": sorted(k for k in namespace if not k.startswith("__"))})
        elif request["op"] == "run":
            channel.send(reply_fd, run_probe(request, namespace, to_data, student_error_message))
        else:
            os._exit(0)


def load(statements: list, namespace: dict, reply_fd: int) -> list:
    """Execute the kept statements in order; report each one's start so a hang can be pinned."""
    from autograder import channel
    from coursekit.notebook import compile_statement
    from coursekit.testing import student_error_message

    errors = []
    for index, cell, first_line, source, names, excluded in statements:
        if excluded:  # it hung or crashed the process before: its names stay undefined
            for name in names:
                namespace.pop(name, None)
            continue
        channel.send_progress(reply_fd, index)
        try:
            exec(compile_statement(source, cell, first_line), namespace)
        except BaseException as error:  # noqa: BLE001 - SystemExit and KeyboardInterrupt too
            errors.append([index, student_error_message(error)])
    return errors


def run_probe(request: dict, namespace: dict, to_data, student_error_message) -> dict:
    """Define the probe from its source, call it on the namespace, return its result as data."""
    import torch

    probe_globals = {"__builtins__": builtins, "torch": torch, "math": math}
    try:
        exec(compile(request["source"], f"<probe {request['name']}>", "exec"), probe_globals)
        torch.manual_seed(request["seed"])
        result = probe_globals[request["name"]](namespace, *request["args"])
        return {"op": "result", "ok": True, "value": to_data(result)}
    except BaseException as error:  # noqa: BLE001 - report, never die
        message = student_error_message(error)
        memory = isinstance(error, MemoryError) or "can't allocate memory" in str(error)
        return {"op": "result", "ok": False, "message": message, "memory": memory}


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
