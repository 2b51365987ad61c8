"""IAM enforced for every caller, as AWS enforces it (what moto 5.2.5 gets wrong or leaves out).

The shared stand-in runs with `INITIAL_NO_AUTH_ACTION_COUNT=0` (local/up.sh): every AWS
request is authenticated (SigV4) and authorized against the caller's IAM policies. A server
started without it (the plugin's own tests) counts requests as before and checks nothing.

- An administrator: IAM user `admin`, access key `test`/`test`, inline `Allow * on *`, seeded
  at install and again after every `POST /moto-api/reset`. `deploy` and the tests use it.
- moto's enforcement bugs: body-less requests (Lambda GET/DELETE...) failed the signature
  check, because moto signed its parsed query string or even the request headers as the
  payload; form posts (query protocol) are now checked against the bytes that arrived;
  GetCallerIdentity answered `user/moto` for key ids that are not 20 upper-case characters;
  an unsigned request raised KeyError (HTTP 500) instead of MissingAuthenticationToken.
- Errors worded per protocol: JSON services answer AccessDeniedException,
  UnrecognizedClientException, InvalidSignatureException (moto sent query-protocol XML, so
  SDKs saw the code "403"); EC2 answers UnauthorizedOperation.
- Policy evaluation: actions match case-insensitively, `?` is a wildcard and other characters
  are literal (moto used the pattern as a regular expression), `NotResource` is honoured
  (moto treated it as "any resource"), and a statement whose principal or condition does not
  apply is ignored instead of denying. Conditions are otherwise moto's: it evaluates only
  `StringEquals` on `sts:ExternalId` (and here `Bool` on `aws:SecureTransport`, true: the
  stand-in's HTTP endpoint stands for AWS's HTTPS one) and ignores every other condition, so a statement
  scoped by a condition (`s3:prefix`, `kms:ViaService`, ...) grants more here than on AWS.
- Trust policies: `Principal: "*"` and `{"AWS": "arn:aws:iam::ACCOUNT:root"}` (any principal
  of the account) work; a role that trusts only a service (`{"Service": ...}`) can be assumed
  by no user or role (moto raised TypeError, HTTP 500, instead): the services assume their
  roles in-process through `service_credentials` (Lambda, Step Functions), which checks that
  the trust policy names that service.
- The IAM action and resource ARN AWS authorizes for the calls this project's roles make
  (AUTHORIZATION below; moto checked non-S3 calls against resource "*", so a statement
  naming a resource never matched, and checked `lambda:Invoke`, `monitoring:*`).
- AWS::IAM::Role from CloudFormation: `Policies` stored as JSON text (moto kept the dict and
  every request signed with the role failed with KeyError, HTTP 500), `ManagedPolicyArns`
  attached (AWS managed policies loaded on demand), both applied on stack updates too, and
  managed policies detached before the role is deleted with its stack.
- CloudWatch over CBOR (cloudwatch.py translates it to moto's JSON handler): authenticated
  and authorized as the original request, which is what its signature covers.
- `POST /moto-api/plugin/iam/service-credentials` `{"role_arn", "service"}` answers the
  credentials a service would get for the role (refused as the service would be refused):
  what a function or a state machine runs with, for tests and for looking around.

Not modelled: permission boundaries, session policies, SCPs, resource-based policies other
than a bucket policy's explicit Deny, the calls a service makes on the caller's behalf
(KMS Decrypt behind GetSecretValue), policy variables, presigned URLs (refused).
"""

from __future__ import annotations

import io
import json
import re
import threading
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from moto import settings
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.authorization import ActionAuthenticatorMixin
from moto.core.exceptions import AuthFailureError, JsonRESTError, _RESTError
from moto.iam.access_control import (
    IAMPolicyStatement,
    IAMRequest,
    IAMRequestBase,
    PermissionResult,
    S3IAMRequest,
)
from moto.iam.models import AWSManagedPolicy, IAMBackend, Role, iam_backends
from moto.s3.exceptions import BucketAccessDeniedError, S3AccessDeniedError
from moto.utilities.utils import get_partition

ADMIN_USER = "admin"
ADMIN_KEY_ID = "test"
ADMIN_SECRET = "test"
ADMIN_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
)

LAMBDA = "lambda.amazonaws.com"
STATES = "states.amazonaws.com"

