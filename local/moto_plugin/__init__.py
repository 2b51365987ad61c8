"""The project's moto plugin: what moto 5.2.5 lacks for our stacks.

`install()` must run before moto's server handles its first request: moto builds its
CloudFormation type map once (an lru_cache over `CloudFormationModel.__subclasses__()`),
so types registered later are never seen. `python -m moto_plugin` (see __main__.py)
installs the plugin and then runs moto's own server main.

Each part lives in its own module and has its own test under local/tests/:
- cloudformation: `{{resolve:secretsmanager:...}}`, Outputs/exports for stacks deployed
  through change sets, DependsOn order in change sets, failed executions roll back; a
  parameter change updates the resources that read it through a condition, and creates or
  deletes those whose Condition it flips; a resource type the stand-in does not implement
  fails the stack (moto skipped it and reported success).
- scheduler: AWS::Scheduler::Schedule (into moto's Scheduler backend), refusing a time
  zone that is not IANA and a role Scheduler cannot assume.
- rds (what the RDS modules share; installs rds_cloudformation, rds_api, rds_endpoints):
  - rds_cloudformation: AWS::RDS::GlobalCluster, AWS::RDS::DBCluster (incl. cross-Region
    secondaries), AWS::RDS::DBInstance joining its cluster, AWS::RDS::DBClusterParameterGroup.
  - rds_api: SwitchoverGlobalCluster, FailoverGlobalCluster, cross-Region
    RemoveFromGlobalCluster, DeleteDBCluster leaving its global cluster, write forwarding
    status, ModifyGlobalCluster, DescribeDBEngineVersions.
  - rds_database: the master user created in the stand-in MariaDB (MOTO_PLUGIN_MARIADB).
- rds_endpoints (installed by rds): with MOTO_PLUGIN_MARIADB, each aurora-mysql cluster's
  writer and reader endpoints listen on loopback addresses of their own in front of
  MariaDB, with Aurora's rules for the cluster's role (read-only readers, write
  forwarding, the inactive writer endpoint of a secondary); outages, also on switchover.
- ec2: a second S3 gateway endpoint on the same route tables, or a second private-DNS
  interface endpoint for a service, refused as AWS refuses them; a stack's VPC endpoints
  deleted with it; AWS::EC2::SecurityGroupEgress.
- cloudwatch: CloudWatch over Smithy RPC v2 CBOR (the Rust SDK's protocol), translated to
  moto's JSON-protocol handler.
- cloudwatch_alarms: AWS::CloudWatch::Alarm, with PutMetricAlarm's refusals (an SNS
  action in another Region, more than five actions, periods, enumerations).
- sns: AWS::SNS::Subscription (email and https pending confirmation, endpoints checked)
  and AWS::SNS::TopicPolicy.
- secretsmanager: AWS::SecretsManager::Secret (GenerateSecretString, ReplicaRegions) and
  AWS::SecretsManager::SecretTargetAttachment.
- iam: IAM enforced as AWS enforces it (with INITIAL_NO_AUTH_ACTION_COUNT=0): the `test`
  administrator, AWS's actions and resource ARNs, CloudFormation roles' policies, services
  assuming roles they are trusted by, CloudWatch CBOR checked as signed.
- s3: a missing key is 403 without s3:ListBucket; a copy needs s3:GetObject on its source.
- s3_cloudformation: AWS::S3::BucketPolicy applied; a bucket's LoggingConfiguration applied
  through PutBucketLogging's checks (destination exists, same Region, its policy lets S3's
  logging service write).
- lambda_concurrency: ReservedConcurrentExecutions that would leave under 100 of the
  Region's concurrency unreserved refused (also on update, which moto did not apply);
  GetAccountSettings.
- awslambda: with MOTO_PLUGIN_LAMBDA_WORKSPACE, Invoke runs the function's real code on
  cargo-lambda with its role's credentials; the simple (no Docker) Lambda backend can
  answer a queued function error or service error, and lists the invocations it answered.
- server: moto's own request dispatch without a directory listing per request.
- stepfunctions: the engine calls as the state machine's role; CloudFormation state
  machines run (DefinitionSubstitutions); Retry waits recorded, and shortened when
  MOTO_PLUGIN_RETRY_SLEEP_SCALE says.

The resource types above (rds_cloudformation, secretsmanager, scheduler,
s3_cloudformation) are built on one base, cfn_model.CfnModel.
"""

MOTO_VERSION = "5.2.5"

_installed = False


def install() -> None:
    """Apply every patch once; safe to call again."""
    global _installed
    if _installed:
        return
    import moto

    if moto.__version__ != MOTO_VERSION:
        # The patches reach into moto's internals; another version needs the tests rerun
        # (make test-local-plugin) and this pin moved, not a silent half-working server.
        raise RuntimeError(
            f"moto_plugin targets moto {MOTO_VERSION}, found {moto.__version__}"
        )

    from . import (
        awslambda,
        cloudformation,
        cloudwatch,
        ec2,
        iam,
        lambda_concurrency,
        rds,
        s3,
        s3_cloudformation,
        secretsmanager,
        server,
        stepfunctions,
    )

    server.install()
    cloudwatch.install()
    ec2.install()
    # After cloudwatch: it wraps the CBOR route. Seeds the administrator.
    iam.install()
    s3.install()
    s3_cloudformation.install()
    lambda_concurrency.install()
    rds.install()
    secretsmanager.install()
    awslambda.install()
    stepfunctions.install()
    # Last: it registers the resource types defined above with moto's parser.
    cloudformation.install()
    _installed = True
