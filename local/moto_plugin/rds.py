"""RDS: the Aurora global database pieces moto 5.2.5 lacks.

moto keeps global clusters in its us-east-1 backend whatever Region a call names
(RDSResponse.global_backend); member clusters live in their own Region's backend and a
GlobalCluster holds them in `members`. `DBCluster.is_writer` marks the primary.
The clusters' endpoints, as listeners in front of MariaDB, are rds_endpoints'.
"""

from __future__ import annotations

import copy
import os
import time
from typing import Any

from moto.core.common_models import CloudFormationModel
from moto.moto_api._internal import mock_random
from moto.rds import models as rds_models
from moto.rds.exceptions import (
    DBClusterNotFoundError,
    InvalidDBClusterStateFault,
    InvalidParameterCombination,
    InvalidParameterValue,
    RDSClientError,
)
from moto.rds.models import DBCluster, DBInstance, GlobalCluster, rds_backends
from moto.rds.responses import RDSResponse

from .util import cfn_bool, cfn_int, name_of

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


def rds_endpoints() -> Any:
    from . import rds_endpoints as module  # imported late: it imports this module

    return module


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
    if cluster is not None and not cluster.deletion_protection and not cluster.members:
        global_cluster = global_cluster_of(cluster)
        if global_cluster is not None:
            detach(global_cluster, cluster)
    deleted = _moto_delete_db_cluster(self, cluster_identifier, snapshot_name)
    rds_endpoints().unregister(deleted)  # its listeners stop
    # AWS deletes a cluster's automated backups with it; moto kept them, so a cluster
    # created again with the same name in the same minute collided with its old
    # `rds:<cluster>-<minute>` snapshot.
    for snapshot_id, snapshot in list(self.cluster_snapshots.items()):
        if snapshot.snapshot_type == "automated" and snapshot.cluster.db_cluster_identifier == cluster_identifier:
            del self.cluster_snapshots[snapshot_id]
    return deleted


# --- Write forwarding, as DescribeDBClusters and DescribeGlobalClusters report it ------


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


# --- CloudFormation resource types -------------------------------------------------------


def create_master_user_in_stand_in(username: str, password: str, database: str | None) -> None:
    """Aurora creates the master user (and DatabaseName) with the cluster; the MariaDB that
    stands in for every cluster gets the same user, so the functions can log in with the
    secret's credentials. Only when `MOTO_PLUGIN_MARIADB` (HOST:PORT, root without a
    password, as `make local-up` starts it) is set."""
    import os
    import subprocess

    address = os.environ.get("MOTO_PLUGIN_MARIADB")
    if not address:
        return
    host, port = address.rsplit(":", 1)

    def literal(text: str) -> str:
        return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"

    user = f"{literal(username)}@'%'"
    sql = (
        f"CREATE USER IF NOT EXISTS {user} IDENTIFIED BY {literal(password)};\n"
        f"ALTER USER {user} IDENTIFIED BY {literal(password)};\n"
        f"GRANT ALL PRIVILEGES ON *.* TO {user} WITH GRANT OPTION;\n"
    )
    if database:
        sql += f"CREATE DATABASE IF NOT EXISTS `{database}` CHARACTER SET utf8mb4;\n"
    done = subprocess.run(
        ["mariadb", "--no-defaults", "--protocol=tcp", "-h", host, "-P", port, "-uroot"],
        input=sql, text=True, capture_output=True, timeout=30,
    )
    if done.returncode != 0:
        # Never echo the SQL: it holds the password.
        raise InvalidParameterValue(
            f"the stand-in database at {address} refused the master user: {done.stderr.strip()}"
        )


def _validate_kms_key(backend: Any, kms_key_id: str) -> str:
    # Raises KMSKeyNotAccessibleFault for a key of another Region, as AWS does for a
    # secondary given its primary's key.
    return backend._validate_kms_key(kms_key_id)


