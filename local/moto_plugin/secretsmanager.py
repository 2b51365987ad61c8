"""Secrets Manager resource types for CloudFormation, which moto 5.2.5 skips."""

from __future__ import annotations

import json
from typing import Any

from moto.core.common_models import CloudFormationModel
from moto.rds.models import rds_backends
from moto.secretsmanager import models as sm_models
from moto.secretsmanager.models import secretsmanager_backends
from moto.secretsmanager.utils import random_password

from .cfn_model import CfnModel, Request
from .util import cfn_bool, cfn_int


def generate_secret_string(spec: dict[str, Any]) -> str:
    """GenerateSecretString, as CloudFormation documents it."""
    require_each = cfn_bool(spec.get("RequireEachIncludedType"))
    password = random_password(
        cfn_int(spec.get("PasswordLength")) or 32,
        spec.get("ExcludeCharacters") or "",
        bool(cfn_bool(spec.get("ExcludeNumbers"))),
        bool(cfn_bool(spec.get("ExcludePunctuation"))),
        bool(cfn_bool(spec.get("ExcludeUppercase"))),
        bool(cfn_bool(spec.get("ExcludeLowercase"))),
        bool(cfn_bool(spec.get("IncludeSpace"))),
        True if require_each is None else require_each,
    )
    template = spec.get("SecretStringTemplate")
    key = spec.get("GenerateStringKey")
    if template is None and key is None:
        return password
    if template is None or key is None:
        raise ValueError(
            "GenerateSecretString needs both SecretStringTemplate and GenerateStringKey, or neither"
        )
    document = json.loads(template)
    document[key] = password
    return json.dumps(document)


def _replica_regions(props: dict[str, Any]) -> list[dict[str, str]]:
    replicas = []
    for replica in props.get("ReplicaRegions") or []:
        entry = {"Region": replica["Region"]}
        if replica.get("KmsKeyId"):
            entry["KmsKeyId"] = replica["KmsKeyId"]
        replicas.append(entry)
    return replicas


class CfnSecret(CfnModel, CloudFormationModel):
    """AWS::SecretsManager::Secret. Ref and GetAtt Id: the secret's ARN."""

    __module__ = "moto.secretsmanager.models"
    TYPE = "AWS::SecretsManager::Secret"
    NAME_PROPERTY = "Name"
    PHYSICAL_ID = "arn"
    ATTRIBUTES = {"Id": lambda secret: secret.arn}

    def __init__(self, account_id: str, region_name: str, arn: str, props: dict[str, Any]):
        super().__init__(account_id, region_name)
        self.arn = arn
        self.properties = props

    @classmethod
    def create(cls, request: Request) -> CfnSecret:
        props = request.properties
        backend = request.backend(secretsmanager_backends)
        if props.get("SecretString") is not None:
            secret_string = props["SecretString"]
        elif props.get("GenerateSecretString") is not None:
            secret_string = generate_secret_string(props["GenerateSecretString"])
        else:
            # CloudFormation's default: a 32-character password with no template.
            secret_string = generate_secret_string({})
        secret, _ = backend._add_secret(
            request.name,
            secret_string=secret_string,
            description=props.get("Description"),
            tags=props.get("Tags"),
            kms_key_id=props.get("KmsKeyId"),
            replica_regions=_replica_regions(props),
        )
        return cls(request.account_id, request.region_name, secret.arn, props)

    @classmethod
    def update(cls, original: CfnSecret, request: Request) -> CfnSecret:
        props = request.properties
        old = original.properties
        if props.get("Name") != old.get("Name"):
            return cls.replace(original, request)

        backend = request.backend(secretsmanager_backends)
        secret = backend.describe_secret(original.arn)
        secret.update(
            description=props.get("Description"),
            tags=props.get("Tags"),
            kms_key_id=props.get("KmsKeyId"),
        )
        new_value = None
        if props.get("SecretString") != old.get("SecretString") and props.get("SecretString"):
            new_value = props["SecretString"]
        elif props.get("GenerateSecretString") != old.get("GenerateSecretString"):
            new_value = generate_secret_string(props.get("GenerateSecretString") or {})
        if new_value is not None:
            backend.put_secret_value(secret.arn, new_value, None, None, ["AWSCURRENT"])

        wanted = {r["Region"]: r for r in _replica_regions(props)}
        present = {r.region for r in secret.replicas}
        gone = [region for region in present if region not in wanted]
        if gone:
            backend.remove_regions_from_replication(secret.arn, gone)
        added = [r for region, r in wanted.items() if region not in present]
        if added:
            backend.replicate_secret_to_regions(secret.arn, added, force_overwrite=False)

        original.properties = props
        return original

    def delete(self, account_id: str, region_name: str) -> None:
        backend = secretsmanager_backends[account_id][region_name]
        secret = backend.describe_secret(self.arn)
        if secret.replicas:
            backend.remove_regions_from_replication(
                self.arn, [replica.region for replica in secret.replicas]
            )
        # CloudFormation deletes without a recovery window, so a redeploy can reuse the name.
        backend.delete_secret(
            self.arn, recovery_window_in_days=None, force_delete_without_recovery=True
        )


