"""A deleted cluster's automated backups go with it, as on AWS; moto kept them, so a
cluster created again with the same name in the same minute failed on its old
`rds:<cluster>-<minute>` snapshot (seen when `deploy destroy` was followed by `up`)."""


def create(rds, identifier):
    rds.create_db_cluster(
        DBClusterIdentifier=identifier, Engine="aurora-mysql",
        EngineVersion="8.0.mysql_aurora.3.08.2", MasterUsername="admin",
        MasterUserPassword="a-password-1234",
    )


def automated(rds, identifier):
    snapshots = rds.describe_db_cluster_snapshots(SnapshotType="automated")["DBClusterSnapshots"]
    return [s for s in snapshots if s["DBClusterIdentifier"] == identifier]


def test_a_cluster_can_be_created_again_at_once_after_its_deletion(client):
    rds = client("rds")
    create(rds, "again")
    assert automated(rds, "again"), "moto takes an automated backup at creation"
    rds.delete_db_cluster(DBClusterIdentifier="again", SkipFinalSnapshot=True)
    assert automated(rds, "again") == []
    create(rds, "again")
    assert rds.describe_db_clusters(DBClusterIdentifier="again")["DBClusters"][0]["Status"]
