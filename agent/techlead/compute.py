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
    availability: str | None = None  # "spot" | "fallback" | "on_demand": the cloud's field comes later
    first_on_demand: int | None = None  # None: the cluster's own, else 1 (the driver on-demand)
    bid_percent: int | None = None  # "spot at 70% of the on-demand price" (AWS spot_bid_price_percent)


def parse_compute(scan: Scan, defaults: ParserDefaults, conf: Conf | None = None) -> ComputeSpec:
    spec = ComputeSpec()
    c = spec.cluster
    pools, pool_spans = _pools(scan)  # before cluster ids: "0101-120000-brick1-pool-…" starts like one
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
        return _not_a_new_cluster(scan, spec, pool_spans, conf, "an existing cluster")
    if scan.take(
        r"\bserverless\b(?!\s+(?:sql\s+)?warehouses?)(?:\s+(?:compute|mode|jobs?))?|\bno\s+cluster\b"
    ):
        spec.mode = "serverless"
        return _not_a_new_cluster(scan, spec, pool_spans, conf, "serverless compute")
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
    c.update(pools)
    if not pools:  # a pool's own settings decide spot or on-demand
        _availability(scan, spec)
    if conf:
        conf.apply_to(c)
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
    if c or spec.size or spec.availability:
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
        rf"|\bworkers?\s*[:=]\s*(?P<n3>\d+)|\bworkers?\s*\(\s*(?P<n4>\d+)\s*\)"
    )
    if m:
        c["num_workers"] = integer(m.group("n") or m.group("n2") or m.group("n3") or m.group("n4"))
    if scan.take(r"\bauto-?scal(?:e|ing)\b") and "num_workers" not in c:
        c["autoscale"] = {"min_workers": 2, "max_workers": 8}
        spec.assumptions.append("Autoscaling with no range given: 2–8 workers.")


def complete(spec: ComputeSpec, defaults: ParserDefaults) -> tuple[dict, str]:
    """A full new_cluster from the named size (small by default) and the fields the request gave."""
    cluster = defaults.cluster(spec.size or "small")
    if "node_type_id" in spec.cluster and spec.size == "large":
        cluster["node_type_id"] = spec.cluster["node_type_id"]
    merged = apply(cluster, spec.cluster)
    spot, spot_note = availability(merged, spec)
    merged = apply(merged, spot)
    said = describe_cluster(merged)
    if spec.size:
        note = f"“{spec.size} cluster” = {said}."
    elif spec.cluster:
        note = f"Cluster: {said} (what the request did not say comes from the defaults)."
    else:
        note = f"No compute given: a small job cluster ({said})."
    return merged, f"{note} {spot_note}".strip()


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
    if "driver_instance_pool_id" in change:
        out.pop("driver_node_type_id", None)
    if "node_type_id" in change:
        out.pop("instance_pool_id", None)
        out.pop("driver_instance_pool_id", None)
    if (
        change.get("num_workers")
        and out.get("spark_conf", {}).get("spark.databricks.cluster.profile") == "singleNode"
    ):
        out.pop("spark_conf", None)
        out.pop("custom_tags", None)
    for k, v in change.items():  # conf, env vars, tags and cloud attributes are added to, key by key
        out[k] = {**out[k], **v} if k in _ADDED_TO and isinstance(out.get(k), dict) else v
    return out


_ADDED_TO = (
    "spark_conf",
    "spark_env_vars",
    "custom_tags",
    "aws_attributes",
    "azure_attributes",
    "gcp_attributes",
)


# ------------------------------------------------------------------ Spark conf and environment variables
@dataclass
class Conf:
    """Spark conf and environment variables. Read before the tasks: "spark.x=1" and "ENV=prod" right after
    a notebook would otherwise become its parameters."""

    spark_conf: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    spans: list[tuple[int, int]] = field(default_factory=list)

    def apply_to(self, cluster: dict) -> None:
        if self.spark_conf:
            cluster["spark_conf"] = {**cluster.get("spark_conf", {}), **self.spark_conf}
        if self.env:
            cluster["spark_env_vars"] = {**cluster.get("spark_env_vars", {}), **self.env}