# What the attachment writes as "engine" for a cluster's engine.
_SECRET_ENGINE = {"aurora-mysql": "mysql", "aurora": "mysql", "aurora-postgresql": "postgres"}


class CfnSecretTargetAttachment(CfnModel, CloudFormationModel):
    """AWS::SecretsManager::SecretTargetAttachment: adds the database's connection
    details (engine, host, port, dbClusterIdentifier or dbInstanceIdentifier) to the
    secret's JSON. Ref: the secret's ARN."""

    __module__ = "moto.secretsmanager.models"
    TYPE = "AWS::SecretsManager::SecretTargetAttachment"
    PHYSICAL_ID = "secret_arn"
    ATTRIBUTES: dict[str, Any] = {}

    def __init__(self, account_id: str, region_name: str, secret_arn: str):
        super().__init__(account_id, region_name)
        self.secret_arn = secret_arn

    @staticmethod
    def _target_details(
        account_id: str, region_name: str, target_id: str, target_type: str
    ) -> dict[str, Any]:
        rds = rds_backends[account_id][region_name]
        if target_type == "AWS::RDS::DBCluster":
            cluster = rds.describe_db_clusters(target_id)[0]
            return {
                "engine": _SECRET_ENGINE.get(cluster.engine, cluster.engine),
                "host": cluster.endpoint,
                "port": cluster.port,
                "dbClusterIdentifier": cluster.db_cluster_identifier,
            }
        if target_type == "AWS::RDS::DBInstance":
            instance = rds.describe_db_instances(target_id)[0]
            return {
                "engine": instance.engine,
                "host": instance.address,
                "port": instance.port,
                "dbInstanceIdentifier": instance.db_instance_identifier,
            }
        raise ValueError(f"SecretTargetAttachment: unsupported TargetType {target_type}")

    @classmethod
    def create(cls, request: Request) -> CfnSecretTargetAttachment:
        props = request.properties
        backend = request.backend(secretsmanager_backends)
        secret = backend.describe_secret(props["SecretId"])
        current = secret.versions.get(secret.default_version_id or "", {})
        document = json.loads(current.get("secret_string") or "{}")
        document.update(
            cls._target_details(
                request.account_id, request.region_name, props["TargetId"], props["TargetType"]
            )
        )
        backend.put_secret_value(
            secret.arn, json.dumps(document), None, None, ["AWSCURRENT"]
        )
        return cls(request.account_id, request.region_name, secret.arn)

    @classmethod
    def update(
        cls, original: CfnSecretTargetAttachment, request: Request
    ) -> CfnSecretTargetAttachment:
        return cls.create(request)

    def delete(self, account_id: str, region_name: str) -> None:
        # AWS leaves the connection details in the secret.
        return None


def install() -> None:
    sm_models.CfnSecret = CfnSecret
    sm_models.CfnSecretTargetAttachment = CfnSecretTargetAttachment
