"""EC2: VPC endpoints as AWS refuses and removes them.

moto 5.2.5 accepts a second S3 gateway endpoint on route tables that already route to S3
through one, and a second interface endpoint with private DNS for the same service in a
VPC; AWS refuses both (CreateVpcEndpoint: a gateway endpoint adds a route for the
service's prefix list to each route table, and a route table takes one route per
destination, RouteAlreadyExists; a private DNS name can be served by one endpoint per VPC).
And a stack's AWS::EC2::VPCEndpoint outlived the stack: moto had no delete for it.
"""

from __future__ import annotations

from typing import Any

from moto.core.common_models import CloudFormationModel
from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models import ec2_backends
from moto.ec2.models.vpcs import VPCEndPoint, VPCBackend

from .cfn_model import CfnModel, Request


class RouteAlreadyExists(EC2ClientError):
    def __init__(self, route_table_id: str, prefix_list: str):
        super().__init__(
            "RouteAlreadyExists",
            f"route table {route_table_id} already has a route with destination-prefix-list-id {prefix_list}",
        )


class ConflictingPrivateDns(EC2ClientError):
    def __init__(self, service_name: str, vpc_id: str, existing: str):
        super().__init__(
            "InvalidParameter",
            f"private-dns-enabled cannot be set because there is already a conflicting DNS domain for "
            f"{service_name} in the VPC {vpc_id} (endpoint {existing})",
        )


_moto_create = VPCBackend.create_vpc_endpoint


def create_vpc_endpoint(self: Any, vpc_id: str, service_name: str, endpoint_type: str | None,
                        *args: Any, **kwargs: Any) -> VPCEndPoint:
    route_table_ids = kwargs.get("route_table_ids")
    if route_table_ids is None and len(args) >= 2:
        route_table_ids = args[1]
    private_dns = kwargs.get("private_dns_enabled")
    interface = (endpoint_type or "").lower() == "interface"
    for existing in self.vpc_end_points.values():
        if existing.vpc_id != vpc_id or existing.service_name != service_name:
            continue
        if getattr(existing, "state", "available") in ("deleted", "deleting"):
            continue
        if interface and private_dns and existing.private_dns_enabled:
            raise ConflictingPrivateDns(service_name, vpc_id, existing.id)
        if not interface and (existing.vpc_endpoint_type or "gateway").lower() == "gateway":
            shared = set(route_table_ids or []) & set(existing.route_table_ids or [])
            if shared:
                prefix_list = existing.destination_prefix_list_id or service_name
                raise RouteAlreadyExists(sorted(shared)[0], prefix_list)
    return _moto_create(self, vpc_id, service_name, endpoint_type, *args, **kwargs)


def delete_from_cloudformation_json(  # type: ignore[misc]
    cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
) -> None:
    ec2_backends[account_id][region_name].delete_vpc_endpoints([resource_name])


def delete(self: VPCEndPoint, account_id: str, region_name: str) -> None:
    ec2_backends[account_id][region_name].delete_vpc_endpoints([self.id])


def install() -> None:
    VPCBackend.create_vpc_endpoint = create_vpc_endpoint
    VPCEndPoint.delete_from_cloudformation_json = classmethod(delete_from_cloudformation_json)
    VPCEndPoint.delete = delete


class CfnSecurityGroupEgress(CfnModel, CloudFormationModel):
    """AWS::EC2::SecurityGroupEgress, which moto 5.2.5 skips (it has the ingress one): the
    rule is authorised on its group (AuthorizeSecurityGroupEgress) and revoked with its
    stack. Exactly one destination, as EC2 requires.

    No PHYSICAL_ID: the model has no physical ID (CfnModel's physical_resource_id raises
    AttributeError, so moto sees none: Ref gives the model, DescribeStackResources no ID).
    And no update: moto's abstract update_from_cloudformation_json is kept, which moto
    skips (a changed rule is left as it is)."""

    __module__ = "moto.ec2.models.security_groups"
    TYPE = "AWS::EC2::SecurityGroupEgress"
    update_from_cloudformation_json = CloudFormationModel.__dict__["update_from_cloudformation_json"]

    def __init__(self, account_id: str, region_name: str, group_id: str, rule: dict[str, Any]):
        super().__init__(account_id, region_name)
        self.group_id = group_id
        self.rule = rule

    @classmethod
    def create(cls, request: Request) -> CfnSecurityGroupEgress:
        props = request.properties
        destinations = [
            key
            for key in ("CidrIp", "CidrIpv6", "DestinationPrefixListId", "DestinationSecurityGroupId")
            if props.get(key)
        ]
        if len(destinations) != 1:
            raise EC2ClientError(
                "InvalidParameterCombination",
                "exactly one of CidrIp, CidrIpv6, DestinationPrefixListId and "
                f"DestinationSecurityGroupId is required (found {destinations or 'none'})",
            )
        rule = {
            "ip_protocol": str(props["IpProtocol"]),
            "from_port": props.get("FromPort"),
            "to_port": props.get("ToPort"),
            "ip_ranges": [{"CidrIp": props["CidrIp"], "Description": props.get("Description")}]
            if props.get("CidrIp")
            else [],
            "source_groups": [{"GroupId": props["DestinationSecurityGroupId"]}]
            if props.get("DestinationSecurityGroupId")
            else [],
        }
        request.backend(ec2_backends).authorize_security_group_egress(props["GroupId"], **rule)
        return cls(request.account_id, request.region_name, props["GroupId"], rule)

    def delete(self, account_id: str, region_name: str) -> None:
        backend = ec2_backends[account_id][region_name]
        if backend.get_security_group_by_name_or_id(self.group_id) is None:
            return  # its group went first
        backend.revoke_security_group_egress(self.group_id, **self.rule)
