"""The base of the plugin's CloudFormation resource types.

moto's parser drives a resource type through `CloudFormationModel`: two static methods
naming the type and its name property, `physical_resource_id` (what Ref answers),
`has_cfn_attr`/`get_cfn_attribute` (GetAtt), three classmethods with long signatures
(`create_from_cloudformation_json`, `update_from_cloudformation_json`,
`delete_from_cloudformation_json`) and `is_created`. `CfnModel` answers all of that from a
few class attributes and hands each call to a short hook with one `Request`:

    class CfnThing(CfnModel, CloudFormationModel):
        __module__ = "moto.things.models"
        TYPE = "AWS::Things::Thing"
        NAME_PROPERTY = "ThingName"
        PHYSICAL_ID = "name"                      # Ref: the attribute holding the name
        ATTRIBUTES = {"Arn": lambda thing: ...}   # GetAtt

        @classmethod
        def create(cls, request): ...             # request.properties, request.backend(...)
        @classmethod
        def update(cls, original, request): ...   # cls.replace(original, request) to replace
        def delete(self, account_id, region_name): ...

`CfnModel` is a mixin, listed before `CloudFormationModel`: moto finds resource types as
the direct subclasses of `CloudFormationModel` (parsing.get_model_list,
`__subclasses__()`), which also gives it each type's name property, so every model must stay
one. `__module__` names moto's models module of the service: moto files each model class
under the service its module names (InstanceTrackerMeta: /moto-api/data.json, reset).
"""

from __future__ import annotations

from typing import Any, Callable, ClassVar, Mapping, NamedTuple


class Request(NamedTuple):
    """One call of moto's parser: the physical name it chose (the name property's value,
    or one generated from the stack and logical ID), the resource's template entry (Type,
    Properties with references resolved, DeletionPolicy, ...), the account and the Region;
    on create, moto's keyword arguments (LogicalId, StackId, ResourceType)."""

    name: str
    template: dict[str, Any]
    account_id: str
    region_name: str
    extra: Mapping[str, Any] | None = None

    @property
    def properties(self) -> dict[str, Any]:
        return self.template.get("Properties") or {}

    def backend(self, backends: Any) -> Any:
        """This account's and Region's backend in one of moto's BackendDicts."""
        return backends[self.account_id][self.region_name]


class CfnModel:
    """moto's CloudFormationModel interface, from the class attributes and hooks below."""

    # The resource type, and the property that names a resource of it ("": none, so moto
    # generates the name). The name property's value or the generated name is request.name.
    TYPE: ClassVar[str]
    NAME_PROPERTY: ClassVar[str] = ""
    # The instance attribute holding the physical ID: what Ref answers.
    PHYSICAL_ID: ClassVar[str]
    # GetAtt: attribute name -> how to read it from the model. None as a value: a name the
    # type has that this model does not answer (GetAtt fails as for an unknown name).
    # None as the whole table: not declared, moto's default (any name passes the template
    # check, as CloudFormationModel.has_cfn_attr answers).
    ATTRIBUTES: ClassVar[Mapping[str, Callable[[Any], Any] | None] | None] = None

    def __init__(self, account_id: str, region_name: str) -> None:
        self.account_id = account_id
        self.region_name = region_name

    # --- the hooks a model implements --------------------------------------------------

    @classmethod
    def create(cls, request: Request) -> Any:
        """Create the resource; returns the model moto keeps for it."""
        raise NotImplementedError(f"{cls.__name__}.create")

    @classmethod
    def update(cls, original: Any, request: Request) -> Any:
        """Apply the template's new properties to `original`, or replace it
        (`cls.replace`); returns the model moto keeps from now on."""
        raise NotImplementedError(f"{cls.__name__}.update")

    @classmethod
    def delete_named(cls, request: Request) -> None:
        """Delete by physical name (request.name), where moto has no model whose delete()
        it can call. Does nothing unless a model says otherwise, as moto skips a type
        without delete_from_cloudformation_json."""

    # delete(self, account_id, region_name) is moto's own hook, called on the model; each
    # model defines it (moto falls back to delete_named when it is missing).

    @classmethod
    def replace(cls, original: Any, request: Request) -> Any:
        """CloudFormation's replacement: the new resource is created, then the old one
        deleted."""
        replacement = cls.create(request)
        original.delete(request.account_id, request.region_name)
        return replacement

    # --- moto's CloudFormationModel ------------------------------------------------------

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.TYPE

    @classmethod
    def cloudformation_name_type(cls) -> str:
        return cls.NAME_PROPERTY

    @property
    def physical_resource_id(self) -> str:
        return getattr(self, self.PHYSICAL_ID)

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return cls.ATTRIBUTES is None or attr in cls.ATTRIBUTES

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        read = (self.ATTRIBUTES or {}).get(attribute_name)
        if read is None:
            raise UnformattedGetAttTemplateException()
        return read(self)

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        return cls.create(
            Request(resource_name, cloudformation_json, account_id, region_name, kwargs)
        )

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Any:
        return cls.update(
            original_resource,
            Request(new_resource_name, cloudformation_json, account_id, region_name),
        )

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> None:
        cls.delete_named(Request(resource_name, cloudformation_json, account_id, region_name))

    def is_created(self) -> bool:
        return True
