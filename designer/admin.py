import json

from django import forms
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from designer import runtime
from designer.documents import show
from designer.login_throttle import AdminLoginForm
from designer.models import (
    Activity,
    ActivityTag,
    Execution,
    HistoryEvent,
    MapRun,
    StateMachine,
    StateMachineRevision,
    TaskAttempt,
    TaskToken,
)

admin.site.site_header = "Stepwise administration"
admin.site.site_title = "Stepwise admin"
admin.site.index_title = "Administration"
admin.site.login_form = AdminLoginForm  # failed logins count here too (designer/login_throttle.py)


class ReadOnlyInline(admin.TabularInline):
    """History is written by the runtime only: shown, never edited here."""

    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class RevisionInline(ReadOnlyInline):
    model = StateMachineRevision
    fields = readonly_fields = ["number", "created"]


class MapRunInline(ReadOnlyInline):
    model = MapRun
    fk_name = "execution"
    fields = readonly_fields = ["state_name", "label", "status", "execution_type", "total", "start_date",
                                "stop_date"]
    show_change_link = True


class AttemptInline(ReadOnlyInline):
    model = TaskAttempt
    fields = readonly_fields = [
        "state_name", "attempt", "status", "worker", "started_at", "finished_at", "error"]


class ViewOnly:
    """What the runtime alone changes (designer/runtime/) is shown here, never saved or deleted: a
    save would write back a row the workers may have moved on since it was read."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class StateMachineForm(forms.ModelForm):
    """The API's checks, with their messages on the fields they are about."""

    class Meta:
        model = StateMachine
        fields = ["name", "type", "definition", "role_arn"]

    def clean_name(self):
        name = self.cleaned_data["name"]
        if self.instance.pk is None:
            try:
                runtime.check_name(name, "state machine")
            except runtime.StepwiseError as error:
                raise forms.ValidationError(error.message) from None
        return name

    def clean_role_arn(self):
        role_arn = self.cleaned_data["role_arn"]
        if not role_arn.startswith("arn:"):
            raise forms.ValidationError(f"Invalid Arn: '{role_arn}'")
        return role_arn

    def clean(self):
        cleaned = super().clean()
        machine_type = cleaned.get("type", self.instance.type)
        if "definition" in cleaned and machine_type:
            try:
                runtime.check_definition(cleaned["definition"], machine_type)
            except runtime.StepwiseError as error:
                self.add_error("definition", error.message)
        return cleaned


@admin.register(StateMachine)
class StateMachineAdmin(admin.ModelAdmin):
    """Machines are created, changed and deleted by the runtime, as through the API: a new definition
    is a new revision (running executions keep theirs); the name and type never change, as on AWS."""

    form = StateMachineForm
    list_display = ["name", "type", "revision", "updated"]
    list_filter = ["type"]
    search_fields = ["name"]
    inlines = [RevisionInline]

    def get_readonly_fields(self, request, obj=None):
        return ["revision", "created", "updated"] if obj is None else ["name", "type", "revision", "created",
                                                                        "updated"]

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            runtime.update_state_machine(obj, data["definition"], data["role_arn"])
        else:
            obj.pk = runtime.create_state_machine(data["name"], data["definition"], data["type"],
                                                  data["role_arn"]).pk
        obj.refresh_from_db()

    def get_deleted_objects(self, objs, request):
        """What goes with the machines, counted rather than listed (a machine may have thousands of
        executions of thousands of events), and needing no permission to delete: the runtime does it."""
        machines = list(objs)
        executions = Execution.objects.filter(machine__in=machines).count()
        deleted = [f"State machine {machine.name} (with its revisions, executions and history)"
                   for machine in machines]
        return deleted, {"state machines": len(machines), "executions": executions}, set(), []

    def delete_model(self, request, obj):
        runtime.delete_state_machine(obj)

    def delete_queryset(self, request, queryset):
        for machine in queryset:
            runtime.delete_state_machine(machine)


@admin.register(Execution)
class ExecutionAdmin(ViewOnly, admin.ModelAdmin):
    """Executions change only through designer/runtime/ (the pages' Stop and Redrive buttons)."""

    list_display = ["name", "machine", "type", "status", "start_date", "stop_date", "redrive_count", "parent"]
    list_filter = ["status", "type", ("parent", admin.EmptyFieldListFilter), "machine"]
    search_fields = ["name", "arn", "error"]
    date_hierarchy = "start_date"
    list_select_related = ["machine", "parent"]
    inlines = [MapRunInline, AttemptInline]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields] + ["history"]

    @admin.display(description="History")
    def history(self, obj):
        # An execution may have 25,000 events of up to 256 KiB each: linked, not listed here.
        count = obj.events.count()
        return format_html('{} events: <a href="{}">its page</a> · <a href="{}">download (JSON)</a>',
                           count, obj.get_absolute_url(), reverse("execution-history", args=[obj.pk]))


