"""AWS::RDS::GlobalCluster: created, updated and deleted through CloudFormation."""

import botocore.exceptions
import pytest
from conftest import deploy, outputs
from stacks import ENGINE_VERSION, GLOBAL


def test_global_cluster_create_update_delete(client):
    cfn = client("cloudformation")
    stack = deploy(cfn, "app-global", GLOBAL)
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert outputs(stack) == {"GlobalClusterId": "app-global"}

    # Visible from every Region, as on AWS.
    for region in ("us-east-1", "us-east-2"):
        [global_cluster] = client("rds", region).describe_global_clusters()["GlobalClusters"]
        assert global_cluster["GlobalClusterIdentifier"] == "app-global"
        assert global_cluster["Engine"] == "aurora-mysql"
        assert global_cluster["EngineVersion"] == ENGINE_VERSION
        assert global_cluster["StorageEncrypted"] is True
        assert global_cluster["DeletionProtection"] is False

    protected = GLOBAL.replace("StorageEncrypted: true", "StorageEncrypted: true\n      DeletionProtection: true")
    deploy(cfn, "app-global", protected, change_set_type="UPDATE")
    [global_cluster] = client("rds").describe_global_clusters()["GlobalClusters"]
    assert global_cluster["DeletionProtection"] is True

    resources = cfn.describe_stack_resources(StackName="app-global")["StackResources"]
    assert [(r["LogicalResourceId"], r["PhysicalResourceId"], r["ResourceType"]) for r in resources] == [
        ("Global", "app-global", "AWS::RDS::GlobalCluster")
    ]

    cfn.delete_stack(StackName="app-global")
    assert client("rds").describe_global_clusters()["GlobalClusters"] == []


def test_describe_global_clusters_answers_only_the_one_named(client):
    cfn = client("cloudformation")
    deploy(cfn, "app-global", GLOBAL)
    deploy(cfn, "other-global", GLOBAL.replace("app-global", "other-global"))
    for region in ("us-east-1", "us-east-2"):
        rds = client("rds", region)
        assert len(rds.describe_global_clusters()["GlobalClusters"]) == 2
        for name in ("app-global", "other-global"):
            [named] = rds.describe_global_clusters(GlobalClusterIdentifier=name)["GlobalClusters"]
            assert named["GlobalClusterIdentifier"] == name
            [by_arn] = rds.describe_global_clusters(
                GlobalClusterIdentifier=named["GlobalClusterArn"]
            )["GlobalClusters"]
            assert by_arn["GlobalClusterIdentifier"] == name
        with pytest.raises(botocore.exceptions.ClientError) as error:
            rds.describe_global_clusters(GlobalClusterIdentifier="nope")
        assert error.value.response["Error"]["Code"] == "GlobalClusterNotFoundFault"