class CfnDBClusterParameterGroup(CloudFormationModel):
    """AWS::RDS::DBClusterParameterGroup (moto has the model, not its CloudFormation type:
    a template's group was skipped and its clusters got the default one). Ref: the group's
    name, lower-cased as RDS stores it; generated when the template gives none. Its
    Parameters are what DescribeDBClusterParameters answers, and what the endpoint gateway
    reads (`require_secure_transport`, rds_endpoints.py)."""

    __module__ = "moto.rds.models"

    def __init__(self, account_id: str, region: str, name: str):
        self.account_id = account_id
        self.region = region
        self.name = name

    @staticmethod
    def cloudformation_name_type() -> str:
        return "DBClusterParameterGroupName"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::RDS::DBClusterParameterGroup"

    @property
    def physical_resource_id(self) -> str:
        return self.name

    @staticmethod
    def _set_parameters(group: Any, parameters: Any) -> None:
        group.parameters.clear()
        group.update_cluster_parameters([
            {"ParameterName": name, "ParameterValue": str(value), "ApplyMethod": "immediate"}
            for name, value in (parameters or {}).items()
        ])

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> CfnDBClusterParameterGroup:
        props = cloudformation_json["Properties"]
        backend = rds_backends[account_id][region_name]
        group = backend.create_db_cluster_parameter_group(
            db_cluster_parameter_group_name=resource_name.lower(),
            db_parameter_group_family=props.get("Family"),
            description=props.get("Description"),
            tags=props.get("Tags"),
        )
        cls._set_parameters(group, props.get("Parameters"))
        return cls(account_id, region_name, group.name)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls,
        original_resource: CfnDBClusterParameterGroup,
        new_resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
    ) -> CfnDBClusterParameterGroup:
        # Parameters change in place; Family and Description would replace the group on
        # AWS, which nothing here changes.
        backend = rds_backends[account_id][region_name]
        group = backend.db_cluster_parameter_groups.get(original_resource.name)
        if group is not None:
            cls._set_parameters(group, cloudformation_json["Properties"].get("Parameters"))
        return original_resource

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
    ) -> None:
        rds_backends[account_id][region_name].db_cluster_parameter_groups.pop(
            resource_name.lower(), None
        )

    def delete(self, account_id: str, region_name: str) -> None:
        rds_backends[account_id][region_name].db_cluster_parameter_groups.pop(self.name, None)


def cluster_parameter(cluster: Any, name: str) -> str | None:
    """A parameter of the cluster's DB cluster parameter group, as the group sets it."""
    backend = rds_backends[cluster.account_id][cluster.region]
    group = backend.db_cluster_parameter_groups.get(str(cluster.parameter_group or "").lower())
    if group is None:
        return None
    value = group.parameters.get(name, {}).get("ParameterValue")
    return None if value is None else str(value)


class CfnGlobalCluster(CloudFormationModel):
    """AWS::RDS::GlobalCluster. Ref: the global cluster identifier."""

    __module__ = "moto.rds.models"

    def __init__(self, account_id: str, identifier: str):
        self.account_id = account_id
        self.identifier = identifier

    @staticmethod
    def cloudformation_name_type() -> str:
        return "GlobalClusterIdentifier"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::RDS::GlobalCluster"

    @property
    def physical_resource_id(self) -> str:
        return self.identifier

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("GlobalEndpoint.Address", "GlobalClusterArn")

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        global_cluster = find_global_cluster(self.account_id, self.identifier)
        if attribute_name == "GlobalEndpoint.Address":
            return global_cluster.endpoint
        if attribute_name == "GlobalClusterArn":
            return global_cluster.global_cluster_arn
        raise UnformattedGetAttTemplateException()

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> CfnGlobalCluster:
        props = cloudformation_json["Properties"]
        backend = rds_backends[account_id][GLOBAL_REGION]
        source = props.get("SourceDBClusterIdentifier")
        if source and not source.startswith("arn:"):
            source = rds_backends[account_id][region_name].clusters[source].db_cluster_arn
        global_cluster = backend.create_global_cluster(
            global_cluster_identifier=resource_name,
            source_db_cluster_identifier=source,
            engine=None if source else props.get("Engine"),
            engine_version=None if source else props.get("EngineVersion"),
            storage_encrypted=cfn_bool(props.get("StorageEncrypted")),
            deletion_protection=cfn_bool(props.get("DeletionProtection")),
        )
        return cls(account_id, global_cluster.global_cluster_identifier)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls,
        original_resource: CfnGlobalCluster,
        new_resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
    ) -> CfnGlobalCluster:
        props = cloudformation_json["Properties"]
        global_cluster = find_global_cluster(account_id, original_resource.identifier)
        if "DeletionProtection" in props:
            global_cluster.deletion_protection = cfn_bool(props["DeletionProtection"])
        if props.get("EngineVersion"):
            # A major version upgrade goes through the global cluster (AWS user guide, "Upgrading the major version of an Amazon Aurora global database").
            global_cluster.engine_version = props["EngineVersion"]
            for member in global_cluster.members:
                member.engine_version = props["EngineVersion"]
        return original_resource

    def delete(self, account_id: str, region_name: str) -> None:
        global_cluster = find_global_cluster(account_id, self.identifier)
        for backend in _backends(account_id).values():
            if global_cluster.global_cluster_identifier in backend.global_clusters:
                backend.delete_global_cluster(global_cluster.global_cluster_identifier)
                return

    def is_created(self) -> bool:
        return True