@admin.register(MapRun)
class MapRunAdmin(ViewOnly, admin.ModelAdmin):
    """A DISTRIBUTED Map's run; changed only by the runtime (and UpdateMapRun)."""

    list_display = ["__str__", "execution", "state_name", "status", "execution_type", "max_concurrency",
                    "total", "start_date", "stop_date"]
    list_filter = ["status", "execution_type"]
    search_fields = ["arn", "label", "state_name", "execution__name"]
    list_select_related = ["execution"]
    readonly_fields = ["counts"]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields] + ["counts"]

    @admin.display(description="Executions by status")
    def counts(self, obj):
        return ", ".join(f"{key} {value}" for key, value in obj.counts().items() if value)


@admin.register(HistoryEvent)
class HistoryEventAdmin(ViewOnly, admin.ModelAdmin):
    list_display = ["execution", "seq", "type", "timestamp"]
    list_filter = ["type"]
    search_fields = ["execution__name", "type"]
    list_select_related = ["execution"]

    def get_fields(self, request, obj=None):
        fields = [field.name for field in self.model._meta.fields if field.name != "details"]
        return [*fields, "shown_details"]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    @admin.display(description="Details")
    def shown_details(self, obj):
        # As the execution page shows documents: cut short, lone surrogates as escapes (never a 500).
        shown = show(json.dumps(obj.details, ensure_ascii=False))
        return format_html('<pre>{}</pre>{}', shown.text,
                           f"… truncated, {shown.total_kb} KB in all" if shown.truncated else "")


@admin.register(TaskAttempt)
class TaskAttemptAdmin(ViewOnly, admin.ModelAdmin):
    list_display = [
        "execution", "state_name", "attempt", "status", "worker", "started_at", "lease_expires_at"]
    list_filter = ["status"]
    search_fields = ["execution__name", "state_name", "worker", "error"]
    list_select_related = ["execution"]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]


@admin.register(TaskToken)
class TaskTokenAdmin(ViewOnly, admin.ModelAdmin):
    """Callbacks, oldest first (filter by status OPEN for what waits). Answered through the API or the
    execution page, never edited here."""

    list_display = ["execution", "state_name", "kind", "status", "created_at", "worker_name",
                    "heartbeat_due_at", "timeout_at", "token_start"]
    list_filter = ["status", "kind"]
    search_fields = ["execution__name", "state_name"]
    list_select_related = ["execution"]
    ordering = ["created_at", "id"]

    @admin.display(description="token")
    def token_start(self, obj):
        return obj.token[:8] + "…"

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]


class ActivityTagInline(ReadOnlyInline):
    model = ActivityTag
    fields = ["key", "value"]


@admin.register(Activity)
class ActivityAdmin(ViewOnly, admin.ModelAdmin):
    """Activities, made and deleted through the API (CreateActivity, DeleteActivity); their tasks are
    the task tokens of kind activity, listed above and on the Activities page."""

    list_display = ["name", "arn", "created", "open_tasks"]
    search_fields = ["name"]
    inlines = [ActivityTagInline]

    @admin.display(description="open tasks")
    def open_tasks(self, obj):
        return TaskToken.objects.open().filter(kind="activity", resource=obj.arn).count()
# -- human approvals (designer/runtime/approvals.py): read-only, decided through links and the inbox ----

from designer.models import Approval, ApprovalAudit  # noqa: E402


class ApprovalAuditInline(admin.TabularInline):
    model = ApprovalAudit
    extra = 0
    can_delete = False
    fields = ["at", "who", "action", "channel", "decision", "comment", "detail", "ip", "user_agent"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Approval)
class ApprovalAdmin(ViewOnly, admin.ModelAdmin):
    list_display = ["subject", "execution", "state_name", "status", "decision", "decided_by_name",
                    "decided_at", "due_at", "created_at"]
    list_filter = ["status", "decision"]
    search_fields = ["subject", "execution__name", "decided_by_name"]
    list_select_related = ["execution"]
    inlines = [ApprovalAuditInline]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]


@admin.register(ApprovalAudit)
class ApprovalAuditAdmin(ViewOnly, admin.ModelAdmin):
    list_display = ["at", "approval", "who", "action", "channel", "decision", "ip"]
    list_filter = ["action", "channel"]
    search_fields = ["who", "approval__subject", "ip"]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]


# -- the AWS-compatible API ------------------------------------------------------------------------

from designer.models import AccessKey  # noqa: E402


@admin.register(AccessKey)
class AccessKeyAdmin(admin.ModelAdmin):
    """Keys are made by their users (API keys page) or `manage.py create_access_key`; here they are
    revoked. The secret is never shown again."""

    list_display = ["access_key_id", "user", "description", "created", "last_used", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["access_key_id", "user__username", "description"]
    list_select_related = ["user"]
    fields = readonly_fields = ["access_key_id", "user", "description", "created", "last_used", "revoked_at"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # The list may revoke keys; a key's own page only shows it (saving it would change nothing).
        return obj is None and super().has_change_permission(request)

    @admin.action(description="Revoke the selected access keys", permissions=["change"])
    def revoke(self, request, queryset):
        count = queryset.revoke()
        self.message_user(request, f"{count} access key(s) revoked.")
