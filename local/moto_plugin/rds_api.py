"""RDS API calls for Aurora global databases that moto 5.2.5 lacks or answers wrongly
(rds.py says what moto keeps where), and write forwarding as DescribeDBClusters and
DescribeGlobalClusters report it."""

from __future__ import annotations

import copy
import os
import time
from typing import Any

from moto.rds import models as rds_models
from moto.rds.exceptions import InvalidParameterCombination, InvalidParameterValue
from moto.rds.models import DBCluster, GlobalCluster
from moto.rds.responses import RDSResponse

from .rds import (
    _forwarding_status,
    database_held,
    detach,
    find_global_cluster,
    find_member,
    global_cluster_of,
    rds_endpoints,
)
from .rds_database import drop_database_in_stand_in
from .util import cfn_bool


# --- Global clusters: switchover, failover, remove ------------------------------------


def _change_writer(
    global_cluster: GlobalCluster,
    target_identifier: str,
    *,
    status: str,
    allow_data_loss: bool,
) -> GlobalCluster:
    target = find_member(global_cluster, target_identifier)
    current = next((m for m in global_cluster.members if m.is_writer), None)
    if target is current:
        raise InvalidParameterValue(
            f"The cluster {target.db_cluster_arn} is already the primary cluster of "
            f"global cluster {global_cluster.global_cluster_identifier}."
        )
    if current is not None:
        current.is_writer = False
    target.is_writer = True
    # Put the writer first, as DescribeGlobalClusters does after a switchover.
    global_cluster.members.remove(target)
    global_cluster.members.insert(0, target)

    # moto finishes at once. AWS takes a minute or more, during which DescribeGlobalClusters
    # shows the operation in progress: the call's own answer and the next
    # OPERATION_DESCRIBES answers show it so, so that callers' waits are exercised.
    failover_state = {
        "Status": "pending",
        "FromDbClusterArn": current.db_cluster_arn if current else None,
        "ToDbClusterArn": target.db_cluster_arn,
        "IsDataLossAllowed": allow_data_loss,
    }
    # With the endpoint gateway, the members' endpoints are also unavailable for
    # MOTO_PLUGIN_SWITCHOVER_OUTAGE_SECONDS, as the writer is on AWS (typically under a
    # minute), and the operation shows as under way at least until they are back.
    outage_until = rds_endpoints().writer_changed(global_cluster)
    global_cluster._in_progress = [status, failover_state, OPERATION_DESCRIBES, outage_until]
    return _as_in_progress(global_cluster, status, failover_state)


# How many DescribeGlobalClusters answers after a switchover or failover still show it
# under way (MOTO_PLUGIN_OPERATION_DESCRIBES; 0 settles at once).
OPERATION_DESCRIBES = int(os.environ.get("MOTO_PLUGIN_OPERATION_DESCRIBES", "1"))


def _as_in_progress(global_cluster: GlobalCluster, status: str, failover_state: dict) -> GlobalCluster:
    answer = copy.copy(global_cluster)
    answer.members = list(global_cluster.members)
    answer.status = status
    answer.failover_state = failover_state
    return answer


def _described(global_cluster: GlobalCluster) -> GlobalCluster:
    """The global cluster as one Describe sees it; counts down an operation under way."""
    pending = getattr(global_cluster, "_in_progress", None)
    if not pending:
        return global_cluster
    counting = pending[2] > 0
    in_outage = time.time() < pending[3]
    if not counting and not in_outage:
        return global_cluster
    if counting:
        pending[2] -= 1
    return _as_in_progress(global_cluster, pending[0], pending[1])


def switchover_global_cluster(self: RDSResponse) -> Any:
    from moto.core.responses import ActionResult

    params = self.params
    global_cluster = find_global_cluster(
        self.current_account, params["GlobalClusterIdentifier"]
    )
    answer = _change_writer(
        global_cluster,
        params["TargetDbClusterIdentifier"],
        status="switching-over",
        allow_data_loss=False,
    )
    return ActionResult({"GlobalCluster": answer})


def failover_global_cluster(self: RDSResponse) -> Any:
    from moto.core.responses import ActionResult

    params = self.params
    allow_data_loss = bool(cfn_bool(params.get("AllowDataLoss")))
    switchover = bool(cfn_bool(params.get("Switchover")))
    if allow_data_loss and switchover:
        raise InvalidParameterCombination(
            "AllowDataLoss and Switchover can't be specified together."
        )
    global_cluster = find_global_cluster(
        self.current_account, params["GlobalClusterIdentifier"]
    )
    # Without AllowDataLoss, FailoverGlobalCluster is a switchover (AWS API reference).
    answer = _change_writer(
        global_cluster,
        params["TargetDbClusterIdentifier"],
        status="failing-over" if allow_data_loss else "switching-over",
        allow_data_loss=allow_data_loss,
    )
    return ActionResult({"GlobalCluster": answer})