# Properties that AWS::RDS::DBCluster can change without replacing the cluster,
# mapped to moto's DBCluster attribute names.
_CLUSTER_MUTABLE = {
    "BackupRetentionPeriod": ("backup_retention_period", cfn_int),
    "DeletionProtection": ("deletion_protection", cfn_bool),
    "EnableGlobalWriteForwarding": ("enable_global_write_forwarding", cfn_bool),
    "EngineVersion": ("engine_version", str),
    "PreferredBackupWindow": ("preferred_backup_window", str),
    "PreferredMaintenanceWindow": ("preferred_maintenance_window", str),
    "VpcSecurityGroupIds": ("vpc_security_group_ids", list),
    "Port": ("port", cfn_int),
    "CopyTagsToSnapshot": ("copy_tags_to_snapshot", cfn_bool),
    "EnableIAMDatabaseAuthentication": ("iam_auth", cfn_bool),
    "Tags": ("tags", list),
}
# Changing any of these replaces the cluster (CloudFormation's "Update requires: Replacement").
_CLUSTER_REPLACING = (
    "DBClusterIdentifier",
    "Engine",
    "DatabaseName",
    "DBSubnetGroupName",
    "KmsKeyId",
    "StorageEncrypted",
    "SourceRegion",
    "MasterUsername",
)


