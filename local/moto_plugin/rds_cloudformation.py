"""RDS resource types for CloudFormation that moto 5.2.5 lacks or gets wrong:
AWS::RDS::DBClusterParameterGroup, AWS::RDS::GlobalCluster, AWS::RDS::DBCluster (also as a
cross-Region secondary of a global cluster) and AWS::RDS::DBInstance joining its cluster."""

from __future__ import annotations

import copy
from typing import Any

from moto.core.common_models import CloudFormationModel
from moto.moto_api._internal import mock_random
from moto.rds import models as moto_rds_models
from moto.rds.exceptions import InvalidParameterCombination, InvalidParameterValue
from moto.rds.models import DBCluster, DBInstance, GlobalCluster, rds_backends

from .cfn_model import CfnModel, Request
from .rds import (
    GLOBAL_REGION,
    _backends,
    database_held,
    detach,
    find_global_cluster,
    global_cluster_of,
    rds_endpoints,
)
from .rds_database import create_master_user_in_stand_in, drop_database_in_stand_in
from .util import cfn_bool, cfn_int, name_of


def _validate_kms_key(backend: Any, kms_key_id: str) -> str:
    # Raises KMSKeyNotAccessibleFault for a key of another Region, as AWS does for a
    # secondary given its primary's key.
    return backend._validate_kms_key(kms_key_id)


class CfnDBClusterParameterGroup(CfnModel, CloudFormationModel):
    """AWS::RDS::DBClusterParameterGroup (moto has the model, not its CloudFormation type:
    a template's group was skipped and its clusters got the default one). Ref: the group's
    name, lower-cased as RDS stores it; generated when the template gives none. Its
    Parameters are what DescribeDBClusterParameters answers, and what the endpoint gateway
    reads (`require_secure_transport`, rds_endpoints.py)."""

    __module__ = "moto.rds.models"
    TYPE = "AWS::RDS::DBClusterParameterGroup"
    NAME_PROPERTY = "DBClusterParameterGroupName"
    PHYSICAL_ID = "name"

    def __init__(self, account_id: str, region_name: str, name: str):
        super().__init__(account_id, region_name)
        self.name = name

    @staticmethod
    def _set_parameters(group: Any, parameters: Any) -> None:
        group.parameters.clear()
        group.update_cluster_parameters([
            {"ParameterName": name, "ParameterValue": str(value), "ApplyMethod": "immediate"}
            for name, value in (parameters or {}).items()
        ])

    @classmethod
    def create(cls, request: Request) -> CfnDBClusterParameterGroup:
        props = request.properties
        group = request.backend(rds_backends).create_db_cluster_parameter_group(
            db_cluster_parameter_group_name=request.name.lower(),
            db_parameter_group_family=props.get("Family"),
            description=props.get("Description"),
            tags=props.get("Tags"),
        )
        cls._set_parameters(group, props.get("Parameters"))
        return cls(request.account_id, request.region_name, group.name)

    @classmethod
    def update(
        cls, original: CfnDBClusterParameterGroup, request: Request
    ) -> CfnDBClusterParameterGroup:
        # Parameters change in place; Family and Description would replace the group on
        # AWS, which nothing here changes.
        group = request.backend(rds_backends).db_cluster_parameter_groups.get(original.name)
        if group is not None:
            cls._set_parameters(group, request.properties.get("Parameters"))
        return original

    @classmethod
    def delete_named(cls, request: Request) -> None:
        request.backend(rds_backends).db_cluster_parameter_groups.pop(request.name.lower(), None)

    def delete(self, account_id: str, region_name: str) -> None:
        rds_backends[account_id][region_name].db_cluster_parameter_groups.pop(self.name, None)