def describe_global_clusters(self: RDSResponse) -> Any:
    """moto 5.2.5 ignored GlobalClusterIdentifier and listed every global cluster, so a
    caller asking for one could be answered with another environment's. AWS answers with
    the one named (by identifier or ARN) or GlobalClusterNotFoundFault."""
    from moto.core.responses import ActionResult

    wanted = self.params.get("GlobalClusterIdentifier")
    if wanted:
        clusters = [find_global_cluster(self.current_account, wanted)]
    else:
        clusters = self.global_backend.describe_global_clusters()
    return ActionResult({"GlobalClusters": [_described(c) for c in clusters]})


# Aurora MySQL versions DescribeDBEngineVersions knows (moto 5.2.5 has no such call).
# A stand-in list of real versions; an unknown version gets an empty answer, as from AWS.
AURORA_MYSQL_VERSIONS = {
    "aurora-mysql5.7": ["5.7.mysql_aurora.2.11.2", "5.7.mysql_aurora.2.11.5",
                        "5.7.mysql_aurora.2.12.0", "5.7.mysql_aurora.2.12.4"],
    "aurora-mysql8.0": ["8.0.mysql_aurora.3.04.3", "8.0.mysql_aurora.3.05.2",
                        "8.0.mysql_aurora.3.06.1", "8.0.mysql_aurora.3.07.1",
                        "8.0.mysql_aurora.3.08.0", "8.0.mysql_aurora.3.08.1",
                        "8.0.mysql_aurora.3.08.2", "8.0.mysql_aurora.3.09.0",
                        "8.0.mysql_aurora.3.10.0"],
}


def describe_db_engine_versions(self: RDSResponse) -> Any:
    from moto.core.responses import ActionResult

    params = self.params
    engine = params.get("Engine")
    wanted = params.get("EngineVersion")
    versions = []
    if engine in (None, "aurora-mysql"):
        for family, names in AURORA_MYSQL_VERSIONS.items():
            for name in names:
                if wanted in (None, name):
                    versions.append({
                        "Engine": "aurora-mysql",
                        "EngineVersion": name,
                        "DBParameterGroupFamily": family,
                        "DBEngineDescription": "Aurora MySQL",
                        "SupportsGlobalDatabases": True,
                        "Status": "available",
                    })
    return ActionResult({"DBEngineVersions": versions})


# Aurora MySQL's major versions and their support dates, as DescribeDBMajorEngineVersions
# answers them (moto 5.2.5 has no such call). Version 2 (5.7) left standard support on
# 2024-10-31 (Aurora MySQL release notes, "Database engine updates for Amazon Aurora MySQL
# version 2"); RDS Extended Support for it runs to 2027-02-28. Version 3's end of standard
# support is not given here: no date, no warning.
AURORA_MYSQL_MAJOR_VERSIONS = {
    "5.7": [
        ("open-source-rds-standard-support", "2015-07-27T00:00:00Z", "2024-10-31T00:00:00Z"),
        ("open-source-rds-extended-support", "2024-11-01T00:00:00Z", "2027-02-28T00:00:00Z"),
    ],
    "8.0": [],
}


def describe_db_major_engine_versions(self: RDSResponse) -> Any:
    from datetime import datetime

    from moto.core.responses import ActionResult

    params = self.params
    wanted = params.get("MajorEngineVersion")
    versions = []
    if params.get("Engine") in (None, "aurora-mysql"):
        for major, lifecycles in AURORA_MYSQL_MAJOR_VERSIONS.items():
            if wanted in (None, major):
                versions.append({
                    "Engine": "aurora-mysql",
                    "MajorEngineVersion": major,
                    "SupportedEngineLifecycles": [
                        {
                            "LifecycleSupportName": name,
                            "LifecycleSupportStartDate": datetime.fromisoformat(start.replace("Z", "+00:00")),
                            "LifecycleSupportEndDate": datetime.fromisoformat(end.replace("Z", "+00:00")),
                        }
                        for name, start, end in lifecycles
                    ],
                })
    return ActionResult({"DBMajorEngineVersions": versions})


