"""CloudFormation: register the plugin's resource types and fix change-set deployments.

What moto 5.2.5 does with a change set (moto/cloudformation/models.py):
- CREATE makes a Stack with an empty template; ExecuteChangeSet then runs
  `ResourceMap.update`, which creates the resources but never rebuilds the stack's
  OutputMap, template_dict, parameters or exports, so DescribeStacks shows no Outputs.
- Added resources are created in template order, ignoring DependsOn.
- An exception while creating a resource escapes ExecuteChangeSet as an API error and
  leaves the stack in REVIEW_IN_PROGRESS; AWS instead accepts the call, fails the
  resource, and rolls the stack back. We do what AWS does (stack-level events plus
  one resource-level *_FAILED event carrying the reason).
"""

from __future__ import annotations

import json
import re
from typing import Any

from moto.cloudformation import models as cfn_models
from moto.cloudformation import parsing
from moto.cloudformation.exceptions import ValidationError
from moto.cloudformation.models import ChangeSet, Event, cloudformation_backends
from moto.secretsmanager.models import secretsmanager_backends

from .cloudwatch_alarms import CfnAlarm
from .ec2 import CfnSecurityGroupEgress
from .rds_cloudformation import (
    CfnDBCluster,
    CfnDBClusterParameterGroup,
    CfnDBInstance,
    CfnGlobalCluster,
)
from .scheduler import CfnSchedule
from .secretsmanager import CfnSecret, CfnSecretTargetAttachment
from .sns import CfnSubscription, CfnTopicPolicy

PLUGIN_MODELS = {
    model.cloudformation_type(): model
    for model in (
        CfnGlobalCluster,
        CfnDBCluster,
        CfnDBClusterParameterGroup,
        CfnDBInstance,
        CfnSecret,
        CfnSecretTargetAttachment,
        CfnSchedule,
        CfnAlarm,
        CfnSecurityGroupEgress,
        CfnSubscription,
        CfnTopicPolicy,
    )
}

# --- Resource types ----------------------------------------------------------------------

_moto_get_model_map = parsing.get_model_map


def get_model_map() -> dict[str, Any]:
    # Ours replace moto's for the same type (AWS::RDS::DBInstance) whatever the order in
    # which CloudFormationModel.__subclasses__() lists them.
    return {**_moto_get_model_map(), **PLUGIN_MODELS}


# --- Dynamic references ------------------------------------------------------------------

_SECRETS_REFERENCE = re.compile(r"\{\{resolve:secretsmanager:([^{}]+)\}\}")


def resolve_secret_reference(reference: str, account_id: str, region_name: str) -> str:
    """`secret-id[:SecretString[:json-key[:version-stage[:version-id]]]]`, where the
    secret id is a name or a full ARN (which itself has six colons)."""
    parts = reference.split(":")
    if reference.startswith("arn:"):
        secret_id, rest = ":".join(parts[:7]), parts[7:]
    else:
        secret_id, rest = parts[0], parts[1:]
    rest += [""] * (4 - len(rest))
    value_type, json_key, version_stage, version_id = rest[:4]
    if value_type not in ("", "SecretString"):
        raise ValidationError(
            message=f"Dynamic reference {{{{resolve:secretsmanager:{reference}}}}}: "
            "only SecretString is supported"
        )
    backend = secretsmanager_backends[account_id][region_name]
    value = backend.get_secret_value(
        secret_id, version_id or None, version_stage or None
    ).get("SecretString", "")
    if not json_key:
        return value
    try:
        return str(json.loads(value)[json_key])
    except (ValueError, KeyError, TypeError):
        raise ValidationError(
            message=f"Could not find SecretString key {json_key} in secret {secret_id}"
        )