_VAL = r"(?P<v>\"[^\"]*\"|'[^']*'|[^\s,;\"'`]+)"
_ENV_HEAD = re.compile(
    r"(?:\b(?:spark[\s_-]*)?env(?:ironment)?[\s_-]*var(?:iable)?s?\b\s*(?:[:=]\s*)?"
    r"|\bexport\s+(?=(?-i:[A-Z_][A-Z0-9_]*)=))`?",  # "export PYSPARK_PYTHON=…", as in a shell
    re.I,
)
# "ENV=prod", "LOG_LEVEL: debug"; "ENV to prod" only for an upper-case name ("switch to x" is no pair)
_ENV_PAIR = re.compile(
    rf"(?P<k>[A-Za-z_]\w*)\s*[=:]\s*{_VAL}"
    rf"|(?P<k2>(?-i:[A-Z_][A-Z0-9_]*))\s+(?:to|as)\s+{_VAL.replace('<v>', '<v2>')}",
    re.I,
)
_CONF_HEAD = re.compile(
    r"\bspark[\s_-]*(?:conf(?:ig(?:uration)?)?s?|settings?|properties|options)\b\s*(?:[:=]\s*)?`?", re.I
)
_CONF_PAIR = re.compile(rf"(?P<k>[A-Za-z][\w-]*(?:\.[\w-]+)+)\s*(?:[=:]|\s+to\s+|\s+)\s*{_VAL}", re.I)
# A spark.* key names Spark conf on its own; a space before the value only when it looks like one.
_SPARK_KEY = re.compile(
    r"(?:\b(?:set|with|and|plus|add)\s+)?(?P<k>\bspark\.[A-Za-z][\w.-]*\w)"
    rf"\s*(?:[=:]|\s+to\s+|\s+(?=true\b|false\b|\d|[\"']))\s*{_VAL}",
    re.I,
)
_SEP = re.compile(r"\s*(?:,|;|&|\band\b|\bplus\b)?\s*", re.I)


def read_conf(scan: Scan) -> Conf:
    """ "set spark.sql.shuffle.partitions=200", "spark conf spark.speculation true", "env vars ENV=prod"."""
    conf = Conf()
    for head, pair, into in ((_ENV_HEAD, _ENV_PAIR, conf.env), (_CONF_HEAD, _CONF_PAIR, conf.spark_conf)):
        for m in scan.find(head):
            pairs, end = _pairs(scan, m.end(), pair)
            if pairs:
                into.update(pairs)
                scan.consume(m.start(), end)
                conf.spans.append((m.start(), end))
    for m in scan.take(_SPARK_KEY):
        conf.spark_conf[m.group("k")] = _value(m.group("v"))
        conf.spans.append(m.span())
    return conf


def _pairs(scan: Scan, pos: int, rx: re.Pattern[str]) -> tuple[dict[str, str], int]:
    """The key/value pairs starting at `pos`, and where they end."""
    out: dict[str, str] = {}
    while True:
        at = _SEP.match(scan.masked, pos).end() if out else pos
        m = rx.match(scan.masked, at)
        if not m:
            return out, pos
        out[m.group("k") or m.group("k2")] = _value(m.group("v") or m.group("v2"))
        pos = m.end()


def _value(v: str) -> str:
    return v[1:-1] if v[:1] in "\"'" and v[-1:] == v[:1] else v.rstrip(".!?)")


def _not_a_new_cluster(
    scan: Scan, spec: ComputeSpec, spans: list[tuple[int, int]], conf: Conf | None, what: str
) -> ComputeSpec:
    """Pools, Spark conf and env vars belong to a job's own cluster: on `what` they are left unread."""
    spans = spans + (conf.spans if conf else [])
    for start, end in spans:
        scan.release(start, end)
    if spans:
        spec.assumptions.append(
            f"Instance pools, Spark conf and environment variables are set on a job cluster, not on {what}; "
            "not set."
        )
    return spec


# ------------------------------------------------------------------ instance pools
_POOL_ID = r"[`'\"]?(?P<{0}>[\w-]*\d[\w-]*)[`'\"]?"
_DRIVER_POOL = re.compile(
    r"\bdriver(?:\s+node)?\s+(?:(?:comes?\s+)?(?:from|in|on|uses?|using)\s+)?(?:the\s+|an?\s+)?"
    r"(?:instance\s+)?pool(?:\s*id)?\s*(?:[:=]\s*)?" + _POOL_ID.format("p")
    + r"|\bdriver[_\s]instance[_\s]pool(?:[_\s]id)?\s*(?:[:=]\s*)?" + _POOL_ID.format("p2")
    + r"|\b(?:(?:use|using)\s+)?(?:the\s+)?(?:instance\s+)?pool(?:\s*id)?\s*(?:[:=]\s*)?"
    + _POOL_ID.format("p3")
    + r"\s+for\s+(?:the\s+)?driver\b",
    re.I,
)
_WORKER_POOL = re.compile(
    r"(?:\b(?:workers?|executors?|nodes?)\s+(?:(?:come\s+)?(?:from|in|on|use|using)\s+)?(?:the\s+|an?\s+)?)?"
    r"\b(?:instance[\s_]+)?pool(?:[\s_]*id)?\s*(?:[:=]\s*)?" + _POOL_ID.format("p")
    + r"(?:\s+for\s+(?:the\s+)?(?:(?P<both>both|all\s+nodes|(?:workers?|executors?)\s+and\s+(?:the\s+)?"
    r"driver|driver\s+and\s+(?:the\s+)?workers?)|workers?|executors?|nodes?))?",
    re.I,
)