SERVICE_CREDENTIALS_PATH = "{0}/moto-api/plugin/iam/service-credentials"
RAW_BODY = "moto_plugin.raw_body"

_local = threading.local()


def enforcing() -> bool:
    """Whether this server checks requests now (moto's own test of its request counter)."""
    return ActionAuthenticatorMixin.request_count >= settings.INITIAL_NO_AUTH_ACTION_COUNT


# --- the administrator -------------------------------------------------------------------


def seed_admin(account_id: str = DEFAULT_ACCOUNT_ID, partition: str = "aws") -> None:
    iam = iam_backends[account_id][partition]
    if ADMIN_USER in iam.users:
        return
    iam.create_user(region_name="us-east-1", user_name=ADMIN_USER)
    iam.put_user_policy(ADMIN_USER, "AdministratorAccess", ADMIN_POLICY)
    key = iam.create_access_key(ADMIN_USER)
    # The backend indexes keys by id (get_account_id_from reads that index).
    iam.access_keys.pop(key.access_key_id, None)
    key.access_key_id = ADMIN_KEY_ID
    key.secret_access_key = ADMIN_SECRET
    iam.access_keys[ADMIN_KEY_ID] = key


# --- what AWS authorizes -----------------------------------------------------------------
#
# The IAM action and resource ARN of each call, from the Service Authorization Reference
# ("Actions, resources, and condition keys for <service>",
# https://docs.aws.amazon.com/service-authorization/latest/reference/), for the calls the
# project's roles make and scope to resources. Keyed by the SigV4 signing name and the
# operation; the resource function gets moto's response object (params, path, region,
# account) and answers None to keep moto's resource ("*", or its own for IAM/STS/SQS).
# Every other call is checked as `<prefix>:<Operation>` on moto's resource.

# Signing names that are not the IAM service prefix.
IAM_PREFIX = {"monitoring": "cloudwatch"}


def _query(response: Any, name: str) -> str | None:
    values = parse_qs(response.parsed_url.query).get(name)
    if values:
        return values[0]
    value = response.querystring.get(name) if isinstance(response.querystring, dict) else None
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _json(response: Any, name: str) -> str | None:
    try:
        body = json.loads(response.body or "{}")
    except (TypeError, ValueError):
        return None
    value = body.get(name) if isinstance(body, dict) else None
    return value if isinstance(value, str) else None


def _lambda_function(response: Any) -> str | None:
    """`arn:aws:lambda:R:A:function:NAME[:QUALIFIER]` from .../functions/{FunctionName}/...,
    where FunctionName is a name, `NAME:QUALIFIER`, a partial ARN or an ARN."""
    parts = response.path.split("/")
    if "functions" not in parts or parts.index("functions") + 1 >= len(parts):
        return None
    ident = unquote(parts[parts.index("functions") + 1])
    region, account = response.region, response.current_account
    fields = ident.split(":")
    if ident.startswith("arn:") and len(fields) >= 7:
        region, account, name = fields[3], fields[4], fields[6]
        qualifier = fields[7] if len(fields) > 7 else None
    elif len(fields) >= 3 and fields[1] == "function":
        account, name = fields[0], fields[2]
        qualifier = fields[3] if len(fields) > 3 else None
    else:
        name = fields[0]
        qualifier = fields[1] if len(fields) > 1 else None
    qualifier = qualifier or _query(response, "Qualifier")
    arn = f"arn:{response.partition}:lambda:{region}:{account}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn


def _secret(response: Any) -> str | None:
    """The secret's ARN (with its random suffix) whether SecretId names it or is an ARN;
    a secret that does not exist is checked as `secret:NAME` (which `NAME-*` does not
    match: AWS too refuses before it says the secret is missing)."""
    secret_id = _json(response, "SecretId")
    if not secret_id:
        return None
    from moto.secretsmanager.models import secretsmanager_backends

    backend = secretsmanager_backends[response.current_account][response.region]
    secret = backend.secrets.get(secret_id)
    if secret is not None:
        return secret.arn
    if secret_id.startswith("arn:"):
        return secret_id
    return (
        f"arn:{response.partition}:secretsmanager:{response.region}:"
        f"{response.current_account}:secret:{secret_id}"
    )


