"""Read-only compute lookups: node types, Spark versions, clusters and SQL warehouses.

Enough for a client to check that what a job names exists. An unknown cluster is 400
INVALID_PARAMETER_VALUE "Cluster <id> does not exist" as on the real service (the SDK maps it to
`ResourceDoesNotExist`); an unknown warehouse is 404 RESOURCE_DOES_NOT_EXIST.
"""

from __future__ import annotations

import copy
from typing import Any

from standins.databricks.errors import invalid, not_found
from standins.databricks.params import Request
from standins.databricks.seed import NODE_TYPES, SPARK_VERSIONS, WORKSPACE_ID
from standins.databricks.state import Store


def list_node_types(store: Store, req: Request) -> dict[str, Any]:
    return {"node_types": copy.deepcopy(NODE_TYPES)}


def spark_versions(store: Store, req: Request) -> dict[str, Any]:
    return {"versions": copy.deepcopy(SPARK_VERSIONS)}


def get_cluster(store: Store, req: Request) -> dict[str, Any]:
    cluster_id = req.str_arg("cluster_id", required=True)
    cluster = store.data["clusters"].get(cluster_id)
    if cluster is None:
        raise invalid(f"Cluster {cluster_id} does not exist")
    return copy.deepcopy(cluster)


def list_clusters(store: Store, req: Request) -> dict[str, Any]:
    clusters = sorted(store.data["clusters"].values(), key=lambda c: c["cluster_name"])
    return {"clusters": copy.deepcopy(clusters)} if clusters else {}


def list_warehouses(store: Store, req: Request) -> dict[str, Any]:
    warehouses = sorted(store.data["warehouses"].values(), key=lambda w: w["name"])
    return {"warehouses": copy.deepcopy(warehouses)}


def get_warehouse(store: Store, req: Request) -> dict[str, Any]:
    warehouse_id = req.path_params["id"]
    warehouse = store.data["warehouses"].get(warehouse_id)
    if warehouse is None:
        raise not_found(f"SQL warehouse {warehouse_id} does not exist.")
    return copy.deepcopy(warehouse)


def host_metadata(base_url: str) -> dict[str, Any]:
    """/.well-known/databricks-config as a workspace host answers it (unauthenticated)."""
    return {
        "oidc_endpoint": f"{base_url}/oidc",
        "workspace_id": WORKSPACE_ID,
        "cloud": "AWS",
    }