def _pools(scan: Scan) -> tuple[dict, list[tuple[int, int]]]:
    """ "workers from pool 1234-pool-abc, driver from pool 5678-pool-def" → the two pool ids."""
    out: dict = {}
    spans = []
    m = scan.take_one(_DRIVER_POOL)
    if m:
        out["driver_instance_pool_id"] = m.group("p") or m.group("p2") or m.group("p3")
        spans.append(m.span())
    m = scan.take_one(_WORKER_POOL)
    if m:
        out["instance_pool_id"] = m.group("p")
        if m.group("both"):
            out.setdefault("driver_instance_pool_id", m.group("p"))
        spans.append(m.span())
    return out, spans


def settle(spec: ComputeSpec, cluster: dict, draft) -> None:
    """Topics for what the request named; a driver pool needs a worker pool (the API rejects one alone)."""
    said = spec.cluster
    if said.get("instance_pool_id") or said.get("driver_instance_pool_id"):
        draft.topic("pool")
    if spec.availability:
        draft.topic("spot")
    if set(said) & {"spark_conf", "spark_env_vars"} and said.get("num_workers") != 0:
        draft.topic("spark_conf")
    if cluster.get("driver_instance_pool_id") and not cluster.get("instance_pool_id"):
        draft.ask(
            f"The driver pool {cluster['driver_instance_pool_id']} needs a worker pool too: which instance "
            "pool should the workers use (instance_pool_id)?"
        )
        draft.blocked = True


# ------------------------------------------------------------------ spot / on-demand
_OD = r"on[\s-]?demand"
_KIND = r"(?:instances?|nodes?|workers?|vms?|machines|compute|capacity|pricing)"
_SPOT = re.compile(
    rf"\b(?:(?:use|using|on|with|run\s+on)\s+)?(?:the\s+)?(?P<kind>spot|preemptible)(?![\s-]+(?:check|on)\b)"
    rf"(?:\s+{_KIND})?"
    rf"(?P<fb>\s*,?\s*(?:(?:with|and|but|w/)\s*)?(?:an?\s+|the\s+)?(?:auto(?:matic)?\s+)?"
    rf"(?:fall(?:ing)?[\s-]*back|fallback)(?:\s+(?:to|on|onto)\s+(?:an?\s+)?{_OD}(?:\s+{_KIND})?)?"
    rf"|\s*,?\s*(?:with|w/|and)\s+(?:an?\s+)?{_OD}\s+fall[\s-]*back)?",
    re.I,
)
_FIRST = re.compile(
    r"\bfirst[_\s]on[_\s]demand\s*(?:[:=]|of|to)?\s*(?P<n>\d+)"
    rf"|\b(?P<od>(?:keep(?:ing)?|with|but)\s+(?:the\s+)?driver\s+(?:on\s+|as\s+)?(?:an?\s+)?{_OD}"
    rf"(?:\s+(?:instance|node))?|{_OD}\s+driver)\b"
    r"|\b(?P<all>(?:including|incl\.?|even)\s+(?:the\s+)?driver|driver\s+(?:on\s+|as\s+)?(?:spot|preemptible)"
    r"(?:\s+too)?|driver\s+too)\b",
    re.I,
)
_ON_DEMAND = re.compile(
    rf"\b(?:(?:use|using|on|all|only)\s+)?{_OD}\s+{_KIND}(?:\s+only)?\b"
    rf"|\bno\s+(?:more\s+)?spot(?:\s+{_KIND})?\b",
    re.I,
)
# cloud → (ClusterSpec field, availability for spot / spot with fallback / on-demand)
_CLOUDS = {
    "AWS": ("aws_attributes", {"spot": "SPOT", "fallback": "SPOT_WITH_FALLBACK", "on_demand": "ON_DEMAND"}),
    "Azure": (
        "azure_attributes",
        {"spot": "SPOT_AZURE", "fallback": "SPOT_WITH_FALLBACK_AZURE", "on_demand": "ON_DEMAND_AZURE"},
    ),
    "GCP": (
        "gcp_attributes",
        {
            "spot": "PREEMPTIBLE_GCP",
            "fallback": "PREEMPTIBLE_WITH_FALLBACK_GCP",
            "on_demand": "ON_DEMAND_GCP",
        },
    ),
}
_AN = {"AWS": "an AWS", "Azure": "an Azure", "GCP": "a GCP"}
_SAID = {"spot": "Spot", "fallback": "Spot with fallback to on-demand", "on_demand": "On-demand"}