def _rds(kind: str, parameter: str, regional: bool):
    def resource(response: Any) -> str | None:
        identifier = _query(response, parameter)
        if not identifier:
            return None  # a describe-all: moto's "*", which only `*` statements match
        if identifier.startswith("arn:"):
            return identifier
        region = response.region if regional else ""
        return (
            f"arn:{response.partition}:rds:{region}:{response.current_account}:"
            f"{kind}:{identifier.lower()}"
        )

    return resource


def _json_arn(name: str):
    return lambda response: _json(response, name)


AUTHORIZATION: dict[tuple[str, str], tuple[str | None, Any]] = {
    # AWS Lambda: Invoke is authorized as lambda:InvokeFunction on the function, or on
    # function:NAME:QUALIFIER for a version or alias.
    ("lambda", "Invoke"): ("lambda:InvokeFunction", _lambda_function),
    ("lambda", "GetFunction"): (None, _lambda_function),
    ("lambda", "GetFunctionConfiguration"): (None, _lambda_function),
    # AWS Secrets Manager: secret.
    ("secretsmanager", "GetSecretValue"): (None, _secret),
    ("secretsmanager", "DescribeSecret"): (None, _secret),
    # Amazon RDS: cluster (Regional), global-cluster (no Region in its ARN).
    ("rds", "DescribeDBClusters"): (None, _rds("cluster", "DBClusterIdentifier", True)),
    ("rds", "DescribeGlobalClusters"): (
        None,
        _rds("global-cluster", "GlobalClusterIdentifier", False),
    ),
    # AWS Step Functions: stateMachine, execution.
    ("states", "StartExecution"): (None, _json_arn("stateMachineArn")),
    ("states", "DescribeStateMachine"): (None, _json_arn("stateMachineArn")),
    ("states", "DescribeExecution"): (None, _json_arn("executionArn")),
    ("states", "StopExecution"): (None, _json_arn("executionArn")),
    ("states", "GetExecutionHistory"): (None, _json_arn("executionArn")),
    ("states", "ListExecutions"): (None, _json_arn("stateMachineArn")),
}


# --- errors, worded for the caller's protocol --------------------------------------------


class _AuthError(_RESTError):
    def __init__(self, code: str, message: str, status: int):
        super().__init__(code, message)
        self.code = status


_JSON_NAMES = {
    "AccessDenied": "AccessDeniedException",
    "InvalidClientTokenId": "UnrecognizedClientException",
    "SignatureDoesNotMatch": "InvalidSignatureException",
    "MissingAuthenticationToken": "MissingAuthenticationTokenException",
}
_protocols: dict[str, str] = {}


def _protocol(response: Any) -> str:
    name = getattr(response, "boto3_service_name", "") or ""
    if name not in _protocols:
        try:
            from moto.core.utils import get_service_model

            _protocols[name] = get_service_model(name).metadata.get("protocol", "query")
        except Exception:  # noqa: BLE001 - unknown to botocore: keep moto's wording
            _protocols[name] = "query"
    return _protocols[name]


def _wants_json(response: Any) -> bool:
    content_type = (response.headers.get("Content-Type") or "").lower()
    if "x-www-form-urlencoded" in content_type:
        return False
    return "json" in content_type or _protocol(response) in ("json", "rest-json")


def _reword(error: _RESTError, service: str, json_errors: bool) -> _RESTError:
    if json_errors:
        reworded = JsonRESTError(_JSON_NAMES.get(error.error_type, error.error_type), error.message)
        reworded.code = error.code
        return reworded
    if service == "ec2" and error.error_type == "AccessDenied":
        return _AuthError(
            "UnauthorizedOperation",
            f"You are not authorized to perform this operation. {error.message}",
            403,
        )
    return error


def _missing_token(iam_request_cls: type, service: str, data: Any) -> Exception:
    if iam_request_cls is S3IAMRequest:
        if isinstance(data, dict) and data.get("BucketName"):
            return BucketAccessDeniedError(bucket=data["BucketName"])
        return S3AccessDeniedError()
    if service == "ec2":
        return AuthFailureError()
    return _AuthError("MissingAuthenticationToken", "Request is missing Authentication Token", 403)


# --- the check ---------------------------------------------------------------------------


def _signing_service(headers: Any) -> str:
    scope = (headers.get("Authorization") or "").partition("Credential=")[2].partition(",")[0]
    fields = scope.split("/")
    return fields[3] if len(fields) > 3 else ""