def modify_global_cluster(self: RDSResponse) -> Any:
    """ModifyGlobalCluster, which moto 5.2.5 lacks (it answered 500): deletion
    protection and the engine version, the settings `deploy` changes."""
    from moto.core.responses import ActionResult

    params = self.params
    global_cluster = find_global_cluster(
        self.current_account, params["GlobalClusterIdentifier"]
    )
    if params.get("DeletionProtection") is not None:
        global_cluster.deletion_protection = bool(cfn_bool(params["DeletionProtection"]))
    if params.get("EngineVersion"):
        global_cluster.engine_version = params["EngineVersion"]
    return ActionResult({"GlobalCluster": global_cluster})


def remove_from_global_cluster(self: RDSResponse) -> Any:
    from moto.core.responses import ActionResult

    params = self.params
    global_cluster = find_global_cluster(
        self.current_account, params["GlobalClusterIdentifier"]
    )
    cluster = find_member(global_cluster, params["DbClusterIdentifier"])
    detach(global_cluster, cluster)
    return ActionResult({"GlobalCluster": global_cluster})


def backend_remove_from_global_cluster(
    self: Any, global_cluster_identifier: str, db_cluster_identifier: str
) -> GlobalCluster:
    global_cluster = find_global_cluster(self.account_id, global_cluster_identifier)
    detach(global_cluster, find_member(global_cluster, db_cluster_identifier))
    return global_cluster


_moto_delete_db_cluster = rds_models.RDSBackend.delete_db_cluster


def delete_db_cluster(
    self: Any, cluster_identifier: str, snapshot_name: str | None = None
) -> DBCluster:
    # moto only looks for the global cluster in the deleting Region's backend, so a member
    # outside us-east-1 stayed listed after its deletion. Leave it first, wherever it is.
    cluster = self.clusters.get(cluster_identifier)
    family = global_cluster_of(cluster) if cluster is not None else None
    if cluster is not None and not cluster.deletion_protection and not cluster.members:
        if family is not None:
            detach(family, cluster)
    deleted = _moto_delete_db_cluster(self, cluster_identifier, snapshot_name)
    rds_endpoints().unregister(deleted)  # its listeners stop
    # Its data goes with it (rds_database.drop_database_in_stand_in), unless another cluster
    # still holds the same database.
    name = getattr(deleted, "database_name", None)
    if name and not database_held(self.account_id, name, family, but=deleted):
        drop_database_in_stand_in(name)
    # AWS deletes a cluster's automated backups with it; moto kept them, so a cluster
    # created again with the same name in the same minute collided with its old
    # `rds:<cluster>-<minute>` snapshot.
    for snapshot_id, snapshot in list(self.cluster_snapshots.items()):
        if snapshot.snapshot_type == "automated" and snapshot.cluster.db_cluster_identifier == cluster_identifier:
            del self.cluster_snapshots[snapshot_id]
    return deleted


# --- Write forwarding, as DescribeDBClusters and DescribeGlobalClusters report it ------


def _get_forwarding_requested(self: DBCluster) -> bool | None:
    return getattr(self, "_global_write_forwarding_requested", None)


def _set_forwarding_requested(self: DBCluster, value: Any) -> None:
    self._global_write_forwarding_requested = cfn_bool(value)


def _global_cluster_members(self: GlobalCluster) -> list[dict[str, Any]]:
    writer = next((m for m in self.members if m.is_writer), None)
    members = []
    for member in self.members:
        entry: dict[str, Any] = {
            "DBClusterArn": member.db_cluster_arn,
            "IsWriter": member is writer,
            "Readers": [m.db_cluster_arn for m in self.members if m is not writer]
            if member is writer
            else [],
        }
        if member is not writer:
            entry["GlobalWriteForwardingStatus"] = _forwarding_status(member) or "disabled"
            entry["SynchronizationStatus"] = "connected"
        members.append(entry)
    return members


def install() -> None:
    RDSResponse.switchover_global_cluster = switchover_global_cluster
    RDSResponse.failover_global_cluster = failover_global_cluster
    RDSResponse.remove_from_global_cluster = remove_from_global_cluster
    RDSResponse.describe_db_engine_versions = describe_db_engine_versions
    RDSResponse.describe_db_major_engine_versions = describe_db_major_engine_versions
    RDSResponse.describe_global_clusters = describe_global_clusters
    RDSResponse.modify_global_cluster = modify_global_cluster
    rds_models.RDSBackend.remove_from_global_cluster = backend_remove_from_global_cluster
    rds_models.RDSBackend.delete_db_cluster = delete_db_cluster

    # ModifyDBCluster's EnableGlobalWriteForwarding and ours land on one attribute.
    DBCluster.enable_global_write_forwarding = property(
        _get_forwarding_requested, _set_forwarding_requested
    )
    DBCluster.global_write_forwarding_status = property(_forwarding_status)
    GlobalCluster.global_cluster_members = property(_global_cluster_members)
    GlobalCluster.failover_state = None
