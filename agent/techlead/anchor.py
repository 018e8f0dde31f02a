"""A task found in the request text, and where it sits (see `tasks`)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Anchor:
    kind: str  # notebook | python | wheel | sql | dbt | pipeline | run_job
    start: int
    end: int
    body: dict  # task fields other than task_key, depends_on and compute
    hint: str  # task key before de-duplication
    label: str  # how to name it in a sentence
    key: str = ""
    missing: list[str] = field(default_factory=list)  # questions for required pieces not given
    source: str = ""  # what identifies it in an existing job (path, pipeline id, job id)