def _authenticate_and_authorize_action(
    self: Any, iam_request_cls: type, resource: str = "*"
) -> None:
    """moto's ActionAuthenticatorMixin._authenticate_and_authorize_action, with AWS's
    actions and resources, errors per protocol, and no 500 for an unsigned request."""
    if getattr(_local, "preauthorized", False):
        return
    if not enforcing():
        ActionAuthenticatorMixin.request_count += 1
        return
    if self.headers.get("X-Amz-Target") in ActionAuthenticatorMixin.PUBLIC_OPERATIONS:
        return
    s3 = iam_request_cls is S3IAMRequest
    service = _signing_service(self.headers) or getattr(self, "service_name", "") or ""
    json_errors = not s3 and _wants_json(self)
    operation = self._get_action()
    operation = operation[0] if isinstance(operation, list) else operation
    action = None
    if not s3:
        action, resource_of = AUTHORIZATION.get((service, operation), (None, None))
        if resource_of is not None:
            resource = resource_of(self) or resource
    try:
        if "Authorization" not in self.headers:
            raise _missing_token(iam_request_cls, service, self.data)
        path = self.raw_path
        query = urlparse(self.uri).query
        if query:
            path += "?" + query
        check(
            iam_request_cls,
            account_id=self.current_account,
            method=self.method,
            path=path,
            data=self.data,
            body=self.raw_body,
            headers=self.headers,
            operation=operation,
            action=action,
            resource=resource,
        )
    except _RESTError as error:
        if s3:
            raise
        raise _reword(error, service, json_errors) from None


def check(
    iam_request_cls: type,
    *,
    account_id: str,
    method: str,
    path: str,
    data: Any,
    body: Any,
    headers: Any,
    operation: str,
    action: str | None,
    resource: str,
) -> None:
    """Authenticates (signature, key, token) and authorizes one request."""
    request = iam_request_cls(
        account_id=account_id,
        method=method,
        path=path,
        data=data,
        body=body,
        headers=headers,
        action=operation,
    )
    prefix, _, name = request._action.partition(":")
    request._action = action or f"{IAM_PREFIX.get(prefix, prefix)}:{name}"
    request._plugin_resource = resource
    request.check_signature()
    request.check_action_permitted(resource)


def _create_aws_request(self: IAMRequestBase) -> Any:
    """The request as signed: the bytes that arrived as its payload (moto signed its parsed
    query string, or the headers, when the body was empty or a form)."""
    from botocore.awsrequest import AWSRequest

    signed_headers = self._get_string_between(
        "SignedHeaders=", ",", self._headers["Authorization"]
    ).split(";")
    headers = self._create_headers_for_aws_request(signed_headers, self._headers)
    body = getattr(self._headers, "environ", {}).get(RAW_BODY)
    if body is None:
        body = self._body
    if isinstance(body, str):
        body = body.encode("utf-8")
    request = AWSRequest(method=self._method, url=self._path, data=body or b"", headers=headers)
    request.context["timestamp"] = headers.get("X-Amz-Date") or headers.get("x-amz-date")
    return request


def _raise_access_denied(self: IAMRequest) -> None:
    resource = getattr(self, "_plugin_resource", "*")
    on = f" on resource: {resource}" if resource and resource != "*" else ""
    raise _AuthError(
        "AccessDenied",
        f"User: {self._access_key.arn} is not authorized to perform: {self._action}{on}"
        f" because no identity-based policy allows the {self._action} action",
        403,
    )


_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")


def _get_access_key(original):
    def get_access_key(self: Any) -> str:
        match = _CREDENTIAL.search(self.headers.get("Authorization", "") or "")
        return match.group(1) if match else original(self)

    return get_access_key


# --- policy evaluation -------------------------------------------------------------------


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _glob(pattern: str, value: str, ignore_case: bool = False) -> bool:
    regex = re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".")
    return re.fullmatch(regex, value, re.IGNORECASE if ignore_case else 0) is not None


def matches(patterns: Any, value: str, ignore_case: bool = False) -> bool:
    return any(_glob(str(p), value, ignore_case) for p in _as_list(patterns))


_ROLE_ARN = re.compile(r"arn:[^:]+:iam::(\d{12}):role/(?:.*/)?([^/]+)")