class CfnGlobalCluster(CfnModel, CloudFormationModel):
    """AWS::RDS::GlobalCluster. Ref: the global cluster identifier."""

    __module__ = "moto.rds.models"
    TYPE = "AWS::RDS::GlobalCluster"
    NAME_PROPERTY = "GlobalClusterIdentifier"
    PHYSICAL_ID = "identifier"
    ATTRIBUTES = {
        "GlobalEndpoint.Address": lambda model: model.global_cluster().endpoint,
        "GlobalClusterArn": lambda model: model.global_cluster().global_cluster_arn,
    }

    def __init__(self, account_id: str, region_name: str, identifier: str):
        super().__init__(account_id, region_name)
        self.identifier = identifier

    def global_cluster(self) -> GlobalCluster:
        return find_global_cluster(self.account_id, self.identifier)

    @classmethod
    def create(cls, request: Request) -> CfnGlobalCluster:
        props = request.properties
        backend = rds_backends[request.account_id][GLOBAL_REGION]
        source = props.get("SourceDBClusterIdentifier")
        if source and not source.startswith("arn:"):
            source = request.backend(rds_backends).clusters[source].db_cluster_arn
        global_cluster = backend.create_global_cluster(
            global_cluster_identifier=request.name,
            source_db_cluster_identifier=source,
            engine=None if source else props.get("Engine"),
            engine_version=None if source else props.get("EngineVersion"),
            storage_encrypted=cfn_bool(props.get("StorageEncrypted")),
            deletion_protection=cfn_bool(props.get("DeletionProtection")),
        )
        return cls(
            request.account_id, request.region_name, global_cluster.global_cluster_identifier
        )

    @classmethod
    def update(cls, original: CfnGlobalCluster, request: Request) -> CfnGlobalCluster:
        props = request.properties
        global_cluster = find_global_cluster(request.account_id, original.identifier)
        if "DeletionProtection" in props:
            global_cluster.deletion_protection = cfn_bool(props["DeletionProtection"])
        if props.get("EngineVersion"):
            # A major version upgrade goes through the global cluster (AWS user guide, "Upgrading the major version of an Amazon Aurora global database").
            global_cluster.engine_version = props["EngineVersion"]
            for member in global_cluster.members:
                member.engine_version = props["EngineVersion"]
        return original

    def delete(self, account_id: str, region_name: str) -> None:
        global_cluster = find_global_cluster(account_id, self.identifier)
        for backend in _backends(account_id).values():
            if global_cluster.global_cluster_identifier in backend.global_clusters:
                backend.delete_global_cluster(global_cluster.global_cluster_identifier)
                return


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


class CfnDBCluster(CfnModel, CloudFormationModel):
    """AWS::RDS::DBCluster, also as a secondary of a global cluster in another Region.

    Ref: the cluster identifier. GetAtt: Endpoint.Address, Endpoint.Port,
    ReadEndpoint.Address, DBClusterArn, DBClusterResourceId.
    """

    __module__ = "moto.rds.models"
    TYPE = "AWS::RDS::DBCluster"
    NAME_PROPERTY = "DBClusterIdentifier"
    PHYSICAL_ID = "identifier"
    ATTRIBUTES = {
        "Endpoint.Address": lambda model: model.cluster.endpoint,
        # CloudFormation returns the port as a string.
        "Endpoint.Port": lambda model: str(model.cluster.port),
        "ReadEndpoint.Address": lambda model: model.cluster.reader_endpoint,
        "DBClusterArn": lambda model: model.cluster.db_cluster_arn,
        "DBClusterResourceId": lambda model: model.cluster.db_cluster_resource_id,
        # Passes the template check, but GetAtt does not answer it.
        "MasterUserSecret.SecretArn": None,
    }

    def __init__(
        self,
        account_id: str,
        region_name: str,
        identifier: str,
        properties: dict[str, Any],
        deletion_policy: str,
    ):
        super().__init__(account_id, region_name)
        self.identifier = identifier
        self.properties = properties
        self.deletion_policy = deletion_policy

    @property
    def cluster(self) -> DBCluster:
        backend = rds_backends[self.account_id][self.region_name]
        return backend.describe_db_clusters(self.identifier)[0]

    @classmethod
    def create(cls, request: Request) -> CfnDBCluster:
        props = request.properties
        backend = request.backend(rds_backends)
        identifier = request.name.lower()

        engine = props.get("Engine")
        engine_version = props.get("EngineVersion")
        global_id = props.get("GlobalClusterIdentifier")
        global_cluster = None
        if global_id:
            global_cluster = find_global_cluster(request.account_id, global_id)
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
        database = props.get("DatabaseName")
        if database and not database_held(request.account_id, database, global_cluster):
            # A new cluster starts empty (Aurora user guide, "Creating an Amazon Aurora DB
            # cluster": DatabaseName is created in it). The MariaDB standing in for every
            # cluster outlives moto's memory: a `make local-down` and `local-up` left the
            # database of a cluster the new moto never had, with its rows and its ledger.
            drop_database_in_stand_in(database)
        backend.create_db_cluster(kwargs_)
        if props.get("MasterUsername") and props.get("MasterUserPassword"):
            create_master_user_in_stand_in(
                props["MasterUsername"], props["MasterUserPassword"], props.get("DatabaseName")
            )
        return cls(
            request.account_id,
            request.region_name,
            identifier,
            props,
            request.template.get("DeletionPolicy", "Snapshot"),
        )

    @classmethod
    def update(cls, original: CfnDBCluster, request: Request) -> CfnDBCluster:
        props = request.properties
        old = original.properties
        if any(props.get(key) != old.get(key) for key in _CLUSTER_REPLACING):
            name = props.get("DBClusterIdentifier") or request.name
            return cls.replace(original, request._replace(name=name))

        cluster = original.cluster
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
                target = find_global_cluster(request.account_id, new_global)
                cluster.global_cluster_identifier = target.global_cluster_identifier
                cluster.is_writer = not any(m.is_writer for m in target.members)
                target.members.append(cluster)
            rds_endpoints().roles_changed(cluster=cluster)
        original.properties = props
        original.deletion_policy = request.template.get("DeletionPolicy", "Snapshot")
        return original

    def delete(self, account_id: str, region_name: str) -> None:
        backend = rds_backends[account_id][region_name]
        snapshot_name = None
        if self.deletion_policy == "Snapshot":
            # AWS::RDS::DBCluster's default DeletionPolicy is Snapshot (its CloudFormation documentation, DeletionPolicy).
            snapshot_name = f"{self.identifier}-final-{mock_random.get_random_hex(8)}"
        backend.delete_db_cluster(self.identifier, snapshot_name)


