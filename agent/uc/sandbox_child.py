"""The process Unity Catalog function bodies run in; isolation.py starts it, never imports it.

It is started fresh (`python -I`, an allow-listed environment, no inherited file descriptors), so it
holds nothing of the bot's. It reads one JSON request per line and answers one JSON line per request,
and runs each request in a fork of itself: every function starts from this same clean state, cannot
change what the next one sees, and dies with its limits. Standard library only.
"""

import ast
import contextlib
import json
import keyword
import os
import resource
import select
import signal
import sys
import textwrap
import time

MB = 1024 * 1024


def main() -> None:
    _not_dumpable()
    os.umask(0o077)
    for line in sys.stdin.buffer:
        try:
            reply = run(json.loads(line))
        except Exception as exc:  # a malformed request: say so, keep serving
            reply = {"ok": False, "kind": "failed", "error": f"runner: {type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


def run(request: dict) -> dict:
    """Fork, run the function in the child under its limits, collect its answer within the deadline."""
    read_end, write_end = os.pipe()
    runner = os.getpid()
    pid = os.fork()
    if pid == 0:  # the function's process
        status = 1
        try:
            os.close(read_end)
            os.setpgid(0, 0)
            _die_with(runner)
            _answer(write_end, _call(request, write_end))
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    with contextlib.suppress(OSError):
        os.setpgid(pid, pid)  # also here, so a kill on timeout cannot race the child's own setpgid
    try:
        return _collect(pid, read_end, float(request["timeout"]), 64 + 12 * int(request["max_chars"]))
    finally:
        os.close(read_end)


def _call(request: dict, answer_fd: int) -> dict:
    """In the function's process: drop what it must not touch, set limits, build and call it."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):  # the runner's pipes stay out of reach: no forged answers on its stdout
        os.dup2(null, fd)
    os.closerange(3, answer_fd)
    os.closerange(answer_fd + 1, 4096)
    _limits(request)
    try:
        function = _build(request["params"], request["body"])
        result = function(**request["args"])
        if hasattr(result, "__await__"):
            import asyncio

            result = asyncio.run(result)
        text = "" if result is None else str(result)
    except BaseException as exc:  # noqa: BLE001 (SystemExit and the like are the function's failure too)
        return {"ok": False, "kind": "failed", "error": _describe(exc)}
    cap = int(request["max_chars"])
    return {"ok": True, "value": text[:cap], "length": len(text)}


def _limits(request: dict) -> None:
    cpu = int(request["cpu"])
    limits = [
        (resource.RLIMIT_CPU, cpu, cpu + 1),  # SIGXCPU at the soft limit, SIGKILL at the hard one
        (resource.RLIMIT_AS, int(request["memory_mb"]) * MB, int(request["memory_mb"]) * MB),
        (resource.RLIMIT_FSIZE, int(request["file_mb"]) * MB, int(request["file_mb"]) * MB),
        (resource.RLIMIT_CORE, 0, 0),
    ]
    if request.get("no_processes"):
        limits.append((resource.RLIMIT_NPROC, 0, 0))  # no subprocesses or threads (not enforced for root)
    for kind, soft, hard in limits:
        try:
            resource.setrlimit(kind, (soft, hard))
        except (ValueError, OSError):
            if kind != resource.RLIMIT_NPROC:
                raise


def _build(params: list, body: str):
    """The function from its body and parameter names, built as a syntax tree: a name is never parsed
    as source, so it cannot carry code even if a refused definition got this far."""
    for name in params:
        if not (
            isinstance(name, str)
            and name.isascii()
            and name.isidentifier()
            and not keyword.iskeyword(name)
            and not (name.startswith("__") and name.endswith("__"))
        ):
            raise ValueError(f"parameter name {name!r} is not a plain identifier")
    tree = ast.parse(textwrap.dedent(body or ""), "<unity catalog function>")
    arguments = ast.arguments(
        posonlyargs=[],
        args=[ast.arg(arg=name) for name in params],
        vararg=None,
        kwonlyargs=[],
        kw_defaults=[],
        kwarg=None,
        defaults=[],
    )
    fields = {
        "name": "uc_function",
        "args": arguments,
        "body": tree.body or [ast.Pass()],
        "decorator_list": [],
    }
    if "type_params" in ast.FunctionDef._fields:
        fields["type_params"] = []
    module = ast.fix_missing_locations(ast.Module(body=[ast.FunctionDef(**fields)], type_ignores=[]))
    namespace: dict = {"__name__": "uc_function"}
    exec(compile(module, "<unity catalog function>", "exec"), namespace)
    return namespace["uc_function"]


def _describe(exc: BaseException) -> str:
    try:
        message = str(exc)
    except BaseException:  # noqa: BLE001
        message = ""
    name = type(exc).__name__
    return (f"{name}: {message}" if message else name)[:2000]


def _answer(fd: int, reply: dict) -> None:
    try:
        data = (json.dumps(reply) + "\n").encode()
    except (TypeError, ValueError):
        data = b'{"ok": false, "kind": "failed", "error": "the result is not text"}\n'
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _collect(pid: int, fd: int, timeout: float, max_bytes: int) -> dict:
    deadline = time.monotonic() + timeout
    chunks, size = [], 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            _end(pid)
            return {"ok": False, "kind": "timeout", "error": f"did not finish within {timeout:g} s"}
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        data = os.read(fd, 65536)
        if not data:
            break
        size += len(data)
        if size > max_bytes:
            _end(pid)
            return {"ok": False, "kind": "failed", "error": "the answer was larger than allowed"}
        chunks.append(data)
    status = _end(pid)
    try:
        return json.loads(b"".join(chunks))
    except ValueError:
        if os.WIFSIGNALED(status):
            stopped = f"stopped by {_signal(os.WTERMSIG(status))} (CPU or memory limit)"
            return {"ok": False, "kind": "failed", "error": stopped}
        return {"ok": False, "kind": "failed", "error": "it ended without an answer"}


def _end(pid: int) -> int:
    """Kill whatever is left of the function's process group, then reap the function -> wait status."""
    with contextlib.suppress(OSError):
        os.killpg(pid, signal.SIGKILL)
    return os.waitpid(pid, 0)[1]


def _signal(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _die_with(runner: int) -> None:
    """Be killed when the runner goes, even while asleep: nobody else would end this process."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != runner:  # it went before the line above
        os._exit(1)


def _not_dumpable() -> None:
    """Functions forked from here may not ptrace this process or read its /proc files (Linux)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0
    except (OSError, AttributeError):
        pass


if __name__ == "__main__":
    main()