def _principal_matches(expected: Any, caller: str) -> bool:
    """Whether a policy's Principal names the caller: a user ARN, or an assumed-role
    session ARN (named by its role's ARN); `*`; the caller's account (`ACCOUNT`,
    `arn:aws:iam::ACCOUNT:root`: any principal of that account)."""
    if expected == "*":
        return True
    if not isinstance(expected, dict):
        return False
    fields = caller.split(":")
    account = fields[4] if len(fields) > 5 else ""
    role_name = None
    if ":assumed-role/" in caller:
        role_name = caller.split(":assumed-role/", 1)[1].split("/")[0]
    for entry in _as_list(expected.get("AWS")):
        entry = str(entry)
        if entry in ("*", caller):
            return True
        if account and (entry == account or re.fullmatch(rf"arn:[^:]+:iam::{account}:root", entry)):
            return True
        role = _ROLE_ARN.fullmatch(entry)
        if role and role_name and role.groups() == (account, role_name):
            return True
    return False


def _statement_is_action_permitted(
    self: IAMPolicyStatement,
    action: str,
    resource: str = "*",
    principal: str | None = None,
    incoming_condition_values: dict[str, str] | None = None,
) -> PermissionResult:
    statement = self._statement
    if "NotAction" in statement:
        concerned = not matches(statement["NotAction"], action, ignore_case=True)
    else:
        concerned = matches(statement.get("Action"), action, ignore_case=True)
    if not concerned:
        return PermissionResult.NEUTRAL
    if self.is_unknown_principal(statement.get("Principal")):
        return PermissionResult.NEUTRAL
    if principal and "Principal" in statement:
        if not _principal_matches(statement["Principal"], principal):
            return PermissionResult.NEUTRAL
    if not self._check_conditions(incoming_condition_values):
        return PermissionResult.NEUTRAL
    if not _secure_transport_holds(statement):
        return PermissionResult.NEUTRAL
    if "NotResource" in statement:
        applies = not matches(statement["NotResource"], resource)
    elif statement.get("Resource"):
        applies = matches(statement["Resource"], resource)
    else:  # trust policies name no resource
        applies = True
    if not applies:
        return PermissionResult.NEUTRAL
    if statement.get("Effect") == "Allow":
        return PermissionResult.PERMITTED
    return PermissionResult.DENIED


def _secure_transport_holds(statement: dict[str, Any]) -> bool:
    """`Bool: {aws:SecureTransport: ...}` evaluated as for a call over TLS: the stand-in's
    plain-HTTP endpoint stands for AWS's HTTPS one, where every SDK call is TLS. So our
    buckets' `Deny ... when aws:SecureTransport is false` does not apply to it (moto
    ignored the condition and denied every call once the policy was applied)."""
    for operator, entries in (statement.get("Condition") or {}).items():
        if operator.removesuffix("IfExists") != "Bool" or not isinstance(entries, dict):
            continue
        for key, expected in entries.items():
            if key.lower() == "aws:securetransport":
                if "true" not in [str(e).lower() for e in _as_list(expected)]:
                    return False
    return True


# --- services assuming roles -------------------------------------------------------------


class ServiceRoleError(Exception):
    """The service cannot assume the role (missing, or its trust policy does not name it)."""


_CONDITION_OPERATORS = {
    "StringEquals": lambda expected, actual: actual in expected,
    "StringLike": lambda expected, actual: any(_glob(e, actual) for e in expected),
    "ArnEquals": lambda expected, actual: actual in expected,
    "ArnLike": lambda expected, actual: any(_glob(e, actual) for e in expected),
}


def _service_conditions_hold(statement: dict[str, Any], context: dict[str, str]) -> bool:
    """The conditions a service's AssumeRole sets the keys of (aws:SourceAccount,
    aws:SourceArn); any other condition is ignored, as moto ignores it."""
    for operator, entries in (statement.get("Condition") or {}).items():
        base = operator.removesuffix("IfExists")
        test = _CONDITION_OPERATORS.get(base)
        if test is None or not isinstance(entries, dict):
            continue
        for key, expected in entries.items():
            actual = context.get(key.lower())
            if actual is None:
                if operator.endswith("IfExists"):
                    continue
                if key.lower() in ("aws:sourceaccount", "aws:sourcearn"):
                    return False
                continue
            if not test([str(e) for e in _as_list(expected)], actual):
                return False
    return True


