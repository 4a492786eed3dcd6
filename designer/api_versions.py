"""The API's versions, aliases and tags of state machines (operations listed in designer/api.py): each
maps its request to a runtime call (designer/runtime/versions.py) and the result to AWS's shape."""

from __future__ import annotations

from designer import runtime
from designer.api_shapes import ApiError, paged, unqualified_machine, without_nulls
from designer.models import Activity, StateMachine, StateMachineAlias, arn


# -- versions and aliases --------------------------------------------------------------------------
def publish_state_machine_version(request: dict) -> dict:
    machine = unqualified_machine(request["stateMachineArn"])
    version = runtime.publish_version(machine, request.get("description"), request.get("revisionId"))
    return {"creationDate": version.created, "stateMachineVersionArn": version.arn}


def list_state_machine_versions(request: dict) -> dict:
    machine = unqualified_machine(request["stateMachineArn"])
    versions = machine.versions.filter(deleted_at=None).select_related("machine").order_by("-number")
    return paged(versions, request, "stateMachineVersions", lambda version: {
        "stateMachineVersionArn": version.arn, "creationDate": version.created})


def delete_state_machine_version(request: dict) -> dict:
    runtime.delete_version(request["stateMachineVersionArn"])
    return {}


def _routes_in(routes: list[dict] | None) -> list[tuple[str, int]] | None:
    if routes is None:
        return None
    return [(route["stateMachineVersionArn"], route["weight"]) for route in routes]


def _routes_out(alias: StateMachineAlias) -> list[dict]:
    return [{"stateMachineVersionArn": f"{alias.machine.arn}:{route['version']}", "weight": route["weight"]}
            for route in alias.routing]


def create_state_machine_alias(request: dict) -> dict:
    alias = runtime.create_alias(request["name"], _routes_in(request["routingConfiguration"]),
                                 request.get("description"))
    return {"stateMachineAliasArn": alias.arn, "creationDate": alias.created}


def describe_state_machine_alias(request: dict) -> dict:
    alias = runtime.get_alias(request["stateMachineAliasArn"])
    return without_nulls({
        "stateMachineAliasArn": alias.arn, "name": alias.name, "description": alias.description or None,
        "routingConfiguration": _routes_out(alias), "creationDate": alias.created,
        "updateDate": alias.updated,
    })


def update_state_machine_alias(request: dict) -> dict:
    alias = runtime.get_alias(request["stateMachineAliasArn"])
    alias = runtime.update_alias(alias, _routes_in(request.get("routingConfiguration")),
                                 request.get("description"))
    return {"updateDate": alias.updated}


def delete_state_machine_alias(request: dict) -> dict:
    runtime.delete_alias(runtime.get_alias(request["stateMachineAliasArn"]))
    return {}


def list_state_machine_aliases(request: dict) -> dict:
    machine = unqualified_machine(request["stateMachineArn"])
    aliases = machine.aliases.select_related("machine").order_by("name")
    return paged(aliases, request, "stateMachineAliases", lambda alias: {
        "stateMachineAliasArn": alias.arn, "creationDate": alias.created})


# -- tags ------------------------------------------------------------------------------------------
def tags_in(tags: list[dict]) -> list[tuple[str, str]]:
    return [(tag.get("key", ""), tag.get("value", "")) for tag in tags]


def _tagged(resource_arn: str) -> StateMachine | Activity:
    """The state machine or activity a tag operation names."""
    try:
        if resource_arn.startswith(arn("activity", "")):
            return runtime.get_activity(resource_arn)
        return unqualified_machine(resource_arn)
    except (runtime.StateMachineDoesNotExist, runtime.ActivityDoesNotExist):
        raise ApiError("ResourceNotFound", f"Resource not found: '{resource_arn}'") from None


def tag_resource(request: dict) -> dict:
    resource = _tagged(request["resourceArn"])
    tag = runtime.tag_activity if isinstance(resource, Activity) else runtime.tag_machine
    tag(resource, tags_in(request["tags"]))
    return {}


def untag_resource(request: dict) -> dict:
    resource = _tagged(request["resourceArn"])
    untag = runtime.untag_activity if isinstance(resource, Activity) else runtime.untag_machine
    untag(resource, request["tagKeys"])
    return {}


def list_tags_for_resource(request: dict) -> dict:
    resource = _tagged(request["resourceArn"])
    return {"tags": [{"key": tag.key, "value": tag.value} for tag in resource.tags.all()]}
