"""What a fresh emulated workspace contains: notebooks and files the demo jobs point at, two clusters,
a SQL warehouse, the node types / Spark versions an AWS workspace offers, and alice@example.com (an
ordinary user, whose home folder and cluster these are) next to the emulator's admin user.
"""

from __future__ import annotations

from typing import Any

from standins.databricks import principals
from standins.databricks.state import Store, now_ms
from standins.databricks.workspace_files import put_object

DEFAULT_USER = "emulator-user@example.com"
WORKSPACE_ID = "7474650137463829"

NOTEBOOKS = {
    "/Repos/etl/ingest": (
        "PYTHON",
        "# Databricks notebook source\nraw = spark.read.json('/Volumes/main/raw/events')\n"
        "raw.write.mode('append').saveAsTable('main.bronze.events')\n",
    ),
    "/Repos/etl/transform": (
        "PYTHON",
        "# Databricks notebook source\nenv = dbutils.widgets.get('env')\n"
        "spark.table('main.bronze.events').dropDuplicates().write"
        ".mode('overwrite').saveAsTable('main.silver.events')\n",
    ),
    "/Repos/etl/publish": (
        "PYTHON",
        "# Databricks notebook source\nspark.sql('OPTIMIZE main.silver.events')\n",
    ),
    "/Shared/reports/daily": (
        "SQL",
        "-- Databricks notebook source\nSELECT date(ts) AS day, count(*) AS events\n"
        "FROM main.silver.events GROUP BY 1 ORDER BY 1\n",
    ),
    "/Users/alice@example.com/exploration": (
        "PYTHON",
        "# Databricks notebook source\ndisplay(spark.table('main.silver.events').limit(10))\n",
    ),
}
FILES = {
    "/Shared/scripts/etl.py": b"import sys\n\nprint('etl run with', sys.argv[1:])\n",
    "/Shared/scripts/requirements.txt": b"pyyaml>=6\n",
}
EMPTY_DIRS = ("/Users/" + DEFAULT_USER, "/Shared/tmp")


def _node(node_type_id: str, memory_gb: int, cores: int, category: str, description: str) -> dict[str, Any]:
    return {
        "node_type_id": node_type_id,
        "instance_type_id": node_type_id,
        "memory_mb": memory_gb * 1024,
        "num_cores": float(cores),
        "description": description,
        "category": category,
        "is_deprecated": False,
        "is_hidden": False,
        "support_ebs_volumes": True,
        "support_cluster_tags": True,
        "support_port_forwarding": True,
        "photon_driver_capable": True,
        "photon_worker_capable": True,
        "is_io_cache_enabled": node_type_id.startswith(("i3", "m5d", "r5d")),
        "node_info": {"status": []},
        "num_gpus": 0,
    }


NODE_TYPES = [
    _node("m5d.large", 8, 2, "General Purpose", "m5d.large"),
    _node("m5d.xlarge", 16, 4, "General Purpose", "m5d.xlarge"),
    _node("m5d.2xlarge", 32, 8, "General Purpose", "m5d.2xlarge"),
    _node("i3.xlarge", 30, 4, "Storage Optimized", "i3.xlarge"),
    _node("i3.2xlarge", 61, 8, "Storage Optimized", "i3.2xlarge"),
    _node("i3.4xlarge", 122, 16, "Storage Optimized", "i3.4xlarge"),
    _node("r5d.large", 16, 2, "Memory Optimized", "r5d.large"),
    _node("r5d.xlarge", 32, 4, "Memory Optimized", "r5d.xlarge"),
    _node("r5d.2xlarge", 64, 8, "Memory Optimized", "r5d.2xlarge"),
    _node("c5d.xlarge", 8, 4, "Compute Optimized", "c5d.xlarge"),
    _node("c5d.2xlarge", 16, 8, "Compute Optimized", "c5d.2xlarge"),
]

SPARK_VERSIONS = [
    {"key": "16.4.x-scala2.13", "name": "16.4 LTS (includes Apache Spark 3.5.2, Scala 2.13)"},
    {"key": "16.4.x-scala2.12", "name": "16.4 LTS (includes Apache Spark 3.5.2, Scala 2.12)"},
    {"key": "16.4.x-photon-scala2.12", "name": "16.4 LTS Photon (includes Apache Spark 3.5.2, Scala 2.12)"},
    {"key": "15.4.x-scala2.12", "name": "15.4 LTS (includes Apache Spark 3.5.0, Scala 2.12)"},
    {"key": "15.4.x-photon-scala2.12", "name": "15.4 LTS Photon (includes Apache Spark 3.5.0, Scala 2.12)"},
    {"key": "15.4.x-cpu-ml-scala2.12", "name": "15.4 LTS ML (includes Apache Spark 3.5.0, Scala 2.12)"},
    {"key": "14.3.x-scala2.12", "name": "14.3 LTS (includes Apache Spark 3.5.0, Scala 2.12)"},
    {"key": "13.3.x-scala2.12", "name": "13.3 LTS (includes Apache Spark 3.4.1, Scala 2.12)"},
]


