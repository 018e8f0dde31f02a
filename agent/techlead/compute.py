"""Compute words → a partial cluster spec, serverless, or an existing cluster id.

Only what the request names is returned; `complete` fills a new cluster from the defaults (and says
so), while a change to an existing job merges the partial spec into its current cluster.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from agent.techlead.defaults import ParserDefaults, describe_cluster
from agent.techlead.numbers import NUM, integer
from agent.techlead.scan import Scan

NODE = (
    r"(?:\b[a-z]{1,3}\d[a-z0-9-]*\.(?:\d*x?large|medium|small|micro|nano|metal)\b"
    r"|\bStandard_[A-Za-z0-9_]+\b|\b[a-z]\d[a-z]?-(?:standard|highmem|highcpu|ultramem|megamem"
    r"|highgpu)-\d+g?\b)"
)
CLUSTER_ID = r"\b\d{4}-\d{6}-[a-z0-9]{4,}\b"
_SIZE_WORDS = {
    "tiny": "small",
    "small": "small",
    "smallish": "small",
    "medium": "medium",
    "mid-size": "medium",
    "midsize": "medium",
    "mid-sized": "medium",
    "moderate": "medium",
    "large": "large",
    "big": "large",
    "huge": "large",
    "x-large": "large",
    "xlarge": "large",
    "extra large": "large",
    "extra-large": "large",
}
_SIZE = r"(?P<s>" + "|".join(sorted((re.escape(w) for w in _SIZE_WORDS), key=len, reverse=True)) + r")"
# GPU instance families: AWS g4dn/g5/g6/p3/p4d/p5…, Azure NC/ND/NV, GCP a2/a3/g2
GPU_NODE = re.compile(
    r"^(?:g\d[a-z]*|p\d[a-z]*)\.|^Standard_N[CDV]|^(?:a\d|g2)-(?:highgpu|megagpu|ultragpu|standard)", re.I
)
_SPARK3 = {"3.5": "15.4", "3.4": "13.3", "3.3": "12.2", "3.2": "10.4", "3.1": "9.1"}
_WORKER = r"(?:workers?|nodes?|executors?|machines|instances)\b"


@dataclass
class ComputeSpec:
    mode: str | None = None  # "cluster" | "serverless" | "existing" | None (not said)
    cluster: dict = field(default_factory=dict)  # only the ClusterSpec fields the request named
    size: str | None = None
    existing_cluster_id: str | None = None
    assumptions: list[str] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)


def parse_compute(scan: Scan, defaults: ParserDefaults) -> ComputeSpec:
    spec = ComputeSpec()
    c = spec.cluster
    m = scan.take_one(rf"\bdriver\s+(?:node\s+)?(?:type\s+)?(?:of\s+|on\s+|is\s+|=\s*|:\s*)?(?P<n>{NODE})")
    if m:
        c["driver_node_type_id"] = m.group("n")
    m = scan.take_one(
        rf"(?:\b(?:node|instance|vm|machine|worker)[\s_-]*types?(?:[\s_-]*id)?\s*(?:is|=|:|of|to)?\s*"
        rf"[`'\"]?)?(?:\b(?:on|using|with)\s+)?(?P<n>{NODE})[`'\"]?"
        r"(?:\s+(?:nodes?|instances?|machines|vms?))?"
    )
    if not m:
        m = scan.take_one(
            r"\b(?:node|instance|vm)[\s_-]*type(?:[\s_-]*id)?\s*(?:is|=|:|of|to)?\s*"
            r"[`'\"]?(?P<n>[\w.-]*\d[\w.-]*)"
        )
    if m:
        c["node_type_id"] = m.group("n")
    gpu = bool(scan.take(r"\bgpus?\b")) or bool(GPU_NODE.match(c.get("node_type_id", "")))
    _spark_version(scan, spec, gpu)
    m = scan.take_one(
        rf"\b(?:(?:on|use|using|run\s+on)\s+)?(?:the\s+|an?\s+)?"
        rf"(?:existing|all[- ]purpose|interactive|shared)\s+"
        rf"cluster\s*(?:id\s*)?(?:[:=]\s*)?[`'\"]?(?P<id>[\w-]+)?[`'\"]?"
        rf"|(?:\b(?:on|use|using)\s+)?(?:the\s+)?\bcluster(?:[\s_-]*id)?\s*[:=]?\s*"
        rf"[`'\"]?(?P<id2>{CLUSTER_ID})[`'\"]?"
        rf"|(?P<id3>{CLUSTER_ID})"
    )
    if m:
        cid = m.group("id") or m.group("id2") or m.group("id3")
        if cid and re.fullmatch(CLUSTER_ID, cid):
            spec.mode, spec.existing_cluster_id = "existing", cid
        else:
            spec.questions.append(
                "Which existing cluster? Give its cluster id (like 0123-456789-abcdefgh); "
                "a cluster name is not enough for existing_cluster_id."
            )
        return spec
    if scan.take(
        r"\bserverless\b(?!\s+(?:sql\s+)?warehouses?)(?:\s+(?:compute|mode|jobs?))?|\bno\s+cluster\b"
    ):
        spec.mode = "serverless"
        return spec
    _workers(scan, spec)
    m = scan.take_one(
        rf"\b{_SIZE}[\s-]*(?:sized?\s+)?(?:gpu\s+)?(?:job\s+)?(?:clusters?|compute|machines?|boxe?s?|setup)\b"
        rf"|\b(?:cluster|compute)(?:\s+size)?\s*(?:to|=|:|of|is|as)?\s*(?:an?\s+)?"
        rf"{_SIZE.replace('<s>', '<s2>')}\b"
        rf"|\bsize\s*(?:to|=|:|of|is)?\s*{_SIZE.replace('<s>', '<s3>')}\b"
    )
    if m:
        word = (m.group("s") or m.group("s2") or m.group("s3")).lower()
        spec.size = _SIZE_WORDS[word]
        if word in ("huge", "x-large", "xlarge", "extra large", "extra-large"):
            spec.assumptions.append(f"“{word}” mapped to the largest preset, a large cluster.")
    if scan.take(r"\bsingle[- ]node\b"):
        c.update(
            num_workers=0,
            spark_conf={"spark.databricks.cluster.profile": "singleNode", "spark.master": "local[*, 4]"},
            custom_tags={"ResourceClass": "SingleNode"},
        )
        c.pop("autoscale", None)
    m = scan.take_one(r"\b(?:instance\s+)?pool\s*(?:id\s*)?[:=]?\s*[`'\"]?(?P<p>[\w-]*\d[\w-]*)")
    if m:
        c["instance_pool_id"] = m.group("p")
    m = scan.take_one(
        r"\b(?:cluster\s+)?policy\s*(?:id\s*)?[:=]?\s*[`'\"]?(?P<p>[A-Za-z0-9-]*\d[A-Za-z0-9-]*)"
    )
    if m:
        c["policy_id"] = m.group("p")
    if scan.take(r"\b(?:no|without|disable)\s+photon\b"):
        c["runtime_engine"] = "STANDARD"
    elif scan.take(r"\b(?:with\s+|enable\s+|use\s+)?photon\b"):
        c["runtime_engine"] = "PHOTON"
    if gpu:
        _gpu(spec, defaults)
    if c or spec.size:
        spec.mode = "cluster"
    return spec


def _gpu(spec: ComputeSpec, defaults: ParserDefaults) -> None:
    """GPUs asked for: a GPU node and the GPU ML runtime, whichever the request did not name."""
    c = spec.cluster
    if not c.get("node_type_id") and not c.get("instance_pool_id"):
        c["node_type_id"] = defaults.gpu_node_type_id
        spec.assumptions.append(f"GPU nodes with no type given: {defaults.gpu_node_type_id}.")
    if not c.get("spark_version"):
        m = re.match(r"(\d+\.\d+)\.x-(?:[a-z]+-ml-)?(scala[\d.]+)$", defaults.spark_version)
        if m:
            c["spark_version"] = f"{m.group(1)}.x-gpu-ml-{m.group(2)}"
            spec.assumptions.append(f"GPU compute needs a GPU ML runtime: {m.group(1)} ML for GPU.")


def _spark_version(scan: Scan, spec: ComputeSpec, gpu: bool) -> None:
    """A runtime version; on GPU nodes (or with "GPU" said) an ML runtime is the GPU ML variant."""
    m = scan.take_one(r"\b(?P<raw>\d{1,2}\.\d{1,2}\.x-[\w.-]+)")
    if m:
        spec.cluster["spark_version"] = m.group("raw")
        return
    m = scan.take_one(
        r"\b(?:(?P<ml>ml|gpu)\s+)?(?:spark|dbr|(?:databricks\s+|db\s*)?runtime"
        r"|rt)\s*(?:version\s*)?[:=]?\s*v?"
        r"(?P<v>\d{1,2}\.\d{1,2})(?:\.x)?(?:\s*lts)?(?:\s+(?P<ml2>ml|gpu))?(?:\s*lts)?\b"
    )
    if not m:
        if scan.take(r"\blatest\s+(?:lts\s+)?(?:spark|dbr|runtime)(?:\s+lts)?\b"):
            spec.assumptions.append("“Latest” runtime: pinned to the default LTS.")
        return
    version = m.group("v")
    if version.startswith("3."):
        dbr = _SPARK3.get(version)
        if not dbr:
            spec.questions.append(
                f"Which Databricks Runtime for Spark {version}? Give a DBR version like 15.4."
            )
            return
        spec.assumptions.append(f"Apache Spark {version} ships in Databricks Runtime {dbr} LTS: used that.")
        version = dbr
    scala = "2.13" if int(version.split(".")[0]) >= 17 else "2.12"
    flavour = (m.group("ml") or m.group("ml2") or "").lower()
    if gpu and flavour in ("ml", ""):
        if not flavour:
            spec.assumptions.append(f"GPU compute needs a GPU ML runtime: {version} ML for GPU.")
        flavour = "gpu"
    middle = {"ml": "cpu-ml-", "gpu": "gpu-ml-"}.get(flavour, "")
    spec.cluster["spark_version"] = f"{version}.x-{middle}scala{scala}"


def _workers(scan: Scan, spec: ComputeSpec) -> None:
    c = spec.cluster
    m = scan.take_one(
        rf"\bauto-?scal\w*\s*(?:from\s+|between\s+)?(?P<a>{NUM})\s*(?:to|-"
        rf"|and)\s*(?P<b>{NUM})(?:\s+{_WORKER})?"
        rf"|\bbetween\s+(?P<a2>{NUM})\s+and\s+(?P<b2>{NUM})\s+{_WORKER}"
        rf"|\b(?P<a3>\d+)\s*(?:-|to)\s*(?P<b3>\d+)\s+{_WORKER}"
        rf"|\bmin(?:imum)?(?:\s+of)?\s+(?P<a4>{NUM})\s*(?:{_WORKER})?\s*(?:,"
        rf"|and)?\s*max(?:imum)?(?:\s+of)?\s+(?P<b4>{NUM})"
    )
    if m:
        lo = integer(m.group("a") or m.group("a2") or m.group("a3") or m.group("a4"))
        hi = integer(m.group("b") or m.group("b2") or m.group("b3") or m.group("b4"))
        c["autoscale"] = {"min_workers": min(lo, hi), "max_workers": max(lo, hi)}
        return
    m = scan.take_one(rf"\b(?:auto-?scal\w*|scale)\s+(?:up\s+)?to\s+(?P<b>{NUM})(?:\s+{_WORKER})?")
    if m:
        hi = integer(m.group("b"))
        lo = min(2, hi)
        c["autoscale"] = {"min_workers": lo, "max_workers": hi}
        spec.assumptions.append(f"Autoscaling up to {hi} workers starts from {lo}.")
        return
    m = scan.take_one(
        rf"\b(?P<n>{NUM})\s+(?:fixed\s+)?{_WORKER}|\bnum[_ ]workers\s*[:=]?\s*(?P<n2>\d+)"
        rf"|\bworkers?\s*[:=]\s*(?P<n3>\d+)"
    )
    if m:
        c["num_workers"] = integer(m.group("n") or m.group("n2") or m.group("n3"))
    if scan.take(r"\bauto-?scal(?:e|ing)\b") and "num_workers" not in c:
        c["autoscale"] = {"min_workers": 2, "max_workers": 8}
        spec.assumptions.append("Autoscaling with no range given: 2–8 workers.")


def complete(spec: ComputeSpec, defaults: ParserDefaults) -> tuple[dict, str]:
    """A full new_cluster from the named size (small by default) and the fields the request gave."""
    cluster = defaults.cluster(spec.size or "small")
    if "node_type_id" in spec.cluster and spec.size == "large":
        cluster["node_type_id"] = spec.cluster["node_type_id"]
    merged = apply(cluster, spec.cluster)
    said = describe_cluster(merged)
    if spec.size:
        note = f"“{spec.size} cluster” = {said}."
    elif spec.cluster:
        note = f"Cluster: {said} (what the request did not say comes from the defaults)."
    else:
        note = f"No compute given: a small job cluster ({said})."
    return merged, note


def apply(cluster: dict, change: dict) -> dict:
    """Overlay a partial spec: fixed workers replace autoscale (and back), a pool replaces a node type."""
    out = dict(cluster)
    if "num_workers" in change:
        out.pop("autoscale", None)
    if "autoscale" in change:
        out.pop("num_workers", None)
    if "instance_pool_id" in change:
        out.pop("node_type_id", None)
        out.pop("driver_node_type_id", None)
    if "node_type_id" in change:
        out.pop("instance_pool_id", None)
    if (
        change.get("num_workers")
        and out.get("spark_conf", {}).get("spark.databricks.cluster.profile") == "singleNode"
    ):
        out.pop("spark_conf", None)
        out.pop("custom_tags", None)
    out.update(change)
    return out