def trusts(role: Role, service: str, context: dict[str, str] | None = None) -> bool:
    """Whether the role's trust policy lets `service` (e.g. lambda.amazonaws.com) assume it."""
    try:
        document = json.loads(role.assume_role_policy_document)
    except (TypeError, ValueError):
        return False
    context = {k.lower(): v for k, v in (context or {}).items()}
    allowed = False
    for statement in _as_list(document.get("Statement")):
        if not isinstance(statement, dict):
            continue
        if not matches(statement.get("Action"), "sts:AssumeRole", ignore_case=True):
            continue
        principal = statement.get("Principal")
        named = principal == "*" or (
            isinstance(principal, dict)
            and (service in _as_list(principal.get("Service")) or principal.get("AWS") == "*")
        )
        if not named or not _service_conditions_hold(statement, context):
            continue
        if statement.get("Effect") == "Deny":
            return False
        if statement.get("Effect") == "Allow":
            allowed = True
    return allowed


_credentials_lock = threading.Lock()
_credentials: dict[tuple[str, str, str], Any] = {}


def service_credentials(
    role_arn: str,
    service: str,
    session_name: str,
    region: str,
    source_arn: str | None = None,
) -> Any:
    """An STS AssumedRole for `role_arn`, assumed in-process as `service` assumes it: the
    role must exist and trust the service (checked while IAM is enforced). Reused while it
    lives (`/moto-api/reset` drops it)."""
    from moto.iam.exceptions import NotFoundException
    from moto.sts.models import sts_backends

    fields = role_arn.split(":")
    if len(fields) < 6 or not fields[5].startswith("role/"):
        raise ServiceRoleError(f"{role_arn} is not a role ARN")
    account, partition = fields[4], get_partition(region)
    if enforcing():
        try:
            role = iam_backends[account][partition].get_role_by_arn(role_arn)
        except NotFoundException:
            raise ServiceRoleError(f"role {role_arn} does not exist") from None
        context = {"aws:SourceAccount": account}
        if source_arn:
            context["aws:SourceArn"] = source_arn
        if not trusts(role, service, context):
            raise ServiceRoleError(
                f"the trust policy of {role_arn} does not let {service} assume it"
            )
    backend = sts_backends[account][partition]
    key = (account, role_arn, session_name)
    with _credentials_lock:
        assumed = _credentials.get(key)
        if assumed is None or not any(a is assumed for a in backend.assumed_roles):
            assumed = backend.assume_role(
                region_name=region,
                role_session_name=session_name[:64],
                role_arn=role_arn,
                policy=None,
                duration=43200,
                external_id=None,
            )
            _credentials[key] = assumed
        return assumed


def service_credentials_endpoint(request: Any, full_url: str, headers: Any):
    try:
        body = json.loads(request.get_data() or b"{}")
        role_arn, service = body["role_arn"], body["service"]
    except (ValueError, KeyError, TypeError):
        return 400, {"Content-Type": "application/json"}, json.dumps(
            {"error": 'POST {"role_arn": ..., "service": "lambda.amazonaws.com"}'}
        )
    region = body.get("region", "us-east-1")
    try:
        assumed = service_credentials(
            role_arn,
            service,
            body.get("session_name", service.split(".")[0]),
            region,
            body.get("source_arn"),
        )
    except ServiceRoleError as error:
        return 403, {"Content-Type": "application/json"}, json.dumps({"error": str(error)})
    return 200, {"Content-Type": "application/json"}, json.dumps(
        {
            "AccessKeyId": assumed.access_key_id,
            "SecretAccessKey": assumed.secret_access_key,
            "SessionToken": assumed.session_token,
            "Arn": assumed.arn,
        }
    )


# --- AWS::IAM::Role from CloudFormation --------------------------------------------------

_aws_managed: dict[str, Any] | None = None


def _load_aws_managed_policy(backend: IAMBackend, policy_arn: str) -> None:
    """AWS managed policies exist in moto only with MOTO_IAM_LOAD_MANAGED_POLICIES (all
    of them, for every account): load the one asked for."""
    global _aws_managed
    if policy_arn in backend.managed_policies or ":iam::aws:policy/" not in policy_arn:
        return
    if _aws_managed is None:
        from moto.iam.aws_managed_policies import aws_managed_policies_data

        _aws_managed = json.loads(aws_managed_policies_data)
    name = policy_arn.rsplit("/", 1)[-1]
    data = _aws_managed.get(name)
    if data is None:
        return
    policy = AWSManagedPolicy.from_data(name, backend.account_id, backend.region_name, data)
    if policy.arn == policy_arn:
        backend.managed_policies[policy.arn] = policy


