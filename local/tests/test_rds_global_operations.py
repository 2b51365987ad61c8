"""SwitchoverGlobalCluster, FailoverGlobalCluster, cross-Region RemoveFromGlobalCluster,
and DeleteDBCluster of a member leaving its global cluster."""

import botocore.exceptions
import pytest
from conftest import outputs
from test_rds_db_cluster import deploy_global_database


def writer_arn(client) -> str:
    [global_cluster] = client("rds").describe_global_clusters()["GlobalClusters"]
    [writer] = [m["DBClusterArn"] for m in global_cluster["GlobalClusterMembers"] if m["IsWriter"]]
    return writer


def test_switchover_swaps_the_writer(client):
    primary, secondary = deploy_global_database(client)
    p_arn, s_arn = outputs(primary)["ClusterArn"], outputs(secondary)["ClusterArn"]

    answer = client("rds", "us-east-2").switchover_global_cluster(
        GlobalClusterIdentifier="app-global", TargetDbClusterIdentifier=s_arn
    )["GlobalCluster"]
    # The call's own answer shows the operation under way, as AWS's does.
    assert answer["Status"] == "switching-over"
    assert answer["FailoverState"] == {
        "Status": "pending", "FromDbClusterArn": p_arn, "ToDbClusterArn": s_arn,
        "IsDataLossAllowed": False,
    }

    # The next Describe still shows it under way, as AWS's do for a minute or more; the
    # one after shows it settled.
    [under_way] = client("rds", "us-east-2").describe_global_clusters(
        GlobalClusterIdentifier="app-global"
    )["GlobalClusters"]
    assert under_way["Status"] == "switching-over"
    assert under_way["FailoverState"]["ToDbClusterArn"] == s_arn
    [global_cluster] = client("rds").describe_global_clusters()["GlobalClusters"]
    assert global_cluster["Status"] == "available"
    assert "FailoverState" not in global_cluster
    members = {m["DBClusterArn"]: m for m in global_cluster["GlobalClusterMembers"]}
    assert members[s_arn]["IsWriter"] is True
    assert members[p_arn]["IsWriter"] is False
    # The old primary asked for forwarding too, so it forwards now that it is a secondary.
    assert members[p_arn]["GlobalWriteForwardingStatus"] == "enabled"
    [old_primary] = client("rds").describe_db_clusters(DBClusterIdentifier="app-primary")["DBClusters"]
    assert old_primary["GlobalWriteForwardingStatus"] == "enabled"
    assert old_primary["GlobalClusterIdentifier"] == "app-global"

    # And back again.
    client("rds").switchover_global_cluster(
        GlobalClusterIdentifier="app-global", TargetDbClusterIdentifier=p_arn
    )
    assert writer_arn(client) == p_arn


def test_switchover_to_the_current_writer_is_refused(client):
    primary, _ = deploy_global_database(client)
    with pytest.raises(botocore.exceptions.ClientError) as error:
        client("rds").switchover_global_cluster(
            GlobalClusterIdentifier="app-global",
            TargetDbClusterIdentifier=outputs(primary)["ClusterArn"],
        )
    assert error.value.response["Error"]["Code"] == "InvalidParameterValue"


def test_switchover_errors_for_unknown_names(client):
    deploy_global_database(client)
    rds = client("rds")
    with pytest.raises(botocore.exceptions.ClientError) as error:
        rds.switchover_global_cluster(GlobalClusterIdentifier="nope", TargetDbClusterIdentifier="x")
    assert error.value.response["Error"]["Code"] == "GlobalClusterNotFoundFault"
    with pytest.raises(botocore.exceptions.ClientError) as error:
        rds.switchover_global_cluster(
            GlobalClusterIdentifier="app-global",
            TargetDbClusterIdentifier="arn:aws:rds:eu-west-1:123456789012:cluster:nope",
        )
    assert error.value.response["Error"]["Code"] == "DBClusterNotFoundFault"


def test_failover_with_data_loss(client):
    primary, secondary = deploy_global_database(client)
    p_arn, s_arn = outputs(primary)["ClusterArn"], outputs(secondary)["ClusterArn"]
    answer = client("rds", "us-east-2").failover_global_cluster(
        GlobalClusterIdentifier="app-global", TargetDbClusterIdentifier=s_arn, AllowDataLoss=True
    )["GlobalCluster"]
    assert answer["Status"] == "failing-over"
    assert answer["FailoverState"]["IsDataLossAllowed"] is True
    assert writer_arn(client) == s_arn


