"""Small conversions for CloudFormation property values."""

from __future__ import annotations

from typing import Any


def cfn_bool(value: Any) -> bool | None:
    """CloudFormation booleans arrive as YAML booleans or as "true"/"false" strings."""
    if value is None or isinstance(value, bool):
        return value
    return str(value).strip().lower() == "true"


def cfn_int(value: Any) -> int | None:
    return None if value is None or value == "" else int(value)


def name_of(value: Any) -> str | None:
    """A resource given by Ref to a moto model without physical_resource_id (the model
    itself) or by name (a plain string, e.g. a stack parameter)."""
    if value is None or isinstance(value, str):
        return value
    return getattr(value, "name", None) or getattr(value, "physical_resource_id")