def _wrap_attach(original):
    def attach(self: IAMBackend, policy_arn: str, name: str) -> None:
        _load_aws_managed_policy(self, policy_arn)
        return original(self, policy_arn, name)

    return attach


def _put_policy(original):
    def put_policy(self: Role, policy_name: str, policy_json: Any) -> None:
        if not isinstance(policy_json, str):
            policy_json = json.dumps(policy_json)
        original(self, policy_name, policy_json)

    return put_policy


def _role_backend(account_id: str, region_name: str) -> IAMBackend:
    return iam_backends[account_id][get_partition(region_name)]


def _managed_arns(properties: dict[str, Any]) -> list[str]:
    return [str(arn) for arn in properties.get("ManagedPolicyArns") or []]


def _create_role(original):
    def create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        role = original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        backend = _role_backend(account_id, region_name)
        for arn in _managed_arns(cloudformation_json.get("Properties", {})):
            backend.attach_role_policy(arn, role.name)
        return role

    return classmethod(create)


def _update_role(
    cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
):
    """What AWS::IAM::Role updates in place: trust policy, inline and managed policies,
    description, session duration (moto changed only the description)."""
    backend = _role_backend(account_id, region_name)
    properties = cloudformation_json.get("Properties", {})
    role = original_resource
    trust = properties.get("AssumeRolePolicyDocument")
    if trust is not None:
        role.assume_role_policy_document = trust if isinstance(trust, str) else json.dumps(trust)
    role.description = properties.get("Description", "")
    role.max_session_duration = properties.get("MaxSessionDuration", 3600)
    wanted = {p["PolicyName"]: p["PolicyDocument"] for p in properties.get("Policies") or []}
    for name in list(role.policies):
        if name not in wanted:
            role.delete_policy(name)
    for name, document in wanted.items():
        role.put_policy(name, document)
    new_arns = _managed_arns(properties)
    for arn in list(role.managed_policies):
        if arn not in new_arns:
            backend.detach_role_policy(arn, role.name)
    for arn in new_arns:
        if arn not in role.managed_policies:
            backend.attach_role_policy(arn, role.name)
    return role


def _delete_role(original):
    def delete(cls, resource_name, cloudformation_json, account_id, region_name):
        backend = _role_backend(account_id, region_name)
        for role in list(backend.roles.values()):
            if role.name == resource_name:
                for arn in list(role.managed_policies):
                    backend.detach_role_policy(arn, role.name)
        return original(cls, resource_name, cloudformation_json, account_id, region_name)

    return classmethod(delete)


# --- the request body as it arrived ------------------------------------------------------


_UNSIGNED_PASS = ("/moto-api", "/favicon.ico", "/latest/")
_PUBLIC_TARGETS = set(ActionAuthenticatorMixin.PUBLIC_OPERATIONS)


def _unsigned_refusal(environ: dict[str, Any]) -> tuple[str, str, bytes] | None:
    """An unsigned request, refused before moto routes it: without a signature moto cannot
    tell the service and may crash (an unsigned Lambda call is routed to S3). AWS answers
    MissingAuthenticationToken; S3 (moto's default route) AccessDenied."""
    if not enforcing() or "HTTP_AUTHORIZATION" in environ:
        return None
    path = environ.get("PATH_INFO") or ""
    query = environ.get("QUERY_STRING") or ""
    if environ.get("REQUEST_METHOD") == "OPTIONS":  # CORS preflight: never signed
        return None
    if path.startswith(_UNSIGNED_PASS) or "Signature=" in query or "X-Amz-Credential" in query:
        return None
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target in _PUBLIC_TARGETS:
        return None
    if target:
        body = {
            "__type": "MissingAuthenticationTokenException",
            "message": "Missing Authentication Token",
        }
        return "application/x-amz-json-1.1", "403 Forbidden", json.dumps(body).encode()
    if (environ.get("CONTENT_TYPE") or "").startswith("application/x-www-form-urlencoded"):
        code, message = "MissingAuthenticationToken", "Request is missing Authentication Token"
        return "text/xml", "403 Forbidden", (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>"
            f"<Message>{message}</Message></Error></ErrorResponse>"
        ).encode()
    return "application/xml", "403 Forbidden", (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
    )


