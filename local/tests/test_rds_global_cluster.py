"""AWS::RDS::GlobalCluster: created, updated and deleted through CloudFormation."""

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