_BID = re.compile(
    rf"\b(?:(?:at|for)\s+)?(?P<p>\d{{1,3}})\s*%\s+of\s+(?:the\s+)?{_OD}\s+(?:price|cost|rate)\b"
    r"|\bspot[_\s]bid[_\s]price[_\s]percent\s*[:=]?\s*(?P<p2>\d{1,3})\b"
    r"|\b(?:max(?:imum)?\s+)?bid(?:ding)?\s+(?:price\s+)?(?:at\s+|of\s+)?(?P<p3>\d{1,3})\s*%",
    re.I,
)
# "no spot", "never preemptible", "don't use spot instances": on-demand, never spot.
_NO_SPOT = re.compile(
    rf"\b(?:no|not|never|without|avoid|don'?t\s+use|do\s+not\s+use)\s+(?:more\s+)?(?:the\s+|any\s+)?"
    rf"(?:spot|preemptible)(?:\s+{_KIND})?\b",
    re.I,
)
_OD_ONLY = re.compile(
    rf"\bonly\s+{_OD}(?:\s+{_KIND})?\b|\b{_OD}(?:\s+{_KIND})?\s+only\b|\b{_OD}\s+{_KIND}\b", re.I
)


def _availability(scan: Scan, spec: ComputeSpec) -> None:
    """Spot, spot with fallback or on-demand, read before the schedule (its "on demand" = no schedule)."""
    if scan.take(_NO_SPOT):
        spec.availability = "on_demand"
        scan.take(_OD_ONLY)  # "on-demand only, no spot" says it twice
        return
    m = scan.take_one(_SPOT)
    if m:
        spec.availability = "fallback" if m.group("fb") else "spot"
        first = scan.take_one(_FIRST)
        if first and first.group("n"):
            spec.first_on_demand = int(first.group("n"))
        elif first:
            spec.first_on_demand = 0 if first.group("all") else 1
        bid = scan.take_one(_BID)
        if bid:
            spec.bid_percent = int(bid.group("p") or bid.group("p2") or bid.group("p3"))
    elif scan.take(_ON_DEMAND):
        spec.availability = "on_demand"


def cloud(node_type: str) -> str | None:
    if node_type.startswith("Standard_"):
        return "Azure"
    if re.match(r"[a-z]\d[a-z]?-", node_type):
        return "GCP"
    if re.match(r"[a-z]{1,3}\d[a-z0-9-]*\.", node_type):
        return "AWS"
    return None


def availability(cluster: dict, spec: ComputeSpec, guessed: bool = False) -> tuple[dict, str]:
    """The cloud's availability attribute for the cluster's node type, and the plan's note about it."""
    if not spec.availability:
        return {}, ""
    said = _SAID[spec.availability]
    if cluster.get("instance_pool_id"):
        return {}, (
            f"{said}: the nodes come from pool {cluster['instance_pool_id']}, whose own settings decide spot "
            "or on-demand; not changed."
        )
    node = cluster.get("node_type_id", "")
    where = cloud(node)
    if where is None:
        return {}, f"{said}: cannot tell the cloud of node type “{node}”; not set."
    field_, values = _CLOUDS[where]
    attrs: dict = {"availability": values[spec.availability]}
    note = f"{said}: {field_}.availability {attrs['availability']} ({node} is {_AN[where]} node type"
    note += "; the job's own node type was not at hand)" if guessed else ")"
    if spec.availability != "on_demand":
        n = spec.first_on_demand
        if n is None:
            n = (cluster.get(field_) or {}).get("first_on_demand", 1)
        attrs["first_on_demand"] = n
        if spec.bid_percent is not None and where == "AWS":
            attrs["spot_bid_price_percent"] = spec.bid_percent
            note += f"; spot_bid_price_percent {spec.bid_percent}"
        elif spec.bid_percent is not None:
            note += f"; a spot bid of {spec.bid_percent}% is an AWS setting only, not set"
        kept = "the driver" if n == 1 else f"the driver and {n - 1} worker{'s' if n > 2 else ''}"
        note += (
            "; the driver is on spot too (first_on_demand 0)."
            if n == 0
            else f"; first_on_demand {n} keeps {kept} on on-demand."
        )
    else:
        note += "."
    return {field_: attrs}, note


def finish_change(
    spec: ComputeSpec, partial: dict, base: dict | None, defaults: ParserDefaults, draft
) -> None:
    """Spot / on-demand and pool checks for a change, against the job's current cluster."""
    current = next(
        (jc.get("new_cluster") for jc in (base or {}).get("job_clusters") or [] if jc.get("new_cluster")),
        None,
    ) or next((t["new_cluster"] for t in (base or {}).get("tasks", []) if t.get("new_cluster")), None)
    shown = apply(current or defaults.cluster(), partial)
    spot, note = availability(shown, spec, guessed=current is None and "node_type_id" not in partial)
    partial.update(spot)
    draft.assume(note)
    settle(spec, apply(shown, spot), draft)