def _keep_form_body(original):
    """werkzeug consumes a form post's body to parse it: keep the bytes for the signature.
    An unsigned request is refused here (_unsigned_refusal)."""

    def __call__(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
        refusal = _unsigned_refusal(environ)
        if refusal is not None:
            content_type, status, body = refusal
            headers = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
            start_response(status, headers)
            return [body]
        if (environ.get("CONTENT_TYPE") or "").startswith("application/x-www-form-urlencoded"):
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length:
                body = environ["wsgi.input"].read(length)
                environ["wsgi.input"] = io.BytesIO(body)
                environ[RAW_BODY] = body
        return original(self, environ, start_response)

    return __call__


# --- CloudWatch over CBOR ----------------------------------------------------------------


def _authorized_cbor(dispatch):
    """cloudwatch.py hands a CBOR request to moto's JSON handler with a JSON body its
    signature does not cover: check the request as it arrived, then let the translation
    through unchecked."""

    def cbor_dispatch(request: Any, full_url: str, headers: Any) -> Any:
        from moto.core.responses import BaseResponse

        from .cloudwatch import encode

        if enforcing():
            operation = full_url.rstrip("/").rsplit("/", 1)[-1].split("?")[0]
            parsed = urlparse(full_url)
            path = getattr(request, "raw_path", None) or parsed.path
            if parsed.query:
                path += "?" + parsed.query
            try:
                if "Authorization" not in request.headers:
                    raise _missing_token(IAMRequest, "monitoring", {})
                probe = BaseResponse()
                probe.headers = request.headers
                probe.querystring = {}
                check(
                    IAMRequest,
                    account_id=probe.get_current_account(),
                    method=request.method,
                    path=path,
                    data={},
                    body=request.get_data(),
                    headers=request.headers,
                    operation=operation,
                    action=None,
                    resource="*",
                )
            except _RESTError as error:
                code = _JSON_NAMES.get(error.error_type, error.error_type)
                return (
                    error.code,
                    {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"},
                    encode({"__type": code, "message": error.message}),
                )
        else:
            ActionAuthenticatorMixin.request_count += 1
        _local.preauthorized = True
        try:
            return dispatch(request, full_url, headers)
        finally:
            _local.preauthorized = False

    return cbor_dispatch


# --- install -----------------------------------------------------------------------------


def install() -> None:
    """After cloudwatch.install(): it wraps the CBOR route that module registers."""
    from moto.core.responses import BaseResponse
    from moto.moto_api._internal import urls as moto_api_urls
    from moto.moto_api._internal.models import MotoAPIBackend
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    from . import cloudwatch

    ActionAuthenticatorMixin._authenticate_and_authorize_action = (
        _authenticate_and_authorize_action
    )
    IAMRequestBase._create_aws_request = _create_aws_request
    IAMRequest._raise_access_denied = _raise_access_denied
    BaseResponse.get_access_key = _get_access_key(BaseResponse.get_access_key)
    IAMPolicyStatement.is_action_permitted = _statement_is_action_permitted
    DomainDispatcherApplication.__call__ = _keep_form_body(DomainDispatcherApplication.__call__)

    Role.put_policy = _put_policy(Role.put_policy)
    Role.create_from_cloudformation_json = _create_role(
        Role.create_from_cloudformation_json.__func__
    )
    Role.update_from_cloudformation_json = classmethod(_update_role)
    Role.delete_from_cloudformation_json = _delete_role(
        Role.delete_from_cloudformation_json.__func__
    )
    for name in ("attach_role_policy", "attach_user_policy", "attach_group_policy"):
        setattr(IAMBackend, name, _wrap_attach(getattr(IAMBackend, name)))

    from moto.cloudwatch import urls as cloudwatch_urls

    route = cloudwatch.PATH
    cloudwatch_urls.url_paths[route] = _authorized_cbor(cloudwatch_urls.url_paths[route])

    moto_api_urls.url_paths[SERVICE_CREDENTIALS_PATH] = service_credentials_endpoint

    seed_admin()
    original_reset = MotoAPIBackend.reset

    def reset(self: MotoAPIBackend) -> None:
        original_reset(self)
        with _credentials_lock:
            _credentials.clear()
        seed_admin()

    MotoAPIBackend.reset = reset
