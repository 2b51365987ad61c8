"""Change set execution: DependsOn order, and failures that roll back as on AWS
instead of escaping ExecuteChangeSet as an API error."""

from conftest import deploy

# The instance names its cluster literally, so only DependsOn orders them; it comes
# first in the template on purpose.
DEPENDS_ON = """
Resources:
  Instance:
    Type: AWS::RDS::DBInstance
    DependsOn: Cluster
    Properties:
      DBClusterIdentifier: app-primary
      DBInstanceClass: db.r6g.large
      Engine: aurora-mysql
  Cluster:
    Type: AWS::RDS::DBCluster
    Properties:
      DBClusterIdentifier: app-primary
      Engine: aurora-mysql
      MasterUsername: admin
      MasterUserPassword: not-a-real-password
"""


def test_depends_on_orders_creation(client):
    stack = deploy(client("cloudformation"), "app-db", DEPENDS_ON)
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    [instance] = client("rds").describe_db_instances()["DBInstances"]
    [cluster] = client("rds").describe_db_clusters()["DBClusters"]
    assert [m["DBInstanceIdentifier"] for m in cluster["DBClusterMembers"]] == [
        instance["DBInstanceIdentifier"]
    ]


FAILING = """
Resources:
  Bucket:
    Type: AWS::S3::Bucket
    Properties: {BucketName: app-data}
  Cluster:
    Type: AWS::RDS::DBCluster
    DependsOn: Bucket
    Properties:
      Engine: aurora-mysql
      MasterUsername: admin
      MasterUserPassword: short
"""


def test_failed_create_rolls_back_with_the_reason(client):
    cfn = client("cloudformation")
    stack = deploy(cfn, "app-fail", FAILING)  # ExecuteChangeSet itself succeeds
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    events = cfn.describe_stack_events(StackName="app-fail")["StackEvents"]
    statuses = [(e["LogicalResourceId"], e["ResourceStatus"]) for e in reversed(events)]
    assert statuses == [
        ("app-fail", "REVIEW_IN_PROGRESS"),
        ("app-fail", "CREATE_IN_PROGRESS"),
        ("Cluster", "CREATE_FAILED"),
        ("app-fail", "ROLLBACK_IN_PROGRESS"),
        ("app-fail", "ROLLBACK_COMPLETE"),
    ]
    failed = [e for e in events if e["ResourceStatus"] == "CREATE_FAILED"][0]
    assert failed["ResourceType"] == "AWS::RDS::DBCluster"
    assert "shorter than 8 characters" in failed["ResourceStatusReason"]
    # What the stack had created is gone again.
    assert client("s3").list_buckets()["Buckets"] == []
    [summary] = cfn.list_change_sets(StackName="app-fail")["Summaries"]
    assert summary["ExecutionStatus"] == "EXECUTE_FAILED"


def test_failed_update_reports_update_rollback(client):
    cfn = client("cloudformation")
    good = FAILING.replace("MasterUserPassword: short", "MasterUserPassword: long-enough")
    deploy(cfn, "app-fail", good.replace("DBClusterIdentifier", "X"))
    bad = good.replace("Engine: aurora-mysql", "Engine: no-such-engine")
    stack = deploy(cfn, "app-fail", bad, change_set_type="UPDATE")
    assert stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    events = cfn.describe_stack_events(StackName="app-fail")["StackEvents"]
    failed = [e for e in events if e["ResourceStatus"].endswith("_FAILED")]
    assert [e["LogicalResourceId"] for e in failed] == ["Cluster"]
    assert "no-such-engine" in failed[0]["ResourceStatusReason"]


PARAMETER_ONLY = """
Parameters:
  BucketName: {Type: String}
Resources:
  Bucket:
    Type: AWS::S3::Bucket
    Properties: {BucketName: !Ref BucketName}
  Other:
    Type: AWS::S3::Bucket
    Properties: {BucketName: app-other}
"""


def test_a_change_of_parameters_only_lists_the_resources_that_read_them(client):
    """CloudFormation lists a resource reading a changed parameter as Modify; moto listed
    nothing and still updated it (a new function zip's key is such a change)."""
    cfn = client("cloudformation")
    deploy(cfn, "app-params", PARAMETER_ONLY, {"BucketName": "app-one"})
    cfn.create_change_set(
        StackName="app-params",
        ChangeSetName="cs-params",
        TemplateBody=PARAMETER_ONLY,
        ChangeSetType="UPDATE",
        Parameters=[{"ParameterKey": "BucketName", "ParameterValue": "app-two"}],
    )
    changes = cfn.describe_change_set(StackName="app-params", ChangeSetName="cs-params")
    assert [
        (c["ResourceChange"]["Action"], c["ResourceChange"]["LogicalResourceId"])
        for c in changes["Changes"]
    ] == [("Modify", "Bucket")]
