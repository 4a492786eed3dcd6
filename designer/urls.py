from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.templatetags.static import static
from django.urls import path
from django.views.generic import RedirectView

from designer import (
    activity_pages,
    api,
    approval_views,
    compare_views,
    editor_views,
    execution_views,
    inbox_views,
    keys,
    machine_pages,
    pages,
    studio_views,
)
from designer.login_throttle import LoginForm

urlpatterns = [
    # GET: the dashboard; POST: the AWS Step Functions API (designer/api.py, SigV4, no cookies).
    path("", api.root, name="dashboard"),
    path("account/api-keys/", keys.api_keys, name="api-keys"),
    path("account/api-keys/<int:pk>/revoke/", keys.revoke_key, name="api-key-revoke"),
    # State machines and executions (designer/pages.py).
    path("create/state-machine/", editor_views.with_code_editor_csp(pages.create_machine),
         name="machine-create"),
    path("create/example/", pages.create_example, name="machine-example"),
    # The list, the New page's gallery and deleting (designer/machine_pages.py).
    path("machines/", machine_pages.machine_list, name="machines"),
    path("create/", machine_pages.new_machine, name="machine-new"),
    path("create/templates/<slug:slug>.svg", machine_pages.template_preview, name="template-preview"),
    # The code editor's validation as you type (designer/editor_views.py, static/js/editor.js), and
    # the start form's input check (static/js/input-editor.js).
    path("editor/validate/", editor_views.validate_definition, name="editor-validate"),
    path("editor/check-input/", editor_views.check_input, name="editor-check-input"),
    # The machine page has the input editor (CodeMirror): the editor's CSP.
    path("machines/<str:name>/", editor_views.with_code_editor_csp(pages.machine_detail), name="machine"),
    path("machines/<str:name>/start/", editor_views.with_code_editor_csp(pages.start_execution),
         name="machine-start"),
    # The designer: palette, canvas, inspector and code over a draft (designer/studio_views.py).
    path("machines/<str:name>/design/", studio_views.design, name="machine-design"),
    path("machines/<str:name>/design/graph/", studio_views.draw, name="machine-design-graph"),
    path("machines/<str:name>/design/draft/", studio_views.draft, name="machine-design-draft"),
    path("machines/<str:name>/design/save/", studio_views.save, name="machine-design-save"),
    path("machines/<str:name>/design/test/", studio_views.test_one_state, name="machine-design-test"),
    path("machines/<str:name>/export/<str:kind>/", studio_views.export, name="machine-export"),
    # Two revisions side by side: graphs with the differences marked, and the JSON diff.
    path("machines/<str:name>/compare/", compare_views.compare, name="machine-compare"),
    path("machines/<str:name>/delete/", machine_pages.delete_machine, name="machine-delete"),
    path("machines/<str:name>/definition.json", pages.machine_definition, name="machine-definition"),
    # The executions lists and their status poll (designer/execution_views.py).
    path("executions/", execution_views.execution_list, name="executions"),
    path("executions/statuses.json", execution_views.execution_statuses, name="execution-statuses"),
    path("machines/<str:name>/executions/", execution_views.execution_list, name="machine-executions"),
    path("executions/<int:pk>/", pages.execution_detail, name="execution"),
    # Activities and their open and recent tasks (designer/activity_pages.py).
    path("activities/", activity_pages.activity_list, name="activities"),
    # Whole documents as JSON downloads: the pages show big ones cut short (designer/documents.py).
    path("executions/<int:pk>/input.json", pages.execution_input, name="execution-input"),
    path("executions/<int:pk>/output.json", pages.execution_output, name="execution-output"),
    path("executions/<int:pk>/history.json", pages.execution_history, name="execution-history"),
    path("executions/<int:pk>/events/<int:seq>.json", pages.execution_event, name="execution-event"),
    # The history's pages, a state's details and replay's statuses (designer/execution_views.py).
    path("executions/<int:pk>/events/", execution_views.execution_events, name="execution-events"),
    path("executions/<int:pk>/states/<path:name>.json", execution_views.state_detail, name="execution-state"),
    path("executions/<int:pk>/statuses.json", execution_views.statuses_at, name="execution-statuses-at"),
    path("executions/<int:pk>/export.json", execution_views.export_execution, name="execution-export"),
    path("executions/<int:pk>/stop/", pages.stop_execution, name="execution-stop"),
    path("executions/<int:pk>/redrive/", pages.redrive_execution, name="execution-redrive"),
    path("executions/<int:pk>/callbacks/<int:token_pk>/success/", pages.send_task_success,
         name="execution-task-success"),
    path("executions/<int:pk>/callbacks/<int:token_pk>/failure/", pages.send_task_failure,
         name="execution-task-failure"),
    # Human approvals: the inbox (designer/inbox_views.py) and the email links (designer/approval_views.py).
    path("inbox/", inbox_views.inbox, name="inbox"),
    path("inbox/approvals/<int:pk>/claim/", inbox_views.claim, name="approval-claim"),
    path("inbox/approvals/<int:pk>/release/", inbox_views.release, name="approval-release"),
    path("inbox/approvals/<int:pk>/decide/", inbox_views.decide, name="approval-decide"),
    path("inbox/approvals/<int:pk>/delegate/", inbox_views.delegate, name="approval-delegate"),
    path("inbox/approvals/decide/", inbox_views.bulk_decide, name="approval-bulk-decide"),
    path("inbox/tokens/<int:pk>/answer/", inbox_views.answer_token, name="inbox-token-answer"),
    path("approvals/<str:signed>/", approval_views.approval_link, name="approval-link"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True, authentication_form=LoginForm),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    # Public (no login needed): browsers ask for /favicon.ico on every page, the admin's included.
    path("favicon.ico", login_not_required(RedirectView.as_view(url=static("img/logo.svg"), permanent=True))),
]
