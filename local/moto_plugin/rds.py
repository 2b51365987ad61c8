"""RDS: the Aurora global database pieces moto 5.2.5 lacks.

moto keeps global clusters in its us-east-1 backend whatever Region a call names
(RDSResponse.global_backend); member clusters live in their own Region's backend and a
GlobalCluster holds them in `members`. `DBCluster.is_writer` marks the primary.

This module: what the pieces share (finding global clusters and their members, a member
leaving, write forwarding's status, a cluster's parameters) and `install()`. The pieces:
- rds_api: the API calls moto lacks or answers wrongly (switchover, failover,
  RemoveFromGlobalCluster, ModifyGlobalCluster, DescribeGlobalClusters,
  DescribeDBEngineVersions, DescribeDBMajorEngineVersions, DeleteDBCluster) and what
  DescribeDBClusters and DescribeGlobalClusters report of write forwarding;
- rds_cloudformation: the resource types AWS::RDS::DBClusterParameterGroup,
  GlobalCluster, DBCluster and DBInstance;
- rds_database: the MariaDB that stands in for every cluster's database (master users);
- rds_endpoints: the clusters' endpoints, as listeners in front of that MariaDB.
"""

from __future__ import annotations

from typing import Any

from moto.rds.exceptions import (
    DBClusterNotFoundError,
    InvalidParameterValue,
    RDSClientError,
)
from moto.rds.models import DBCluster, GlobalCluster, rds_backends

# Where moto keeps every global cluster (see RDSResponse.global_backend).
GLOBAL_REGION = "us-east-1"


class GlobalClusterNotFoundFault(RDSClientError):
    def __init__(self, identifier: str):
        super().__init__(
            "GlobalClusterNotFoundFault", f"Global cluster {identifier} not found."
        )


def _backends(account_id: str) -> dict[str, Any]:
    accounts = rds_backends[account_id]
    # Iterating the dict yields only the Regions already in use (no backend is created).
    return {region: accounts[region] for region in list(dict.keys(accounts))}


def database_held(
    account_id: str,
    name: str,
    global_cluster: GlobalCluster | None = None,
    but: DBCluster | None = None,
) -> bool:
    """Whether something other than the cluster `but` holds the database `name`, so the
    stand-in must keep it: a cluster of that DatabaseName (the stand-in's clusters share one
    MariaDB, rds_database.py), or a member of `global_cluster` (a secondary, created without
    a DatabaseName, holds its global cluster's)."""
    if global_cluster is not None and global_cluster.members:
        return True
    return any(
        cluster.database_name == name
        for backend in _backends(account_id).values()
        for cluster in backend.clusters.values()
        if cluster is not but
    )


def find_global_cluster(account_id: str, identifier: str) -> GlobalCluster:
    """By identifier or ARN, in whichever Region's backend holds it."""
    wanted = identifier.lower()
    for backend in _backends(account_id).values():
        for global_cluster in backend.global_clusters.values():
            if wanted in (
                global_cluster.global_cluster_identifier,
                global_cluster.global_cluster_arn.lower(),
            ):
                return global_cluster
    raise GlobalClusterNotFoundFault(identifier)


def global_cluster_of(cluster: DBCluster) -> GlobalCluster | None:
    for backend in _backends(cluster.account_id).values():
        for global_cluster in backend.global_clusters.values():
            if any(member is cluster for member in global_cluster.members):
                return global_cluster
    return None


def find_member(global_cluster: GlobalCluster, identifier: str) -> DBCluster:
    """A member by ARN (what AWS expects) or, leniently, by cluster identifier."""
    wanted = identifier.lower()
    for member in global_cluster.members:
        if wanted in (member.db_cluster_arn.lower(), member.db_cluster_identifier):
            return member
    raise DBClusterNotFoundError(
        identifier,
        f"The cluster {identifier} is not a member of global cluster "
        f"{global_cluster.global_cluster_identifier}.",
    )


def detach(global_cluster: GlobalCluster, cluster: DBCluster) -> None:
    """Take `cluster` out of `global_cluster`; it becomes a standalone writer, as on AWS."""
    if cluster.is_writer and len(global_cluster.members) > 1:
        raise InvalidParameterValue(
            f"The cluster {cluster.db_cluster_identifier} is the primary of global cluster "
            f"{global_cluster.global_cluster_identifier}; remove its secondary clusters first."
        )
    global_cluster.members.remove(cluster)
    cluster.global_cluster_identifier = None
    cluster.is_writer = False
    # A stand-alone cluster's writer endpoint is active (rds_endpoints).
    rds_endpoints().roles_changed(cluster=cluster)


def rds_endpoints() -> Any:
    from . import rds_endpoints as module  # imported late: it imports this module

    return module


# --- What a member's role allows, and its cluster's parameters --------------------------
# Write forwarding's status is what DescribeDBClusters and DescribeGlobalClusters report
# (rds_api) and what the secondary's reader endpoint does (rds_endpoints); so are the
# parameters, e.g. require_secure_transport.


def _forwarding_status(cluster: DBCluster) -> str | None:
    if cluster.engine not in ("aurora-mysql", "aurora-postgresql"):
        return None
    if global_cluster_of(cluster) is None:
        return None
    # Forwarding works on secondaries; a primary keeps the request so that forwarding
    # resumes when it becomes a secondary after a switchover.
    if cluster.global_write_forwarding_requested and not cluster.is_writer:
        return "enabled"
    return "disabled"


def cluster_parameter(cluster: Any, name: str) -> str | None:
    """A parameter of the cluster's DB cluster parameter group, as the group sets it."""
    backend = rds_backends[cluster.account_id][cluster.region]
    group = backend.db_cluster_parameter_groups.get(str(cluster.parameter_group or "").lower())
    if group is None:
        return None
    value = group.parameters.get(name, {}).get("ParameterValue")
    return None if value is None else str(value)


def install() -> None:
    from . import rds_api, rds_cloudformation

    rds_cloudformation.install()
    rds_api.install()
    # Each aurora-mysql cluster's endpoints as listeners in front of MariaDB, by role
    # (DBCluster.endpoint/reader_endpoint/port, create, reset): active with MOTO_PLUGIN_MARIADB.
    rds_endpoints().install()
