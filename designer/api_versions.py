"""The API's versions, aliases and tags of state machines (operations listed in designer/api.py)."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from designer import runtime
from designer.api_shapes import (
    ApiError,
    paged,
    split_machine_arn,
    unqualified_machine,
    without_nulls,
)
from designer.models import StateMachine, StateMachineAlias, StateMachineVersion, Tag

MAX_TAGS = 50


# -- versions and aliases --------------------------------------------------------------------------
def publish_version(machine: StateMachine, description: str | None = None,
                    revision_id: str | None = None) -> StateMachineVersion:
    """A version of the machine's current revision. Publishing a revision that the latest version
    already pins returns that version, as on AWS; numbers are never reused."""
    with transaction.atomic():
        machine = StateMachine.objects.select_for_update().get(pk=machine.pk)
        if revision_id is not None and revision_id != str(machine.revision):
            raise ApiError("ConflictException", f"Failed to publish the State Machine version: revisionId "
                           f"'{revision_id}' is not the current revision ('{machine.revision}')")
        revision = machine.current_revision()
        latest = StateMachineVersion.objects.filter(machine=machine).order_by("-number").first()
        if latest is not None and latest.deleted_at is None and latest.revision_id == revision.pk:
            return latest
        return StateMachineVersion.objects.create(
            machine=machine, number=(latest.number + 1) if latest else 1, revision=revision,
            description=description or "")


def publish_state_machine_version(request: dict) -> dict:
    machine = unqualified_machine(request["stateMachineArn"])
    version = publish_version(machine, request.get("description"), request.get("revisionId"))
    return {"creationDate": version.created, "stateMachineVersionArn": version.arn}


def list_state_machine_versions(request: dict) -> dict:
    machine = unqualified_machine(request["stateMachineArn"])
    versions = machine.versions.filter(deleted_at=None).select_related("machine").order_by("-number")
    return paged(versions, request, "stateMachineVersions", lambda version: {
        "stateMachineVersionArn": version.arn, "creationDate": version.created})


def delete_state_machine_version(request: dict) -> dict:
    version_arn = request["stateMachineVersionArn"]
    name, qualifier = split_machine_arn(version_arn)
    if qualifier is None or not qualifier.isdigit():
        raise ApiError("ValidationException", f"Invalid State Machine Version Arn: '{version_arn}'")
    version = StateMachineVersion.objects.filter(
        machine__name=name, number=int(qualifier), deleted_at=None).select_related("machine").first()
    if version is None:
        return {}  # AWS: deleting a version that does not exist succeeds
    referring = [alias.arn for alias in version.machine.aliases.all()
                 if any(route["version"] == version.number for route in alias.routing)]
    if referring:
        raise ApiError("ConflictException", "Version to be deleted must not be referenced by an alias. "
                       f"Current list of aliases referencing this version: {referring}")
    version.deleted_at = runtime._datetime(runtime.now())
    version.save(update_fields=["deleted_at"])
    return {}


def _routing(machine: StateMachine | None, routes: list[dict]) -> tuple[StateMachine, list[dict]]:
    """Check a routing configuration: one or two versions of one machine, weights adding up to 100."""
    checked = []
    for route in routes:
        version_arn = route["stateMachineVersionArn"]
        name, qualifier = split_machine_arn(version_arn)
        if qualifier is None or not qualifier.isdigit():
            raise ApiError("ValidationException", f"Invalid State Machine Version Arn: '{version_arn}'")
        if machine is not None and name != machine.name:
            raise ApiError("ValidationException", "Routing configuration must contain state machine "
                           "versions of the same state machine")
        version = StateMachineVersion.objects.filter(
            machine__name=name, number=int(qualifier), deleted_at=None).select_related("machine").first()
        if version is None:
            raise ApiError("ResourceNotFound", f"Resource not found: '{version_arn}'")
        machine = version.machine
        checked.append({"version": version.number, "weight": route["weight"]})
    if len({route["version"] for route in checked}) != len(checked):
        raise ApiError("ValidationException", "Routing configuration must contain distinct state machine "
                       "versions")
    if sum(route["weight"] for route in checked) != 100:
        raise ApiError("ValidationException", "Sum of routing configuration weights must be equal to 100")
    return machine, checked


def _alias(alias_arn: str) -> StateMachineAlias:
    name, qualifier = split_machine_arn(alias_arn)
    if qualifier is None or qualifier.isdigit():
        raise ApiError("InvalidArn", f"Invalid Arn: '{alias_arn}': not a state machine alias ARN")
    alias = (StateMachineAlias.objects.filter(machine__name=name, name=qualifier)
             .select_related("machine").first())
    if alias is None:
        raise ApiError("ResourceNotFound", f"Resource not found: '{alias_arn}'")
    return alias


def _routes_out(alias: StateMachineAlias) -> list[dict]:
    return [{"stateMachineVersionArn": f"{alias.machine.arn}:{route['version']}", "weight": route["weight"]}
            for route in alias.routing]


def create_state_machine_alias(request: dict) -> dict:
    machine, routing = _routing(None, request["routingConfiguration"])
    try:
        with transaction.atomic():
            alias = StateMachineAlias.objects.create(machine=machine, name=request["name"], routing=routing,
                                                     description=request.get("description") or "")
    except IntegrityError:
        existing = machine.aliases.get(name=request["name"])
        if existing.routing == routing and existing.description == (request.get("description") or ""):
            alias = existing  # AWS: creating the same alias again is idempotent
        else:
            raise ApiError("ConflictException", f"Alias already exists: '{existing.arn}'") from None
    return {"stateMachineAliasArn": alias.arn, "creationDate": alias.created}


def describe_state_machine_alias(request: dict) -> dict:
    alias = _alias(request["stateMachineAliasArn"])
    return without_nulls({
        "stateMachineAliasArn": alias.arn, "name": alias.name, "description": alias.description or None,
        "routingConfiguration": _routes_out(alias), "creationDate": alias.created,
        "updateDate": alias.updated,
    })


def update_state_machine_alias(request: dict) -> dict:
    alias = _alias(request["stateMachineAliasArn"])
    if request.get("description") is None and request.get("routingConfiguration") is None:
        raise ApiError("ValidationException", "Either the description or the routing configuration "
                       "must be specified")
    if request.get("routingConfiguration") is not None:
        _, alias.routing = _routing(alias.machine, request["routingConfiguration"])
    if request.get("description") is not None:
        alias.description = request["description"]
    alias.save()
    return {"updateDate": alias.updated}


def delete_state_machine_alias(request: dict) -> dict:
    _alias(request["stateMachineAliasArn"]).delete()
    return {}


def list_state_machine_aliases(request: dict) -> dict:
    machine = unqualified_machine(request["stateMachineArn"])
    aliases = machine.aliases.select_related("machine").order_by("name")
    return paged(aliases, request, "stateMachineAliases", lambda alias: {
        "stateMachineAliasArn": alias.arn, "creationDate": alias.created})


# -- tags ------------------------------------------------------------------------------------------
def _tagged(resource_arn: str) -> StateMachine:
    try:
        return unqualified_machine(resource_arn)
    except runtime.StateMachineDoesNotExist:
        raise ApiError("ResourceNotFound", f"Resource not found: '{resource_arn}'") from None


def tag_resource(request: dict) -> dict:
    machine = _tagged(request["resourceArn"])
    new_keys = {tag.get("key") for tag in request["tags"]}
    existing = set(machine.tags.values_list("key", flat=True))
    if len(existing | new_keys) > MAX_TAGS:
        raise ApiError("TooManyTags", f"Too many tags: a resource has at most {MAX_TAGS}")
    for tag in request["tags"]:
        Tag.objects.update_or_create(machine=machine, key=tag.get("key", ""),
                                     defaults={"value": tag.get("value", "")})
    return {}


def untag_resource(request: dict) -> dict:
    machine = _tagged(request["resourceArn"])
    machine.tags.filter(key__in=request["tagKeys"]).delete()
    return {}


def list_tags_for_resource(request: dict) -> dict:
    machine = _tagged(request["resourceArn"])
    return {"tags": [{"key": tag.key, "value": tag.value} for tag in machine.tags.all()]}
