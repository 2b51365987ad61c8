"""The project's moto plugin: what moto 5.2.5 lacks for our stacks.

`install()` must run before moto's server handles its first request: moto builds its
CloudFormation type map once (an lru_cache over `CloudFormationModel.__subclasses__()`),
so types registered later are never seen. `python -m moto_plugin` (see __main__.py)
installs the plugin and then runs moto's own server main.

Each part lives in its own module and has its own test under local/tests/:
- cloudformation: `{{resolve:secretsmanager:...}}`, Outputs/exports for stacks deployed
  through change sets, DependsOn order in change sets, failed executions roll back.
- rds: AWS::RDS::GlobalCluster, AWS::RDS::DBCluster (incl. cross-Region secondaries),
  AWS::RDS::DBInstance joining its cluster, SwitchoverGlobalCluster,
  FailoverGlobalCluster, cross-Region RemoveFromGlobalCluster, DeleteDBCluster leaving
  its global cluster, write forwarding status.
- cloudwatch: CloudWatch over Smithy RPC v2 CBOR (the Rust SDK's protocol), translated to
  moto's JSON-protocol handler.
- secretsmanager: AWS::SecretsManager::Secret (GenerateSecretString, ReplicaRegions) and
  AWS::SecretsManager::SecretTargetAttachment.
- awslambda: the simple (no Docker) Lambda backend can answer a queued function error or
  service error, and lists the invocations it answered.
- stepfunctions: Retry waits recorded, and shortened when MOTO_PLUGIN_RETRY_SLEEP_SCALE says.
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

    from . import awslambda, cloudformation, cloudwatch, rds, secretsmanager, stepfunctions

    cloudwatch.install()
    rds.install()
    secretsmanager.install()
    awslambda.install()
    stepfunctions.install()
    # Last: it registers the resource types defined above with moto's parser.
    cloudformation.install()
    _installed = True
