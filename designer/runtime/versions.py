"""Versions, aliases and tags of state machines: every change the API's operations on them make.

A version pins a revision and keeps its number for ever (a deleted one stays as a marker); an alias
routes executions to one or two versions by weight; a machine has at most MAX_TAGS tags. ARNs come in
as the API received them and are checked here, so that each operation's errors come in AWS's order.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction

from designer.models import StateMachine, StateMachineAlias, StateMachineVersion, Tag
from designer.runtime.clock import _datetime, now
from designer.runtime.errors import (
    ConflictException,
    InvalidArn,
    ResourceNotFound,
    TooManyTags,
    ValidationException,
)
from designer.runtime.machines import split_machine_arn

MAX_TAGS = 50


# -- versions --------------------------------------------------------------------------------------
def publish_version(machine: StateMachine, description: str | None = None,
                    revision_id: str | None = None) -> StateMachineVersion:
    """A version of the machine's current revision. Publishing a revision that the latest version
    already pins returns that version, as on AWS; numbers are never reused."""
    with transaction.atomic():
        machine = StateMachine.objects.select_for_update().get(pk=machine.pk)
        if revision_id is not None and revision_id != str(machine.revision):
            raise ConflictException(f"Failed to publish the State Machine version: revisionId "
                                    f"'{revision_id}' is not the current revision ('{machine.revision}')")
        revision = machine.current_revision()
        latest = StateMachineVersion.objects.filter(machine=machine).order_by("-number").first()
        if latest is not None and latest.deleted_at is None and latest.revision_id == revision.pk:
            return latest
        return StateMachineVersion.objects.create(
            machine=machine, number=(latest.number + 1) if latest else 1, revision=revision,
            description=description or "")


def delete_version(version_arn: str) -> None:
    """DeleteStateMachineVersion: refused while an alias routes to the version; one that does not exist
    is deleted already (AWS succeeds). The number stays taken."""
    name, qualifier = split_machine_arn(version_arn)
    if qualifier is None or not qualifier.isdigit():
        raise ValidationException(f"Invalid State Machine Version Arn: '{version_arn}'")
    version = StateMachineVersion.objects.filter(
        machine__name=name, number=int(qualifier), deleted_at=None).select_related("machine").first()
    if version is None:
        return
    referring = [alias.arn for alias in version.machine.aliases.all()
                 if any(route["version"] == version.number for route in alias.routing)]
    if referring:
        raise ConflictException("Version to be deleted must not be referenced by an alias. "
                                f"Current list of aliases referencing this version: {referring}")
    version.deleted_at = _datetime(now())
    version.save(update_fields=["deleted_at"])


# -- aliases ---------------------------------------------------------------------------------------
def _routing(machine: StateMachine | None,
             routes: list[tuple[str, int]]) -> tuple[StateMachine, list[dict]]:
    """Check a routing configuration, (version ARN, weight) pairs: one or two versions of one machine,
    weights adding up to 100."""
    checked = []
    for version_arn, weight in routes:
        name, qualifier = split_machine_arn(version_arn)
        if qualifier is None or not qualifier.isdigit():
            raise ValidationException(f"Invalid State Machine Version Arn: '{version_arn}'")
        if machine is not None and name != machine.name:
            raise ValidationException("Routing configuration must contain state machine "
                                      "versions of the same state machine")
        version = StateMachineVersion.objects.filter(
            machine__name=name, number=int(qualifier), deleted_at=None).select_related("machine").first()
        if version is None:
            raise ResourceNotFound(f"Resource not found: '{version_arn}'")
        machine = version.machine
        checked.append({"version": version.number, "weight": weight})
    if len({route["version"] for route in checked}) != len(checked):
        raise ValidationException("Routing configuration must contain distinct state machine versions")
    if sum(route["weight"] for route in checked) != 100:
        raise ValidationException("Sum of routing configuration weights must be equal to 100")
    return machine, checked


def get_alias(alias_arn: str) -> StateMachineAlias:
    name, qualifier = split_machine_arn(alias_arn)
    if qualifier is None or qualifier.isdigit():
        raise InvalidArn(f"Invalid Arn: '{alias_arn}': not a state machine alias ARN")
    alias = (StateMachineAlias.objects.filter(machine__name=name, name=qualifier)
             .select_related("machine").first())
    if alias is None:
        raise ResourceNotFound(f"Resource not found: '{alias_arn}'")
    return alias


def create_alias(name: str, routes: list[tuple[str, int]],
                 description: str | None = None) -> StateMachineAlias:
    """CreateStateMachineAlias, for the machine whose versions it routes to."""
    machine, routing = _routing(None, routes)
    try:
        with transaction.atomic():
            alias = StateMachineAlias.objects.create(machine=machine, name=name, routing=routing,
                                                     description=description or "")
    except IntegrityError:
        existing = machine.aliases.get(name=name)
        if existing.routing == routing and existing.description == (description or ""):
            alias = existing  # AWS: creating the same alias again is idempotent
        else:
            raise ConflictException(f"Alias already exists: '{existing.arn}'") from None
    return alias


def update_alias(alias: StateMachineAlias, routes: list[tuple[str, int]] | None = None,
                 description: str | None = None) -> StateMachineAlias:
    if description is None and routes is None:
        raise ValidationException("Either the description or the routing configuration must be specified")
    if routes is not None:
        _, alias.routing = _routing(alias.machine, routes)
    if description is not None:
        alias.description = description
    alias.save()
    return alias


def delete_alias(alias: StateMachineAlias) -> None:
    alias.delete()


# -- tags ------------------------------------------------------------------------------------------
def check_tag_count(count: int) -> None:
    if count > MAX_TAGS:
        raise TooManyTags(f"Too many tags: a resource has at most {MAX_TAGS}")


def tag_machine(machine: StateMachine, tags: list[tuple[str, str]]) -> None:
    """TagResource: (key, value) pairs; a key the machine has already gets the new value."""
    existing = set(machine.tags.values_list("key", flat=True))
    check_tag_count(len(existing | {key for key, _ in tags}))
    for key, value in tags:
        Tag.objects.update_or_create(machine=machine, key=key, defaults={"value": value})


def untag_machine(machine: StateMachine, keys: list[str]) -> None:
    machine.tags.filter(key__in=keys).delete()