def resolve_dynamic_references(value: Any, account_id: str, region_name: str) -> Any:
    if isinstance(value, str):
        return _SECRETS_REFERENCE.sub(
            lambda m: resolve_secret_reference(m.group(1), account_id, region_name), value
        )
    if isinstance(value, dict):
        return {
            k: resolve_dynamic_references(v, account_id, region_name)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [resolve_dynamic_references(v, account_id, region_name) for v in value]
    return value


_moto_parse_resource = parsing.parse_resource


class UnsupportedResourceType(ValidationError):
    """moto skips a type it does not know, with a warning, and reports the stack created:
    a resource the stack's users rely on would be missing while the deploy passes."""

    def __init__(self, resource_type: str):
        super().__init__(
            message=f"the local stand-in does not implement {resource_type}: moto would skip "
            "it and report success; add it to local/moto_plugin"
        )


def parse_resource(resource_json: dict[str, Any], resources_map: Any) -> Any:
    parsed = _moto_parse_resource(resource_json, resources_map)
    if not parsed:
        raise UnsupportedResourceType(resource_json["Type"])
    resource_class, cleaned, resource_type = parsed
    # Resolved in the stack's Region, at the moment the resource is created or updated,
    # and only in Properties (AWS rejects them in Outputs).
    cleaned["Properties"] = resolve_dynamic_references(
        cleaned.get("Properties", {}),
        resources_map._account_id,
        resources_map._region_name,
    )
    return resource_class, cleaned, resource_type


# --- YAML short forms ----------------------------------------------------------------------


def yaml_tag_constructor(loader: Any, tag: str, node: Any) -> Any:
    """moto splits `!GetAtt Cluster.Endpoint.Address` at every dot and leaves the list
    form's items as YAML nodes; CloudFormation splits at the first dot only."""
    import yaml

    # `!Condition name` is the short form of `Condition: name` (inside Fn::And, Fn::Not,
    # Fn::Or), not of a function.
    key = {"!Ref": "Ref", "!Condition": "Condition"}.get(tag, f"Fn::{tag[1:]}")
    if isinstance(node, yaml.SequenceNode):
        value: Any = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:
        value = loader.construct_scalar(node)
    if tag == "!GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {key: value}


# --- Change sets: DependsOn order, failures, outputs -------------------------------------


def dependency_order(names: list[str], resources: dict[str, Any]) -> list[str]:
    wanted = set(names)
    ordered: list[str] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        depends = resources.get(name, {}).get("DependsOn") or []
        for dependency in [depends] if isinstance(depends, str) else depends:
            if dependency in wanted:
                visit(dependency)
        ordered.append(name)

    for name in names:
        visit(name)
    return ordered


_moto_build_resource_diff = parsing.ResourceMap.build_resource_diff


def build_resource_diff(self: Any, other_template: dict[str, Any], parameters: Any = None) -> Any:
    diff = _moto_build_resource_diff(self, other_template, parameters)
    diff["Add"] = dependency_order(diff["Add"], other_template.get("Resources", {}))
    if parameters:
        # moto marks a resource modified by a changed parameter only when the resource
        # names the parameter itself; one that reads it through a condition (Fn::If, or
        # its Condition) changed too, since CloudFormation evaluates conditions again.
        changed = {p for p in parameters if self.input_parameters.get(p) != parameters[p]}
        conditions = _conditions_reading(other_template.get("Conditions") or {}, changed)
        old = self._resource_json_map
        for name, resource in (other_template.get("Resources") or {}).items():
            if name in old and name not in diff["Modify"] and old[name] == resource:
                if conditions & set(_conditions_used(resource)):
                    diff["Modify"].append(name)
    return diff


def _conditions_reading(conditions: dict[str, Any], parameters: set[str]) -> set[str]:
    """The conditions whose value depends on one of `parameters`, also through others."""
    found: set[str] = set()
    grew = True
    while grew:
        grew = False
        for name, body in conditions.items():
            if name in found:
                continue
            uses = set(get_references_from_template(body)) | set(_conditions_used(body))
            if uses & (parameters | found):
                found.add(name)
                grew = True
    return found


def _conditions_used(template: Any) -> list[str]:
    """Condition names a resource or condition reads: Fn::If's first item, Condition keys."""
    used: list[str] = []
    if isinstance(template, dict):
        for key, value in template.items():
            if key == "Fn::If" and isinstance(value, list) and value:
                used.append(value[0])
                used.extend(_conditions_used(value[1:]))
            elif key == "Condition" and isinstance(value, str):
                used.append(value)
            else:
                used.extend(_conditions_used(value))
    elif isinstance(template, list):
        for item in template:
            used.extend(_conditions_used(item))
    return used


_SUB_VARIABLE = re.compile(r"\$\{([^!}][^}]*)\}")


def get_references_from_template(template: Any) -> list[str]:
    """moto's version sees only Ref, so a parameter used through Fn::Sub never marked its
    resources as modified when only the parameter changed."""
    references: list[str] = []
    if isinstance(template, dict):
        for key, value in template.items():
            if key == "Ref":
                references.append(value)
            elif key == "Fn::Sub":
                text = value[0] if isinstance(value, list) else value
                if isinstance(text, str):
                    references.extend(m.split(".")[0] for m in _SUB_VARIABLE.findall(text))
                if isinstance(value, list) and len(value) > 1:
                    references.extend(get_references_from_template(value[1]))
            else:
                references.extend(get_references_from_template(value))
    elif isinstance(template, list):
        for item in template:
            references.extend(get_references_from_template(item))
    return references


def _label_failure(error: Exception, logical_id: str, resource_json: dict[str, Any]) -> None:
    # The innermost resource that failed is the one to report: resources are created
    # lazily, so one resource's Ref can create (and fail) another inside it.
    if not hasattr(error, "cfn_logical_id"):
        error.cfn_logical_id = logical_id  # type: ignore[attr-defined]
        error.cfn_resource_type = resource_json.get("Type")  # type: ignore[attr-defined]


_moto_parse_and_create_resource = parsing.parse_and_create_resource
_moto_parse_and_update_resource = parsing.parse_and_update_resource


def parse_and_create_resource(logical_id: str, resource_json: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return _moto_parse_and_create_resource(logical_id, resource_json, *args, **kwargs)
    except Exception as error:
        _label_failure(error, logical_id, resource_json)
        raise


def parse_and_update_resource(logical_id: str, resource_json: dict[str, Any], resources_map: Any,
                              *args: Any, **kwargs: Any) -> Any:
    # moto updates a resource whatever its Condition says. CloudFormation deletes one whose
    # condition turned false and creates one whose condition turned true (user guide,
    # "Conditions syntax": a resource is created only while its condition is true).
    condition = resource_json.get("Condition")
    if condition is not None:
        exists = logical_id in resources_map._parsed_resources
        if not resources_map.lazy_condition_map[condition]:
            if exists:
                resource = resources_map._parsed_resources.pop(logical_id)
                resources_map._delete_resource(resource, resource_json)
            return None  # dropped from the map again by update (below)
        if not exists:
            return resources_map[logical_id]
    try:
        return _moto_parse_and_update_resource(logical_id, resource_json, resources_map, *args, **kwargs)
    except Exception as error:
        _label_failure(error, logical_id, resource_json)
        raise


def _refresh_exports(stack: Any) -> None:
    backend = cloudformation_backends[stack.account_id][stack.region_name]
    for name in [n for n, e in backend.exports.items() if e.exporting_stack_id == stack.stack_id]:
        backend.exports.pop(name)
    backend._validate_export_uniqueness(stack)
    for export in stack.exports:
        backend.exports[export.name] = export


_moto_resource_map_update = parsing.ResourceMap.update


def resource_map_update(self: Any, template: dict[str, Any], parameters: Any = None) -> None:
    _moto_resource_map_update(self, template, parameters)
    # moto records the None that a resource whose condition is false updates to.
    for logical_id in [k for k, v in self._parsed_resources.items() if v is None]:
        del self._parsed_resources[logical_id]


def change_set_diff(self: ChangeSet) -> list[Any]:
    """The change set's Changes, as the update will make them. moto listed them from the
    template alone (build_change_set_actions diffs without the parameters), so a change of
    parameters only, such as a function zip's new S3 key, showed no change while executing
    the set still updated the resources. CloudFormation lists each resource that reads a
    changed parameter as a Modify (API reference, ResourceChangeDetail: ChangeSource
    `ParameterReference`)."""
    resource_map = self.stack.resource_map
    names = resource_map.build_resource_diff(self.template_dict, self.parameters)
    new = self.template_dict.get("Resources") or {}
    old = resource_map._resource_json_map
    changes = []
    for action in ("Add", "Modify", "Remove"):
        for name in names[action]:
            source = old if action == "Remove" else new
            changes.append(
                cfn_models.Change(
                    action=action,
                    logical_resource_id=name,
                    resource_type=source[name]["Type"],
                )
            )
    return changes


def change_set_apply(self: ChangeSet) -> None:
    stack = self.stack
    backend = cloudformation_backends[stack.account_id][stack.region_name]
    # A stack made by a CREATE change set got a private, empty export table.
    stack.cross_stack_resources = backend.exports
    stack.resource_map.cross_stack_resources = backend.exports
    stack.resource_map.update(self.template_dict, self.parameters)
    stack.template = self.template
    stack.template_dict = self.template_dict
    stack.description = self.template_dict.get("Description")
    stack.parameters = dict(self.parameters or {})
    stack.output_map = stack._create_output_map()
    _refresh_exports(stack)


def _event(stack: Any, logical_id: str, resource_type: str, status: str, reason: str | None, physical_id: str = "") -> None:
    stack.events.append(
        Event(
            stack_id=stack.stack_id,
            stack_name=stack.name,
            logical_resource_id=logical_id,
            physical_resource_id=physical_id,
            resource_type=resource_type,
            resource_status=status,
            resource_status_reason=reason,
            resource_properties=None,
        )
    )


_moto_execute_change_set = cfn_models.CloudFormationBackend.execute_change_set


def execute_change_set(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
    change_set = self.change_sets.get(change_set_name) or next(
        (cs for cs in self.change_sets.values() if cs.change_set_name == change_set_name
         and (stack_name is None or stack_name in (cs.stack_name, cs.stack_id))),
        None,
    )
    if change_set is None:
        raise ValidationError(
            message=f"ChangeSet [{change_set_name}] does not exist"
        )
    if change_set.execution_status != "AVAILABLE":
        raise ValidationError(
            message=f"ChangeSet [{change_set.change_set_id}] cannot be executed in its "
            f"current execution status of [{change_set.execution_status}]"
        )
    try:
        _moto_execute_change_set(self, change_set.change_set_id, stack_name)
    except Exception as error:
        _roll_back(self, change_set, error)


def _roll_back(backend: Any, change_set: ChangeSet, error: Exception) -> None:
    stack = backend.stacks[change_set.stack_id]
    creating = change_set.change_set_type == "CREATE"
    logical_id = getattr(error, "cfn_logical_id", None)
    reason = getattr(error, "message", None) or str(error) or type(error).__name__
    if logical_id:
        _event(
            stack,
            logical_id,
            getattr(error, "cfn_resource_type", None) or "",
            "CREATE_FAILED" if creating or logical_id not in stack.resource_map._parsed_resources else "UPDATE_FAILED",
            reason,
        )
        summary = f"The following resource(s) failed to {'create' if creating else 'update'}: [{logical_id}]. "
    else:
        summary = reason
    if creating:
        stack._add_stack_event("ROLLBACK_IN_PROGRESS", resource_status_reason=summary + " Rollback requested by user.")
        try:
            stack.resource_map.delete()
        except Exception:
            pass  # AWS would show DELETE_FAILED resources; the stack still ends rolled back.
        stack._add_stack_event("ROLLBACK_COMPLETE")
        stack.status = "ROLLBACK_COMPLETE"
    else:
        # moto cannot undo the resources it already changed; only the status says so.
        stack._add_stack_event("UPDATE_ROLLBACK_IN_PROGRESS", resource_status_reason=summary)
        stack._add_stack_event("UPDATE_ROLLBACK_COMPLETE")
        stack.status = "UPDATE_ROLLBACK_COMPLETE"
    change_set.execution_status = "EXECUTE_FAILED"
    change_set.status_reason = reason


_moto_delete_stack = cfn_models.CloudFormationBackend.delete_stack


def delete_stack(self: Any, name_or_stack_id: str) -> None:
    """A resource that cannot be deleted leaves the stack DELETE_FAILED, as on AWS (the
    DeleteStack call itself succeeds; the stack's events name the resource and why), not an
    error from DeleteStack nor, for a bucket that is not empty, a DELETE_COMPLETE stack with
    the bucket left behind."""
    stack = self.stacks.get(name_or_stack_id) or next(
        (s for s in self.stacks.values() if s.name == name_or_stack_id), None
    )
    if stack is None:
        return _moto_delete_stack(self, name_or_stack_id)
    try:
        _moto_delete_stack(self, stack.stack_id)
    except Exception as error:
        reason = getattr(error, "message", None) or str(error) or type(error).__name__
        self.deleted_stacks.pop(stack.stack_id, None)
        self.stacks[stack.stack_id] = stack
        for logical_id, resource in stack.resource_map._parsed_resources.items():
            if isinstance(resource, str) or resource is None:
                continue
            resource_json = stack.resource_map._resource_json_map.get(logical_id, {})
            if resource_json.get("DeletionPolicy") == "Retain":
                continue
            _event(stack, logical_id, resource_json.get("Type", ""), "DELETE_FAILED", reason)
        stack._add_stack_event(
            "DELETE_FAILED",
            resource_status_reason=f"The following resource(s) failed to delete: "
            f"[{', '.join(sorted(k for k in stack.resource_map._parsed_resources))}]. ",
        )
        stack.status = "DELETE_FAILED"


def _previous_values_as_submitted(original):
    """A parameter given as UsePreviousValue got moto's parsed value (a List<...>
    parameter's Python list), which moto's parameter loading then fails to split; AWS keeps
    the comma-separated text."""

    def create_change_set(self: Any, *args: Any, **kwargs: Any) -> Any:
        parameters = kwargs.get("parameters")
        if isinstance(parameters, dict):
            kwargs["parameters"] = {
                key: ",".join(map(str, value)) if isinstance(value, list) else value
                for key, value in parameters.items()
            }
        return original(self, *args, **kwargs)

    return create_change_set


def install() -> None:
    cfn_models.CloudFormationBackend.delete_stack = delete_stack
    parsing.get_model_map = get_model_map
    for cached in (_moto_get_model_map, parsing.get_model_list, parsing.get_name_type_map):
        cached.cache_clear()
    parsing.parse_resource = parse_resource
    parsing.parse_and_create_resource = parse_and_create_resource
    parsing.parse_and_update_resource = parse_and_update_resource
    parsing.ResourceMap.build_resource_diff = build_resource_diff
    parsing.ResourceMap.update = resource_map_update
    parsing.get_references_from_template = get_references_from_template
    ChangeSet.apply = change_set_apply
    ChangeSet.diff = change_set_diff
    from moto.cloudformation import responses as cfn_responses

    cfn_models.yaml_tag_constructor = yaml_tag_constructor
    cfn_responses.yaml_tag_constructor = yaml_tag_constructor
    cfn_models.CloudFormationBackend.create_change_set = _previous_values_as_submitted(
        cfn_models.CloudFormationBackend.create_change_set
    )
    cfn_models.CloudFormationBackend.execute_change_set = execute_change_set