class CfnDBInstance(CfnModel, CloudFormationModel):
    """AWS::RDS::DBInstance that honours DBClusterIdentifier (moto's own ignores it).

    Returns moto's DBInstance itself, so Ref, GetAtt Endpoint.* and deletion are moto's
    (this class is never instantiated).
    """

    __module__ = "moto.rds.models"
    TYPE = "AWS::RDS::DBInstance"
    NAME_PROPERTY = "DBInstanceIdentifier"
    # For the template check only: moto's DBInstance answers them.
    ATTRIBUTES = dict.fromkeys(("Endpoint.Address", "Endpoint.Port", "DBInstanceArn"))

    @classmethod
    def create(cls, request: Request) -> DBInstance:
        props = request.properties
        cluster_id = props.get("DBClusterIdentifier")
        if not cluster_id:
            # Stand-alone instance: moto's handler, with a subnet group given by name
            # (a parameter) as well as by Ref.
            json_ = copy.copy(request.template)
            json_["Properties"] = dict(props)
            json_["Properties"].pop("DBSubnetGroupName", None)
            database = DBInstance.create_from_cloudformation_json(
                request.name, json_, request.account_id, request.region_name,
                **(request.extra or {}),
            )
            subnet_group = name_of(props.get("DBSubnetGroupName"))
            if subnet_group:
                database.db_subnet_group_name = subnet_group
            return database

        backend = request.backend(rds_backends)
        cluster = backend.describe_db_clusters(cluster_id)[0]
        db_kwargs = {
            "db_instance_identifier": request.name.replace("_", "-"),
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
    def update(cls, original: DBInstance, request: Request) -> DBInstance:
        # Without this, moto's parser stores None for an updated instance (its own
        # DBInstance has no update handler) and later Refs to it come back empty.
        props = request.properties
        name = props.get("DBInstanceIdentifier")
        same_name = name is None or name.lower() == original.db_instance_identifier
        old_cluster = getattr(original, "db_cluster_identifier", None) or ""
        same_cluster = (props.get("DBClusterIdentifier") or "").lower() == old_cluster.lower()
        if same_name and same_cluster:
            if props.get("DBInstanceClass"):
                original.db_instance_class = props["DBInstanceClass"]
            if props.get("PromotionTier") is not None:
                original.promotion_tier = cfn_int(props["PromotionTier"])
            return original
        return cls.replace(original, request._replace(name=name or request.name))


def install() -> None:
    moto_rds_models.CfnGlobalCluster = CfnGlobalCluster
    moto_rds_models.CfnDBClusterParameterGroup = CfnDBClusterParameterGroup
    moto_rds_models.CfnDBCluster = CfnDBCluster
    moto_rds_models.CfnDBInstance = CfnDBInstance
