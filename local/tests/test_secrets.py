"""AWS::SecretsManager::Secret (GenerateSecretString, ReplicaRegions),
AWS::SecretsManager::SecretTargetAttachment, and {{resolve:secretsmanager:...}}."""

import json

import pytest
from conftest import deploy, outputs

SECRET = """
Resources:
  Secret:
    Type: AWS::SecretsManager::Secret
    Properties:
      Name: app-master
      Description: master user
      GenerateSecretString:
        SecretStringTemplate: '{"username": "admin"}'
        GenerateStringKey: password
        ExcludeCharacters: '"@/\\'
        PasswordLength: 30
      ReplicaRegions:
        - Region: us-east-2
Outputs:
  SecretArn: {Value: !Ref Secret}
  SecretId: {Value: !GetAtt Secret.Id}
"""


def secret_json(client, region, secret_id):
    value = client("secretsmanager", region).get_secret_value(SecretId=secret_id)
    return json.loads(value["SecretString"])


def test_generated_secret_with_replica(client):
    cfn = client("cloudformation")
    stack = deploy(cfn, "app-secret", SECRET)
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    arn = outputs(stack)["SecretArn"]
    assert arn.startswith("arn:aws:secretsmanager:us-east-1:123456789012:secret:app-master-")
    assert outputs(stack)["SecretId"] == arn

    document = secret_json(client, "us-east-1", "app-master")
    assert document["username"] == "admin"
    password = document["password"]
    assert len(password) == 30
    assert not set(password) & set('"@/\\')

    # The replica: same name, same value, in the other Region's backend.
    described = client("secretsmanager", "us-east-2").describe_secret(SecretId="app-master")
    assert described["PrimaryRegion"] == "us-east-1"
    assert ":us-east-2:" in described["ARN"]
    assert secret_json(client, "us-east-2", "app-master")["password"] == password

    # Deleting the stack removes the replica too, and frees the name at once.
    cfn.delete_stack(StackName="app-secret")
    for region in ("us-east-1", "us-east-2"):
        assert client("secretsmanager", region).list_secrets()["SecretList"] == []
    assert deploy(cfn, "app-secret-again", SECRET)["StackStatus"] == "CREATE_COMPLETE"


def test_plain_generated_password_without_template(client):
    template = """
Resources:
  Token:
    Type: AWS::SecretsManager::Secret
    Properties:
      GenerateSecretString: {PasswordLength: 12, ExcludePunctuation: true}
"""
    deploy(client("cloudformation"), "app-token", template)
    [secret] = client("secretsmanager").list_secrets()["SecretList"]
    value = client("secretsmanager").get_secret_value(SecretId=secret["ARN"])["SecretString"]
    assert len(value) == 12 and value.isalnum()


ATTACHED = """
Resources:
  Secret:
    Type: AWS::SecretsManager::Secret
    Properties:
      GenerateSecretString:
        SecretStringTemplate: '{"username": "admin"}'
        GenerateStringKey: password
        ExcludeCharacters: '"@/\\'
  Cluster:
    Type: AWS::RDS::DBCluster
    Properties:
      DBClusterIdentifier: app-primary
      Engine: aurora-mysql
      MasterUsername: !Sub "{{resolve:secretsmanager:${Secret}:SecretString:username}}"
      MasterUserPassword: !Sub "{{resolve:secretsmanager:${Secret}:SecretString:password}}"
  Attachment:
    Type: AWS::SecretsManager::SecretTargetAttachment
    Properties:
      SecretId: !Ref Secret
      TargetId: !Ref Cluster
      TargetType: AWS::RDS::DBCluster
Outputs:
  SecretArn: {Value: !Ref Attachment}
  Endpoint: {Value: !GetAtt Cluster.Endpoint.Address}
"""


def test_target_attachment_adds_connection_details(client):
    stack = deploy(client("cloudformation"), "app-db", ATTACHED)
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    out = outputs(stack)
    document = secret_json(client, "us-east-1", out["SecretArn"])
    assert document["username"] == "admin"
    assert document["engine"] == "mysql"
    assert document["host"] == out["Endpoint"]
    assert document["port"] == 3306
    assert document["dbClusterIdentifier"] == "app-primary"


def test_dynamic_reference_resolves_into_properties(client):
    """The username came through {{resolve:...}}; it is what the cluster reports."""
    deploy(client("cloudformation"), "app-db", ATTACHED)
    [cluster] = client("rds").describe_db_clusters(DBClusterIdentifier="app-primary")["DBClusters"]
    assert cluster["MasterUsername"] == "admin"


@pytest.mark.parametrize(
    "reference",
    [
        "{{resolve:secretsmanager:app-params:SecretString:name}}",
        "{{resolve:secretsmanager:app-params:SecretString:name:AWSCURRENT}}",
        "{{resolve:secretsmanager:ARN:SecretString:name}}",
        "prefix-{{resolve:secretsmanager:app-params:SecretString:name}}-suffix",
    ],
)
def test_dynamic_reference_forms(client, reference):
    sm = client("secretsmanager")
    arn = sm.create_secret(Name="app-params", SecretString='{"name": "reviews"}')["ARN"]
    template = f"""
Resources:
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: "{reference.replace("ARN", arn)}"
Outputs:
  Bucket: {{Value: !Ref Bucket}}
"""
    stack = deploy(client("cloudformation"), "app-bucket", template)
    expected = "prefix-reviews-suffix" if reference.startswith("prefix") else "reviews"
    assert outputs(stack)["Bucket"] == expected


def test_dynamic_reference_to_a_missing_secret_fails_the_stack(client):
    template = """
Resources:
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: "{{resolve:secretsmanager:nowhere:SecretString:name}}"
"""
    cfn = client("cloudformation")
    stack = deploy(cfn, "app-bucket", template)
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
