"""A new cluster's own fields (a task's new_cluster or a job cluster's) and a task's libraries."""

from __future__ import annotations

from typing import Any

from agent.validation_job import dicts, section

LIBRARY_KINDS = "whl, jar, pypi, maven, cran or requirements"


def cluster_problems(c: dict[str, Any]) -> list[str]:
    """What Databricks refuses in a cluster spec. A policy may supply what is missing: its fixed values
    always (so the size), its defaults with apply_policy_default_values (so the Spark version too)."""
    out = []
    policy = bool(c.get("policy_id"))
    policy_defaults = policy and c.get("apply_policy_default_values") is True
    if not c.get("spark_version") and not policy_defaults:
        out.append("new_cluster.spark_version is required (e.g. 15.4.x-scala2.12).")
    if not (c.get("node_type_id") or c.get("instance_pool_id") or policy):
        out.append("new_cluster needs node_type_id (or instance_pool_id).")
    workers, auto = c.get("num_workers"), c.get("autoscale")
    if workers is None and auto is None and not policy and c.get("is_single_node") is not True:
        # "Exactly 1 of virtual_cluster_size, num_workers or autoscale must be specified" (Jobs API)
        out.append(
            "new_cluster needs a size: num_workers (0 for a single-node cluster) or "
            "autoscale with min_workers and max_workers."
        )
    if workers is not None and auto is not None:
        out.append("new_cluster sets both num_workers and autoscale; use one.")
    elif _whole(workers) and workers < 0:
        out.append(f"new_cluster.num_workers cannot be negative (it is {workers}).")
    elif workers == 0 and not policy and not single_node(c):
        # "NumWorkers could be 0 only for SingleNode clusters" (Jobs API on create and reset)
        out.append(
            "new_cluster.num_workers is 0, which Databricks allows only for a single-node cluster: give "
            'it 1 or more workers, or make it single-node (spark_conf "spark.databricks.cluster.profile": '
            '"singleNode" and "spark.master": "local[*]", custom_tags "ResourceClass": "SingleNode").'
        )
    if isinstance(auto, dict):
        out.extend(_autoscale_problems(auto))
    return out


def single_node(c: dict[str, Any]) -> bool:
    """Whether the spec says it is a single-node cluster, in any of the ways Databricks reads."""
    conf, tags = section(c.get("spark_conf")), section(c.get("custom_tags"))
    return bool(
        c.get("is_single_node") is True
        or conf.get("spark.databricks.cluster.profile") == "singleNode"
        or str(conf.get("spark.master", "")).startswith("local")
        or tags.get("ResourceClass") == "SingleNode"
    )


def _autoscale_problems(auto: dict[str, Any]) -> list[str]:
    low, high = auto.get("min_workers"), auto.get("max_workers")
    if not (_whole(low) and _whole(high)):
        return [
            "new_cluster.autoscale needs both min_workers and max_workers (e.g. 1 and 4); "
            "for a fixed size use num_workers instead."
        ]
    if low > high:
        return [f"autoscale.min_workers ({low}) is larger than autoscale.max_workers ({high})."]
    if low < 0 or high < 1:
        return ["autoscale.min_workers must be 0 or more and autoscale.max_workers 1 or more."]
    return []


def library_problems(task: dict[str, Any], name: str) -> list[str]:
    out = []
    for i, lib in enumerate(dicts(task.get("libraries"))):
        kinds = [k for k, v in lib.items() if v]
        if len(kinds) != 1:
            got = f" (it has {' and '.join(kinds)})" if kinds else " (it is empty)"
            out.append(
                f"{name}: libraries[{i}] must name exactly one library{got}: one of {LIBRARY_KINDS} per "
                "entry; split it into one entry per library."
            )
    return out


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
