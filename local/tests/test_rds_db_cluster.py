"""AWS::RDS::DBCluster: a primary and a cross-Region secondary of one global cluster."""

import pytest
from conftest import deploy, outputs
from stacks import ENGINE_VERSION, GLOBAL, PRIMARY, SECONDARY


def deploy_global_database(client):
    deploy(client("cloudformation"), "app-global", GLOBAL)
    primary = deploy(client("cloudformation"), "app-db", PRIMARY, {"GlobalClusterId": "app-global"})
    secondary = deploy(
        client("cloudformation", "us-east-2"), "app-db-us-east-2", SECONDARY,
        {"GlobalClusterId": "app-global"},
    )
    return primary, secondary


def test_primary_and_secondary_join_the_global_cluster(client):
    primary, secondary = deploy_global_database(client)
    assert primary["StackStatus"] == "CREATE_COMPLETE"
    assert secondary["StackStatus"] == "CREATE_COMPLETE"

    p = outputs(primary)
    assert p["ClusterId"] == "app-primary"
    assert p["ClusterArn"] == "arn:aws:rds:us-east-1:123456789012:cluster:app-primary"
    assert p["Endpoint"].startswith("app-primary.cluster-") and p["Endpoint"].endswith(".us-east-1.rds.amazonaws.com")
    assert p["ReadEndpoint"].startswith("app-primary.cluster-ro-")
    assert p["Port"] == "3306"
    s = outputs(secondary)
    assert s["ClusterArn"] == "arn:aws:rds:us-east-2:123456789012:cluster:app-secondary"
    assert s["Endpoint"].endswith(".us-east-2.rds.amazonaws.com")

    [global_cluster] = client("rds", "us-east-2").describe_global_clusters()["GlobalClusters"]
    members = {m["DBClusterArn"]: m for m in global_cluster["GlobalClusterMembers"]}
    assert members[p["ClusterArn"]]["IsWriter"] is True
    assert members[p["ClusterArn"]]["Readers"] == [s["ClusterArn"]]
    assert members[s["ClusterArn"]]["IsWriter"] is False
    assert members[s["ClusterArn"]]["GlobalWriteForwardingStatus"] == "enabled"

    [cluster] = client("rds", "us-east-2").describe_db_clusters(DBClusterIdentifier="app-secondary")["DBClusters"]
    assert cluster["Engine"] == "aurora-mysql"
    assert cluster["EngineVersion"] == ENGINE_VERSION
    assert cluster["StorageEncrypted"] is True
    assert ":us-east-2:" in cluster["KmsKeyId"]
    assert cluster["GlobalWriteForwardingRequested"] is True
    assert cluster["GlobalWriteForwardingStatus"] == "enabled"
    assert "MasterUsername" not in cluster

    [cluster] = client("rds").describe_db_clusters(DBClusterIdentifier="app-primary")["DBClusters"]
    assert cluster["MasterUsername"] == "admin"
    assert cluster["DatabaseName"] == "reviews"
    assert ":us-east-1:" in cluster["KmsKeyId"]
    assert cluster["GlobalWriteForwardingRequested"] is True
    # Forwarding operates on secondaries; the primary keeps the request for a switchover.
    assert cluster["GlobalWriteForwardingStatus"] == "disabled"


def test_update_changes_write_forwarding_in_place(client):
    deploy_global_database(client)
    arn_before = client("rds", "us-east-2").describe_db_clusters(DBClusterIdentifier="app-secondary")["DBClusters"][0]["DbClusterResourceId"]
    template = SECONDARY.replace("EnableGlobalWriteForwarding: true", "EnableGlobalWriteForwarding: false")
    stack = deploy(client("cloudformation", "us-east-2"), "app-db-us-east-2", template,
                   {"GlobalClusterId": "app-global"}, change_set_type="UPDATE")
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    [cluster] = client("rds", "us-east-2").describe_db_clusters(DBClusterIdentifier="app-secondary")["DBClusters"]
    assert cluster["DbClusterResourceId"] == arn_before
    assert cluster["GlobalWriteForwardingRequested"] is False
    assert cluster["GlobalWriteForwardingStatus"] == "disabled"


@pytest.mark.parametrize(
    "change, reason",
    [
        ("      MasterUserPassword: not-allowed-here\n", "Cannot specify password for cross region replication cluster"),
        ("      ManageMasterUserPassword: true\n", "ManageMasterUserPassword is not supported"),
    ],
)
def test_secondary_rejects_what_aws_rejects(client, change, reason):
    deploy(client("cloudformation"), "app-global", GLOBAL)
    deploy(client("cloudformation"), "app-db", PRIMARY, {"GlobalClusterId": "app-global"})
    template = SECONDARY.replace("      EnableGlobalWriteForwarding: true\n", "      EnableGlobalWriteForwarding: true\n" + change)
    cfn = client("cloudformation", "us-east-2")
    stack = deploy(cfn, "app-db-us-east-2", template, {"GlobalClusterId": "app-global"})
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    failed = [e for e in cfn.describe_stack_events(StackName="app-db-us-east-2")["StackEvents"]
              if e["ResourceStatus"] == "CREATE_FAILED"]
    assert [e["LogicalResourceId"] for e in failed] == ["Cluster"]
    assert reason in failed[0]["ResourceStatusReason"]


def test_encrypted_secondary_needs_a_key_of_its_own_region(client):
    deploy(client("cloudformation"), "app-global", GLOBAL)
    primary = deploy(client("cloudformation"), "app-db", PRIMARY, {"GlobalClusterId": "app-global"})
    primary_key = [r for r in client("cloudformation").describe_stack_resources(StackName="app-db")["StackResources"]
                   if r["LogicalResourceId"] == "Key"][0]["PhysicalResourceId"]
    key_arn = f"arn:aws:kms:us-east-1:123456789012:key/{primary_key}"
    template = SECONDARY.replace("KmsKeyId: !Ref Key", f"KmsKeyId: {key_arn}")
    cfn = client("cloudformation", "us-east-2")
    stack = deploy(cfn, "app-db-us-east-2", template, {"GlobalClusterId": "app-global"})
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    # The rollback removed what the stack had created.
    assert client("rds", "us-east-2").describe_db_clusters()["DBClusters"] == []
