"""CLI start-up: median wall time of `jobagent --help`, `status` and an offline `plan` on the local
emulator, each in a fresh process, against what importing databricks-sdk alone costs (the baseline: a
start that loads the SDK). Prints plain `name: value` lines.

Each command runs RUNS times with JOBAGENT_HOME in a temporary directory. One plan runs first, untimed,
to build the docs index and the workspace cache (what every later plan on a machine finds)."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = int(os.environ.get("BENCH_STARTUP_RUNS", "5"))
REQUEST = "run /Repos/etl/ingest daily at 2am"


def cli() -> list[str]:
    """The installed `jobagent` script next to this Python, else `python -m agent.cli`."""
    script = Path(sys.executable).with_name("jobagent")
    return [str(script)] if script.exists() else [sys.executable, "-m", "agent.cli"]


def environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABRICKS_", "JOBAGENT_", "OPENAI_"))}
    # As on a user's machine: compiled modules are cached after the first run (some sandboxes set this,
    # and every start then compiles jobagent's own modules again, ~0.1 s).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(
        JOBAGENT_HOME=str(home),
        JOBAGENT_NOTES_DIR=str(home / "notes"),
        JOBAGENT_WORKSPACE="emulator",
        JOBAGENT_LLM="off",
    )
    return env


def timed(argv: list[str], env: dict[str, str], ok: tuple[int, ...] = (0,)) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    took = time.perf_counter() - t0
    if done.returncode not in ok:
        raise SystemExit(f"{' '.join(argv[-3:])} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return took


def median(argv: list[str], env: dict[str, str]) -> float:
    return statistics.median(timed(argv, env) for _ in range(RUNS))


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="jobagent-startup-") as tmp:
        env = environment(Path(tmp))
        jobagent = cli()
        figures = {
            "python_bare_s": median([sys.executable, "-c", "pass"], env),
            "import_databricks_sdk_s": median([sys.executable, "-c", "import databricks.sdk"], env),
            "help_s": median([*jobagent, "--help"], env),
            "status_empty_s": median([*jobagent, "status"], env),
        }
        timed([*jobagent, "plan", REQUEST], env)  # builds the docs index and the workspace cache
        figures["plan_s"] = median([*jobagent, "plan", REQUEST], env)
        figures["status_s"] = median([*jobagent, "status"], env)  # now with RUNS + 1 tasks
    sdk = figures["import_databricks_sdk_s"]
    print(f"launcher: {' '.join(Path(a).name for a in jobagent)}")
    print(f"runs_per_figure: {RUNS}")
    for name, value in figures.items():
        print(f"{name}: {value:.3f}")
    for name in ("help_s", "status_empty_s", "status_s", "plan_s"):
        print(f"{name.removesuffix('_s')}_vs_sdk_import_ratio: {figures[name] / sdk:.2f}")
    # `plan` needs databricks-sdk (JobSettings, the workspace client); importing it is a fixed cost that
    # depends on the SDK's size and the machine, so what jobagent adds on top is printed on its own.
    print(f"plan_beyond_sdk_import_s: {figures['plan_s'] - sdk:.3f}")


if __name__ == "__main__":
    main()