def _clusters(user: str, now: int) -> dict[str, dict[str, Any]]:
    common = {
        "creator_user_name": user,
        "cluster_source": "UI",
        "driver_node_type_id": "i3.xlarge",
        "autotermination_minutes": 60,
        "data_security_mode": "USER_ISOLATION",
        "runtime_engine": "STANDARD",
        "spark_conf": {},
        "spark_env_vars": {"PYSPARK_PYTHON": "/databricks/python3/bin/python3"},
        "custom_tags": {},
        "enable_elastic_disk": True,
        "disk_spec": {},
        "aws_attributes": {
            "availability": "SPOT_WITH_FALLBACK",
            "first_on_demand": 1,
            "zone_id": "us-west-2a",
        },
    }
    return {
        "0312-141516-etl4pool": {
            **common,
            "cluster_id": "0312-141516-etl4pool",
            "cluster_name": "shared-etl",
            "spark_version": "15.4.x-scala2.12",
            "node_type_id": "i3.xlarge",
            "autoscale": {"min_workers": 1, "max_workers": 4},
            "state": "RUNNING",
            "state_message": "",
            "start_time": now - 86_400_000,
            "last_state_loss_time": 0,
            "default_tags": {
                "Vendor": "Databricks",
                "Creator": user,
                "ClusterName": "shared-etl",
                "ClusterId": "0312-141516-etl4pool",
            },
        },
        "0101-090000-adhoc123": {
            **common,
            "cluster_id": "0101-090000-adhoc123",
            "cluster_name": "alice-adhoc",
            "creator_user_name": "alice@example.com",
            "spark_version": "14.3.x-scala2.12",
            "node_type_id": "m5d.large",
            "num_workers": 1,
            "state": "TERMINATED",
            "state_message": "Inactive cluster terminated (inactive for 60 minutes).",
            "start_time": now - 7 * 86_400_000,
            "terminated_time": now - 6 * 86_400_000,
            "termination_reason": {
                "code": "INACTIVITY",
                "type": "SUCCESS",
                "parameters": {"inactivity_duration_min": "60"},
            },
            "default_tags": {
                "Vendor": "Databricks",
                "Creator": "alice@example.com",
                "ClusterName": "alice-adhoc",
                "ClusterId": "0101-090000-adhoc123",
            },
        },
    }


def _warehouses(user: str) -> dict[str, dict[str, Any]]:
    wid = "4b9b953939869799"
    return {
        wid: {
            "id": wid,
            "name": "Serverless Starter Warehouse",
            "cluster_size": "2X-Small",
            "min_num_clusters": 1,
            "max_num_clusters": 1,
            "auto_stop_mins": 10,
            "creator_name": user,
            "enable_photon": True,
            "enable_serverless_compute": True,
            "warehouse_type": "PRO",
            "spot_instance_policy": "COST_OPTIMIZED",
            "channel": {"name": "CHANNEL_NAME_CURRENT"},
            "state": "RUNNING",
            "num_clusters": 1,
            "num_active_sessions": 0,
            "health": {"status": "HEALTHY"},
            "tags": {},
            "jdbc_url": f"jdbc:spark://emulator:443/default;transportMode=http;ssl=1;httpPath=/sql/1.0/warehouses/{wid}",
            "odbc_params": {
                "hostname": "emulator",
                "path": f"/sql/1.0/warehouses/{wid}",
                "protocol": "https",
                "port": 443,
            },
        }
    }


def seed(store: Store, user: str = DEFAULT_USER) -> None:
    """Fill an empty store; called under the store lock."""
    now = now_ms()
    for path, (language, source) in NOTEBOOKS.items():
        put_object(store, path, "NOTEBOOK", source.encode(), language=language, make_parents=True)
    for path, content in FILES.items():
        put_object(store, path, "FILE", content, make_parents=True)
    for path in EMPTY_DIRS:
        put_object(store, path, "DIRECTORY", b"", make_parents=True)
    principals.add_user(store, "alice@example.com", display_name="Alice")
    store.data["clusters"] = _clusters(user, now)
    store.data["warehouses"] = _warehouses(user)
    store.mark_dirty()
