"""Run every benchmark script in this folder, one process each, and print their figures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

if __name__ == "__main__":
    wanted = sys.argv[1:]
    for script in sorted(HERE.glob("bench_*.py")):
        if wanted and not any(w in script.stem for w in wanted):
            continue
        print(f"== {script.stem}", flush=True)
        subprocess.run([sys.executable, str(script)], check=False)
