#!/usr/bin/env python3
"""One-command set-up: creates .venv, installs jobagent with pinned dependencies, then runs a command.

    python3 dev.py demo        # the offline demo (local Databricks emulator, no keys)
    python3 dev.py test        # the whole test suite
    python3 dev.py lint        # ruff
    python3 dev.py run ARGS    # any `jobagent` command inside the venv

Only the standard library is used here, so it works on a machine that has nothing but Python 3.11.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("JOBAGENT_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".jobagent-installed"


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for name in ("pyproject.toml", "constraints.txt"):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def ensure_venv() -> None:
    """Create the venv and install once; reinstall only when pyproject/constraints change."""
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py may be run by an older python3
        sys.exit(f"jobagent needs Python >= 3.11 (this is {sys.version.split()[0]}).")
    wanted = _fingerprint()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not (BIN / "python").exists():
        print(f"[dev] creating virtual environment in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=False).create(VENV)
    print(
        "[dev] installing jobagent and its pinned dependencies (first run takes a minute or two)", flush=True
    )
    pip = [str(BIN / "python"), "-m", "pip", "--disable-pip-version-check"]
    subprocess.run([*pip, "install", "-qq", "--upgrade", "pip"], check=True)
    subprocess.run(
        [*pip, "install", "-qq", "-c", str(ROOT / "constraints.txt"), "-e", f"{ROOT}[dev]"], check=True
    )
    STAMP.write_text(wanted)


def main(argv: list[str]) -> int:
    if not argv or argv[0] in {"-h", "--help", "help"}:
        print(__doc__)
        return 0
    command, rest = argv[0], argv[1:]
    ensure_venv()
    python = str(BIN / "python")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if command == "test":
        cmd = [python, "-m", "pytest", *rest]
    elif command == "demo":
        cmd = [str(BIN / "jobagent"), "demo", *rest]
    elif command == "lint":
        cmd = [python, "-m", "ruff", "check", str(ROOT), *rest]
    elif command == "run":
        cmd = [str(BIN / "jobagent"), *rest]
    elif command == "bench":
        cmd = [python, str(ROOT / "benchmarks" / "run_all.py"), *rest]
    else:
        print(f"unknown command {command!r}; try: python3 dev.py --help", file=sys.stderr)
        return 2
    return subprocess.run(cmd, cwd=ROOT, env=env).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
