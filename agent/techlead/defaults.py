"""What the parser assumes when a request leaves something out; every use is reported as an assumption."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field

from agent.techlead.scan import basename


def _sizes() -> dict[str, dict]:
    return {
        "small": {"num_workers": 2},
        "medium": {"autoscale": {"min_workers": 4, "max_workers": 8}},
        "large": {"autoscale": {"min_workers": 8, "max_workers": 16}, "node_type_id": "i3.2xlarge"},
    }


@dataclass
class ParserDefaults:
    """Defaults for the offline request parser.

    Cluster sizes ("a small / medium / large cluster"), all on ``spark_version`` (15.4 LTS by default):

    - small  = 2 fixed workers on ``node_type_id`` (i3.xlarge) — also used when a request names no compute
    - medium = autoscaling 4–8 workers on ``node_type_id`` (i3.xlarge)
    - large  = autoscaling 8–16 workers on i3.2xlarge
    - "single node" = 0 workers, the driver does the work

    A node type, worker count or runtime named in the request overrides the size's value. "GPU" (or a GPU
    node type) means the GPU ML variant of the runtime, on ``gpu_node_type_id`` unless a node is named.
    The job name, when not given, comes from the first task's source (see ``job_name``).
    """

    spark_version: str = "15.4.x-scala2.12"
    node_type_id: str = "i3.xlarge"
    gpu_node_type_id: str = "g4dn.xlarge"  # when a request asks for GPUs but names no node type
    timezone: str = "UTC"
    sizes: dict[str, dict] = field(default_factory=_sizes)
    requester_email: str | None = None  # who "me" is in "email me on failure"
    warehouse_id: str | None = None  # used for SQL / dbt tasks when the request names none
    job_cluster_key: str = "main"
    environment_key: str = "default"
    environment_version: str = "2"  # serverless environment for Python, wheel and dbt tasks
    dbt_package: str = "dbt-databricks>=1.0.0,<2.0.0"

    def cluster(self, size: str = "small") -> dict:
        """A complete new_cluster for a named size."""
        spec = {"spark_version": self.spark_version, "node_type_id": self.node_type_id}
        spec.update(copy.deepcopy(self.sizes.get(size, self.sizes["small"])))
        return spec

    def job_name(self, task: dict) -> str:
        """Name a job after its first task: "/Repos/etl/ingest" → "ingest", a wheel → its package."""
        source = (
            (task.get("notebook_task") or {}).get("notebook_path")
            or (task.get("spark_python_task") or {}).get("python_file")
            or ((task.get("sql_task") or {}).get("file") or {}).get("path")
            or (task.get("python_wheel_task") or {}).get("package_name")
            or (task.get("dbt_task") or {}).get("project_directory")
        )
        if source:
            name = basename(source)
            if task.get("dbt_task") and "dbt" not in name.lower():
                return f"dbt-{name}"
            if task.get("dbt_task") and name.lower() == "dbt":
                parent = basename(source.rstrip("/").rsplit("/", 1)[0])
                return f"{parent}-dbt" if parent else name
            return name
        return task.get("task_key", "job")


LTS = {"9.1", "10.4", "11.3", "12.2", "13.3", "14.3", "15.4", "16.4", "17.3"}


def describe_cluster(spec: dict) -> str:
    """ "2 × i3.xlarge workers, Spark 15.4 LTS" — how a cluster reads in a plan."""
    node = spec.get("node_type_id") or (
        f"pool {spec['instance_pool_id']}" if spec.get("instance_pool_id") else "?"
    )
    if spec.get("autoscale"):
        a = spec["autoscale"]
        size = f"autoscaling {a.get('min_workers')}–{a.get('max_workers')} × {node} workers"
    elif spec.get("num_workers") == 0:
        size = f"single node {node}"
    else:
        size = f"{spec.get('num_workers', '?')} × {node} workers"
    version = spec.get("spark_version", "")
    m = re.match(r"(\d+\.\d+)\.x-(.*)", version)
    if m:
        kind = " ML" + (" GPU" if "gpu-ml" in m.group(2) else "") if "-ml-" in m.group(2) else ""
        version = f"Spark {m.group(1)}{kind}" + (" LTS" if m.group(1) in LTS else "")
    return f"{size}, {version}" if version else size
