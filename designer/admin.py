from django.contrib import admin

from designer.login_throttle import AdminLoginForm
from designer.models import (
    Execution,
    HistoryEvent,
    MapRun,
    StateMachine,
    StateMachineRevision,
    TaskAttempt,
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


class HistoryInline(ReadOnlyInline):
    model = HistoryEvent
    fields = readonly_fields = ["seq", "type", "timestamp", "previous_event_id", "details"]


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


@admin.register(StateMachine)
class StateMachineAdmin(admin.ModelAdmin):
    list_display = ["name", "type", "revision", "updated"]
    list_filter = ["type"]
    search_fields = ["name"]
    readonly_fields = ["revision", "created", "updated"]
    inlines = [RevisionInline]


@admin.register(Execution)
class ExecutionAdmin(admin.ModelAdmin):
    """Executions change only through designer/runtime.py, so everything here is read-only."""

    list_display = ["name", "machine", "type", "status", "start_date", "stop_date", "redrive_count", "parent"]
    list_filter = ["status", "type", ("parent", admin.EmptyFieldListFilter), "machine"]
    search_fields = ["name", "arn", "error"]
    date_hierarchy = "start_date"
    list_select_related = ["machine", "parent"]
    inlines = [MapRunInline, AttemptInline, HistoryInline]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(MapRun)
class MapRunAdmin(admin.ModelAdmin):
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

    def has_add_permission(self, request):
        return False


@admin.register(HistoryEvent)
class HistoryEventAdmin(admin.ModelAdmin):
    list_display = ["execution", "seq", "type", "timestamp"]
    list_filter = ["type"]
    search_fields = ["execution__name", "type"]
    list_select_related = ["execution"]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(TaskAttempt)
class TaskAttemptAdmin(admin.ModelAdmin):
    list_display = [
        "execution", "state_name", "attempt", "status", "worker", "started_at", "lease_expires_at"]
    list_filter = ["status"]
    search_fields = ["execution__name", "state_name", "worker", "error"]
    list_select_related = ["execution"]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False


# -- the AWS-compatible API ------------------------------------------------------------------------
from django.utils import timezone  # noqa: E402

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

    @admin.action(description="Revoke the selected access keys")
    def revoke(self, request, queryset):
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"{count} access key(s) revoked.")
