"""Unity Catalog function bodies run here: in a child process started fresh, never in or forked from the bot.

The client's own modes do not isolate: "local" executes the body in the bot and "sandbox" forks the bot,
so a function sees the bot's environment (DATABRICKS_TOKEN, SLACK_*), every object in its memory and
every open socket; and both build `def f(<params>):` from stored names, so a name carrying code runs in
the bot. Here the child is `python -I sandbox_child.py`: exec'd, with an allow-listed environment, a
private temporary HOME and working directory, no inherited file descriptors, its own session. It forks
once per call (milliseconds), so each function starts from the same clean state, under CPU, memory,
file-size (and in sandbox mode, process) limits and a wall-clock deadline. A session keeps one child,
started on its first call and again whenever one dies.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agent.uc.config import UCConfig

log = logging.getLogger(__name__)
CHILD = Path(__file__).with_name("sandbox_child.py")
ALLOWED_ENV = ("PATH", "LANG", "LANGUAGE", "TZ", "TZDIR")  # and LC_*; nothing else is passed on
FILE_MB = 64  # largest file a function may write
REPLY_MARGIN_S = 5.0  # the child enforces the deadline; this is for a child that stopped answering
MAX_REPLY = 1024 * 1024


def child_env(env: Mapping[str, str], home: str) -> dict[str, str]:
    """The child's entire environment: PATH, locale and time zone from ours, HOME and TMPDIR its own."""
    kept = {k: v for k, v in env.items() if k in ALLOWED_ENV or k.startswith("LC_")}
    return {"PATH": os.defpath, **kept, "HOME": home, "TMPDIR": home}


class FunctionRunner:
    """Runs function bodies in the isolated child; one call at a time (the child answers in order)."""

    def __init__(self, config: UCConfig):
        self.config = config
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._home: str | None = None

    def call(self, params: list[str], body: str, args: dict[str, Any], max_chars: int) -> dict[str, Any]:
        """-> {"ok": True, "value", "length"} or {"ok": False, "kind": "failed"|"timeout", "error"}."""
        request = {
            "params": params,
            "body": body,
            "args": args,
            "timeout": self.config.timeout_s,
            "cpu": self.config.cpu_s,
            "memory_mb": self.config.memory_mb,
            "file_mb": FILE_MB,
            "no_processes": self.config.execution == "sandbox",
            "max_chars": max_chars,
        }
        line = (json.dumps(request, default=str) + "\n").encode()
        with self._lock:
            try:
                proc = self._running()
                assert proc.stdin is not None
                proc.stdin.write(line)
                proc.stdin.flush()
                return self._reply(proc, self.config.timeout_s + REPLY_MARGIN_S)
            except (OSError, ValueError, TimeoutError) as exc:
                reason = self._last_words() or str(exc)
                self._stop()
                return {"ok": False, "kind": "failed", "error": f"the function runner stopped ({reason})"}

    def close(self) -> None:
        with self._lock:
            self._stop()

    def _running(self) -> subprocess.Popen[bytes]:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        self._stop()
        _not_dumpable()
        self._home = tempfile.mkdtemp(prefix="jobagent-uc-")
        with open(Path(self._home, ".runner-errors"), "wb") as errors:
            self._proc = subprocess.Popen(
                [sys.executable, "-I", str(CHILD)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors,
                env=child_env(os.environ, self._home),
                cwd=self._home,
                close_fds=True,
                start_new_session=True,  # Ctrl-C in a terminal is for the bot, which stops the child
                bufsize=0,
            )
        log.debug("function runner started (pid %s, home %s)", self._proc.pid, self._home)
        return self._proc

    def _reply(self, proc: subprocess.Popen[bytes], timeout: float) -> dict[str, Any]:
        assert proc.stdout is not None
        fd, data = proc.stdout.fileno(), b""
        deadline = time.monotonic() + timeout
        while not data.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no answer within {timeout:g} s")
            if select.select([fd], [], [], left)[0]:
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise OSError("it exited")
                data += chunk
                if len(data) > MAX_REPLY:
                    raise ValueError("its answer was too large")
        reply = json.loads(data)
        if not isinstance(reply, dict):
            raise ValueError("its answer was not an object")
        return reply

    def _last_words(self) -> str:
        """The last line the child wrote to stderr (it only writes there when it breaks)."""
        try:
            lines = Path(self._home or "", ".runner-errors").read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return lines[-1][:300] if lines else ""

    def _stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            for pipe in (proc.stdin, proc.stdout):
                with contextlib.suppress(OSError):
                    pipe and pipe.close()
            try:
                proc.wait(timeout=1)  # it leaves on end of input
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._home:
            shutil.rmtree(self._home, ignore_errors=True)
            self._home = None


def _not_dumpable() -> None:
    """Mark the bot non-dumpable (Linux): a same-user process, such as a function, can then neither
    read /proc/<bot>/environ or /proc/<bot>/mem nor ptrace it. Root can, whatever this says."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0
    except (OSError, AttributeError):
        pass