class CfnDBCluster(CloudFormationModel):
    """AWS::RDS::DBCluster, also as a secondary of a global cluster in another Region.

    Ref: the cluster identifier. GetAtt: Endpoint.Address, Endpoint.Port,
    ReadEndpoint.Address, DBClusterArn, DBClusterResourceId.
    """

    __module__ = "moto.rds.models"

    def __init__(
        self,
        account_id: str,
        region_name: str,
        identifier: str,
        properties: dict[str, Any],
        deletion_policy: str,
    ):
        self.account_id = account_id
        self.region_name = region_name
        self.identifier = identifier
        self.properties = properties
        self.deletion_policy = deletion_policy

    @staticmethod
    def cloudformation_name_type() -> str:
        return "DBClusterIdentifier"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::RDS::DBCluster"

    @property
    def physical_resource_id(self) -> str:
        return self.identifier

    @property
    def cluster(self) -> DBCluster:
        backend = rds_backends[self.account_id][self.region_name]
        return backend.describe_db_clusters(self.identifier)[0]

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in (
            "Endpoint.Address",
            "Endpoint.Port",
            "ReadEndpoint.Address",
            "DBClusterArn",
            "DBClusterResourceId",
            "MasterUserSecret.SecretArn",
        )

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        cluster = self.cluster
        if attribute_name == "Endpoint.Address":
            return cluster.endpoint
        if attribute_name == "Endpoint.Port":
            # CloudFormation returns the port as a string.
            return str(cluster.port)
        if attribute_name == "ReadEndpoint.Address":
            return cluster.reader_endpoint
        if attribute_name == "DBClusterArn":
            return cluster.db_cluster_arn
        if attribute_name == "DBClusterResourceId":
            return cluster.db_cluster_resource_id
        raise UnformattedGetAttTemplateException()

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> CfnDBCluster:
        props = cloudformation_json["Properties"]
        backend = rds_backends[account_id][region_name]
        identifier = resource_name.lower()

        engine = props.get("Engine")
        engine_version = props.get("EngineVersion")
        global_id = props.get("GlobalClusterIdentifier")
        global_cluster = None
        if global_id:
            global_cluster = find_global_cluster(account_id, global_id)
            engine = engine or global_cluster.engine
            engine_version = engine_version or global_cluster.engine_version
            if engine != global_cluster.engine:
                raise InvalidParameterCombination(
                    f"The engine {engine} does not match the global cluster's engine "
                    f"{global_cluster.engine}."
                )
            if engine_version != global_cluster.engine_version:
                raise InvalidParameterCombination(
                    f"The engine version {engine_version} does not match the global "
                    f"cluster's engine version {global_cluster.engine_version}."
                )
            if cfn_bool(props.get("ManageMasterUserPassword")):
                # AWS: not supported for global database members ("Password management with Amazon RDS and AWS Secrets Manager", limitations).
                raise InvalidParameterCombination(
                    "ManageMasterUserPassword is not supported for clusters in a global database."
                )
            has_writer = any(m.is_writer for m in global_cluster.members)
            if has_writer:
                # Joining as a secondary: it replicates the primary's data and users.
                if props.get("MasterUserPassword") or props.get("MasterUsername"):
                    raise InvalidParameterCombination(
                        "Cannot specify password for cross region replication cluster"
                    )
                if cfn_bool(props.get("StorageEncrypted")) and not (
                    props.get("SourceRegion") and props.get("KmsKeyId")
                ):
                    raise InvalidParameterCombination(
                        "An encrypted cross-Region secondary needs SourceRegion and a "
                        "KmsKeyId of its own Region."
                    )
        if not engine:
            raise InvalidParameterValue("The parameter Engine must be provided.")

        kms_key_id = props.get("KmsKeyId")
        if kms_key_id:
            kms_key_id = _validate_kms_key(backend, kms_key_id)

        kwargs_ = {
            "db_cluster_identifier": identifier,
            "engine": engine,
            "engine_version": engine_version,
            "engine_mode": props.get("EngineMode"),
            "master_username": props.get("MasterUsername"),
            "master_user_password": props.get("MasterUserPassword"),
            "database_name": props.get("DatabaseName"),
            "db_subnet_group_name": name_of(props.get("DBSubnetGroupName")),
            "db_cluster_parameter_group_name": name_of(
                props.get("DBClusterParameterGroupName")
            ),
            "vpc_security_group_ids": props.get("VpcSecurityGroupIds"),
            "storage_encrypted": cfn_bool(props.get("StorageEncrypted")),
            "kms_key_id": kms_key_id,
            "global_cluster_identifier": global_cluster.global_cluster_identifier
            if global_cluster
            else None,
            "enable_global_write_forwarding": cfn_bool(
                props.get("EnableGlobalWriteForwarding")
            ),
            "deletion_protection": cfn_bool(props.get("DeletionProtection")),
            "port": cfn_int(props.get("Port")),
            "backup_retention_period": cfn_int(props.get("BackupRetentionPeriod")) or 1,
            "tags": props.get("Tags"),
            "enable_cloudwatch_logs_exports": props.get("EnableCloudwatchLogsExports"),
            "enable_iam_database_authentication": cfn_bool(
                props.get("EnableIAMDatabaseAuthentication")
            ),
            "copy_tags_to_snapshot": cfn_bool(props.get("CopyTagsToSnapshot")),
            "manage_master_user_password": cfn_bool(props.get("ManageMasterUserPassword")),
            "serverless_v2_scaling_configuration": props.get(
                "ServerlessV2ScalingConfiguration"
            ),
        }
        for key in ("preferred_backup_window", "preferred_maintenance_window"):
            prop = "".join(part.capitalize() for part in key.split("_"))
            if props.get(prop):
                kwargs_[key] = props[prop]
        kwargs_ = {k: v for k, v in kwargs_.items() if v is not None}
        backend.create_db_cluster(kwargs_)
        if props.get("MasterUsername") and props.get("MasterUserPassword"):
            create_master_user_in_stand_in(
                props["MasterUsername"], props["MasterUserPassword"], props.get("DatabaseName")
            )
        return cls(
            account_id,
            region_name,
            identifier,
            props,
            cloudformation_json.get("DeletionPolicy", "Snapshot"),
        )

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls,
        original_resource: CfnDBCluster,
        new_resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
    ) -> CfnDBCluster:
        props = cloudformation_json["Properties"]
        old = original_resource.properties
        if any(props.get(key) != old.get(key) for key in _CLUSTER_REPLACING):
            name = props.get("DBClusterIdentifier") or new_resource_name
            replacement = cls.create_from_cloudformation_json(
                name, cloudformation_json, account_id, region_name
            )
            original_resource.delete(account_id, region_name)
            return replacement

        cluster = original_resource.cluster
        for prop, (attribute, convert) in _CLUSTER_MUTABLE.items():
            if props.get(prop) != old.get(prop) and prop in props:
                setattr(cluster, attribute, convert(props[prop]))
        if props.get("MasterUserPassword") and props.get("MasterUserPassword") != old.get(
            "MasterUserPassword"
        ):
            cluster.master_user_password = props["MasterUserPassword"]
        new_global = props.get("GlobalClusterIdentifier")
        if new_global != old.get("GlobalClusterIdentifier"):
            current = global_cluster_of(cluster)
            if current is not None:
                detach(current, cluster)
            if new_global:
                target = find_global_cluster(account_id, new_global)
                cluster.global_cluster_identifier = target.global_cluster_identifier
                cluster.is_writer = not any(m.is_writer for m in target.members)
                target.members.append(cluster)
            rds_endpoints().roles_changed(cluster=cluster)
        original_resource.properties = props
        original_resource.deletion_policy = cloudformation_json.get(
            "DeletionPolicy", "Snapshot"
        )
        return original_resource

    def delete(self, account_id: str, region_name: str) -> None:
        backend = rds_backends[account_id][region_name]
        snapshot_name = None
        if self.deletion_policy == "Snapshot":
            # AWS::RDS::DBCluster's default DeletionPolicy is Snapshot (its CloudFormation documentation, DeletionPolicy).
            snapshot_name = f"{self.identifier}-final-{mock_random.get_random_hex(8)}"
        backend.delete_db_cluster(self.identifier, snapshot_name)

    def is_created(self) -> bool:
        return True


