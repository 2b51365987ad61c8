"""Small templates shaped like the project's database stacks."""

ENGINE_VERSION = "8.0.mysql_aurora.3.05.2"

GLOBAL = f"""
Resources:
  Global:
    Type: AWS::RDS::GlobalCluster
    Properties:
      GlobalClusterIdentifier: app-global
      Engine: aurora-mysql
      EngineVersion: {ENGINE_VERSION}
      StorageEncrypted: true
Outputs:
  GlobalClusterId:
    Value: !Ref Global
"""

PRIMARY = f"""
Parameters:
  GlobalClusterId: {{Type: String}}
Resources:
  Key:
    Type: AWS::KMS::Key
    Properties:
      KeyPolicy: {{Version: "2012-10-17", Statement: []}}
  Secret:
    Type: AWS::SecretsManager::Secret
    Properties:
      Name: app-master
      GenerateSecretString:
        SecretStringTemplate: '{{"username": "admin"}}'
        GenerateStringKey: password
        ExcludeCharacters: '"@/\\'
        PasswordLength: 30
      ReplicaRegions:
        - Region: us-east-2
  Cluster:
    Type: AWS::RDS::DBCluster
    Properties:
      DBClusterIdentifier: app-primary
      GlobalClusterIdentifier: !Ref GlobalClusterId
      Engine: aurora-mysql
      EngineVersion: {ENGINE_VERSION}
      DatabaseName: reviews
      MasterUsername: !Sub "{{{{resolve:secretsmanager:${{Secret}}:SecretString:username}}}}"
      MasterUserPassword: !Sub "{{{{resolve:secretsmanager:${{Secret}}:SecretString:password}}}}"
      StorageEncrypted: true
      KmsKeyId: !Ref Key
      EnableGlobalWriteForwarding: true
  Instance:
    Type: AWS::RDS::DBInstance
    Properties:
      DBInstanceIdentifier: app-primary-1
      DBClusterIdentifier: !Ref Cluster
      DBInstanceClass: db.r6g.large
      Engine: aurora-mysql
  Attachment:
    Type: AWS::SecretsManager::SecretTargetAttachment
    Properties:
      SecretId: !Ref Secret
      TargetId: !Ref Cluster
      TargetType: AWS::RDS::DBCluster
Outputs:
  ClusterId: {{Value: !Ref Cluster}}
  ClusterArn: {{Value: !GetAtt Cluster.DBClusterArn}}
  Endpoint: {{Value: !GetAtt Cluster.Endpoint.Address}}
  ReadEndpoint: {{Value: !GetAtt Cluster.ReadEndpoint.Address}}
  Port: {{Value: !GetAtt Cluster.Endpoint.Port}}
  SecretArn: {{Value: !Ref Secret}}
"""

SECONDARY = f"""
Parameters:
  GlobalClusterId: {{Type: String}}
Resources:
  Key:
    Type: AWS::KMS::Key
    Properties:
      KeyPolicy: {{Version: "2012-10-17", Statement: []}}
  Cluster:
    Type: AWS::RDS::DBCluster
    Properties:
      DBClusterIdentifier: app-secondary
      GlobalClusterIdentifier: !Ref GlobalClusterId
      SourceRegion: us-east-1
      Engine: aurora-mysql
      EngineVersion: {ENGINE_VERSION}
      StorageEncrypted: true
      KmsKeyId: !Ref Key
      EnableGlobalWriteForwarding: true
  Instance:
    Type: AWS::RDS::DBInstance
    Properties:
      DBInstanceIdentifier: app-secondary-1
      DBClusterIdentifier: !Ref Cluster
      DBInstanceClass: db.r6g.large
      Engine: aurora-mysql
Outputs:
  ClusterId: {{Value: !Ref Cluster}}
  ClusterArn: {{Value: !GetAtt Cluster.DBClusterArn}}
  Endpoint: {{Value: !GetAtt Cluster.Endpoint.Address}}
"""