def test_failover_without_data_loss_is_a_switchover(client):
    _, secondary = deploy_global_database(client)
    s_arn = outputs(secondary)["ClusterArn"]
    answer = client("rds").failover_global_cluster(
        GlobalClusterIdentifier="app-global", TargetDbClusterIdentifier=s_arn, Switchover=True
    )["GlobalCluster"]
    assert answer["Status"] == "switching-over"
    assert answer["FailoverState"]["IsDataLossAllowed"] is False
    assert writer_arn(client) == s_arn


def test_failover_refuses_allow_data_loss_with_switchover(client):
    _, secondary = deploy_global_database(client)
    with pytest.raises(botocore.exceptions.ClientError) as error:
        client("rds").failover_global_cluster(
            GlobalClusterIdentifier="app-global",
            TargetDbClusterIdentifier=outputs(secondary)["ClusterArn"],
            AllowDataLoss=True, Switchover=True,
        )
    assert error.value.response["Error"]["Code"] == "InvalidParameterCombination"


def test_remove_secondary_from_its_own_region(client):
    primary, secondary = deploy_global_database(client)
    s_arn = outputs(secondary)["ClusterArn"]
    answer = client("rds", "us-east-2").remove_from_global_cluster(
        GlobalClusterIdentifier="app-global", DbClusterIdentifier=s_arn
    )["GlobalCluster"]
    assert [m["DBClusterArn"] for m in answer["GlobalClusterMembers"]] == [outputs(primary)["ClusterArn"]]
    [cluster] = client("rds", "us-east-2").describe_db_clusters(DBClusterIdentifier="app-secondary")["DBClusters"]
    assert "GlobalClusterIdentifier" not in cluster


def test_primary_cannot_leave_while_secondaries_remain(client):
    primary, _ = deploy_global_database(client)
    with pytest.raises(botocore.exceptions.ClientError):
        client("rds").remove_from_global_cluster(
            GlobalClusterIdentifier="app-global", DbClusterIdentifier=outputs(primary)["ClusterArn"]
        )


def test_deleting_the_stacks_in_reverse_order_empties_the_global_cluster(client):
    primary, secondary = deploy_global_database(client)
    client("cloudformation", "us-east-2").delete_stack(StackName="app-db-us-east-2")
    [global_cluster] = client("rds").describe_global_clusters()["GlobalClusters"]
    assert [m["DBClusterArn"] for m in global_cluster["GlobalClusterMembers"]] == [
        outputs(primary)["ClusterArn"]
    ]
    client("cloudformation").delete_stack(StackName="app-db")
    [global_cluster] = client("rds").describe_global_clusters()["GlobalClusters"]
    assert global_cluster["GlobalClusterMembers"] == []
    # DBCluster's default DeletionPolicy is Snapshot: a final snapshot is left behind.
    snapshots = client("rds").describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]
    assert [s["DBClusterIdentifier"] for s in snapshots] == ["app-primary"]
    client("cloudformation").delete_stack(StackName="app-global")
    assert client("rds").describe_global_clusters()["GlobalClusters"] == []


def test_delete_db_cluster_api_leaves_the_global_cluster(client):
    deploy_global_database(client)
    rds2 = client("rds", "us-east-2")
    rds2.delete_db_instance(DBInstanceIdentifier="app-secondary-1")
    rds2.delete_db_cluster(DBClusterIdentifier="app-secondary", SkipFinalSnapshot=True)
    [global_cluster] = client("rds").describe_global_clusters()["GlobalClusters"]
    assert len(global_cluster["GlobalClusterMembers"]) == 1


def test_modify_global_cluster_turns_deletion_protection_off(client):
    deploy_global_database(client)
    rds = client("rds")
    [before] = rds.describe_global_clusters()["GlobalClusters"]
    rds.modify_global_cluster(GlobalClusterIdentifier="app-global", DeletionProtection=True)
    [on] = rds.describe_global_clusters()["GlobalClusters"]
    assert on["DeletionProtection"] is True
    answer = rds.modify_global_cluster(GlobalClusterIdentifier="app-global", DeletionProtection=False)
    assert answer["GlobalCluster"]["DeletionProtection"] is False
    [off] = rds.describe_global_clusters()["GlobalClusters"]
    assert off["DeletionProtection"] is False
    assert before["GlobalClusterIdentifier"] == off["GlobalClusterIdentifier"]