class CfnDBInstance(CloudFormationModel):
    """AWS::RDS::DBInstance that honours DBClusterIdentifier (moto's own ignores it).

    Returns moto's DBInstance itself, so Ref, GetAtt Endpoint.* and deletion are moto's.
    """

    __module__ = "moto.rds.models"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "DBInstanceIdentifier"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::RDS::DBInstance"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("Endpoint.Address", "Endpoint.Port", "DBInstanceArn")

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> DBInstance:
        props = cloudformation_json["Properties"]
        cluster_id = props.get("DBClusterIdentifier")
        if not cluster_id:
            # Stand-alone instance: moto's handler, with a subnet group given by name
            # (a parameter) as well as by Ref.
            json_ = copy.copy(cloudformation_json)
            json_["Properties"] = dict(props)
            json_["Properties"].pop("DBSubnetGroupName", None)
            database = DBInstance.create_from_cloudformation_json(
                resource_name, json_, account_id, region_name, **kwargs
            )
            subnet_group = name_of(props.get("DBSubnetGroupName"))
            if subnet_group:
                database.db_subnet_group_name = subnet_group
            return database

        backend = rds_backends[account_id][region_name]
        cluster = backend.describe_db_clusters(cluster_id)[0]
        db_kwargs = {
            "db_instance_identifier": resource_name.replace("_", "-"),
            "db_cluster_identifier": cluster.db_cluster_identifier,
            "db_instance_class": props.get("DBInstanceClass"),
            "engine": props.get("Engine") or cluster.engine,
            "availability_zone": props.get("AvailabilityZone"),
            "promotion_tier": cfn_int(props.get("PromotionTier")),
            "publicly_accessible": cfn_bool(props.get("PubliclyAccessible")),
            "auto_minor_version_upgrade": cfn_bool(props.get("AutoMinorVersionUpgrade")),
            "db_parameter_group_name": name_of(props.get("DBParameterGroupName")),
            "db_subnet_group_name": name_of(props.get("DBSubnetGroupName")),
            "monitoring_interval": cfn_int(props.get("MonitoringInterval")),
            "monitoring_role_arn": props.get("MonitoringRoleArn"),
            "tags": props.get("Tags"),
        }
        db_kwargs = {k: v for k, v in db_kwargs.items() if v is not None}
        return backend.create_db_instance(db_kwargs)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls,
        original_resource: DBInstance,
        new_resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
    ) -> DBInstance:
        # Without this, moto's parser stores None for an updated instance (its own
        # DBInstance has no update handler) and later Refs to it come back empty.
        props = cloudformation_json["Properties"]
        name = props.get("DBInstanceIdentifier")
        same_name = name is None or name.lower() == original_resource.db_instance_identifier
        old_cluster = getattr(original_resource, "db_cluster_identifier", None) or ""
        same_cluster = (props.get("DBClusterIdentifier") or "").lower() == old_cluster.lower()
        if same_name and same_cluster:
            if props.get("DBInstanceClass"):
                original_resource.db_instance_class = props["DBInstanceClass"]
            if props.get("PromotionTier") is not None:
                original_resource.promotion_tier = cfn_int(props["PromotionTier"])
            return original_resource
        replacement = cls.create_from_cloudformation_json(
            name or new_resource_name, cloudformation_json, account_id, region_name
        )
        original_resource.delete(account_id, region_name)
        return replacement


def install() -> None:
    rds_models.CfnGlobalCluster = CfnGlobalCluster
    rds_models.CfnDBClusterParameterGroup = CfnDBClusterParameterGroup
    rds_models.CfnDBCluster = CfnDBCluster
    rds_models.CfnDBInstance = CfnDBInstance

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
    # Each aurora-mysql cluster's endpoints as listeners in front of MariaDB, by role
    # (DBCluster.endpoint/reader_endpoint/port, create, reset): active with MOTO_PLUGIN_MARIADB.
    rds_endpoints().install()
