"""Where a job's code comes from and what it runs with: a Git repository, libraries, Spark conf.

Read right after the entities, before any other grammar: "pandas==2.2.0", "spark.speculation=true" and
"ENV=prod" typed after a notebook would otherwise become its parameters, "tag v1.2" a job tag, a library
jar a JAR task, and a path relative to a repository ("notebooks/etl/ingest") is a task only once the
repository is known. What was read is placed later, once the tasks and the compute are known.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.techlead.compute import Conf, read_conf
from agent.techlead.git import Repo, read_repo
from agent.techlead.libraries import Libraries, read_libraries
from agent.techlead.scan import Scan


@dataclass
class Code:
    conf: Conf  # goes to parse_compute (a job cluster's spark_conf / spark_env_vars)
    libraries: Libraries  # Libraries.attach, once the tasks and the compute are known
    repo: Repo | None  # Repo.attach, right after the tasks are found

    def sources(self, anchors: list, draft) -> None:
        if self.repo is not None:
            self.repo.attach(anchors, draft)


def read_code(scan: Scan, base: dict | None) -> Code:
    conf = read_conf(scan)
    libraries = read_libraries(scan)
    return Code(conf, libraries, read_repo(scan, base))
