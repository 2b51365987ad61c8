"""AWS::RDS::DBInstance with DBClusterIdentifier really joins its cluster."""

from conftest import deploy, outputs

TEMPLATE = """
Parameters:
  SubnetGroup: {Type: String}
Resources:
  Cluster:
    Type: AWS::RDS::DBCluster
    Properties:
      Engine: aurora-mysql
      MasterUsername: admin
      MasterUserPassword: not-a-real-password
      DBSubnetGroupName: !Ref SubnetGroup
  Writer:
    Type: AWS::RDS::DBInstance
    Properties:
      DBClusterIdentifier: !Ref Cluster
      DBInstanceClass: db.r6g.large
      Engine: aurora-mysql
  Reader:
    Type: AWS::RDS::DBInstance
    DependsOn: Writer
    Properties:
      DBClusterIdentifier: !Ref Cluster
      DBInstanceClass: db.r6g.large
      Engine: aurora-mysql
      PromotionTier: 2
Outputs:
  ClusterId: {Value: !Ref Cluster}
  Writer: {Value: !Ref Writer}
  Reader: {Value: !Ref Reader}
  WriterAddress: {Value: !GetAtt Writer.Endpoint.Address}
"""


def make_subnet_group(client) -> str:
    ec2 = client("ec2")
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]][:2]
    client("rds").create_db_subnet_group(
        DBSubnetGroupName="app-db", DBSubnetGroupDescription="db", SubnetIds=subnets
    )
    return "app-db"


def test_instances_are_members_of_their_cluster(client):
    cfn = client("cloudformation")
    # The subnet group comes in by name, as a parameter from the network stack.
    stack = deploy(cfn, "app-db", TEMPLATE, {"SubnetGroup": make_subnet_group(client)})
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack
    out = outputs(stack)

    rds = client("rds")
    [cluster] = rds.describe_db_clusters(DBClusterIdentifier=out["ClusterId"])["DBClusters"]
    members = {m["DBInstanceIdentifier"]: m for m in cluster["DBClusterMembers"]}
    assert set(members) == {out["Writer"], out["Reader"]}
    assert members[out["Writer"]]["IsClusterWriter"] is True
    assert members[out["Reader"]]["IsClusterWriter"] is False
    assert members[out["Reader"]]["PromotionTier"] == 2
    assert cluster["DBSubnetGroup"] == "app-db"

    [writer] = rds.describe_db_instances(DBInstanceIdentifier=out["Writer"])["DBInstances"]
    assert writer["DBClusterIdentifier"] == out["ClusterId"]
    assert writer["Engine"] == "aurora-mysql"
    assert out["WriterAddress"] == writer["Endpoint"]["Address"]

    # Deleting the stack deletes the instances before their cluster.
    cfn.delete_stack(StackName="app-db")
    assert rds.describe_db_clusters()["DBClusters"] == []
    assert rds.describe_db_instances()["DBInstances"] == []


def test_instance_class_changes_in_place(client):
    cfn = client("cloudformation")
    deploy(cfn, "app-db", TEMPLATE, {"SubnetGroup": make_subnet_group(client)})
    bigger = TEMPLATE.replace("DBInstanceClass: db.r6g.large\n      Engine: aurora-mysql\n  Reader",
                              "DBInstanceClass: db.r6g.xlarge\n      Engine: aurora-mysql\n  Reader")
    stack = deploy(cfn, "app-db", bigger, {"SubnetGroup": "app-db"}, change_set_type="UPDATE")
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    out = outputs(stack)
    [writer] = client("rds").describe_db_instances(DBInstanceIdentifier=out["Writer"])["DBInstances"]
    assert writer["DBInstanceClass"] == "db.r6g.xlarge"
    assert len(client("rds").describe_db_instances()["DBInstances"]) == 2
