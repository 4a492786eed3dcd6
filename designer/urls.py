from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.templatetags.static import static
from django.urls import path
from django.views.generic import RedirectView

from designer import api, editor_views, keys, machine_pages, pages, studio_views
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
    path("machines/<str:name>/delete/", machine_pages.delete_machine, name="machine-delete"),
    path("machines/<str:name>/definition.json", pages.machine_definition, name="machine-definition"),
    path("executions/<int:pk>/", pages.execution_detail, name="execution"),
    # Whole documents as JSON downloads: the pages show big ones cut short (designer/documents.py).
    path("executions/<int:pk>/input.json", pages.execution_input, name="execution-input"),
    path("executions/<int:pk>/output.json", pages.execution_output, name="execution-output"),
    path("executions/<int:pk>/history.json", pages.execution_history, name="execution-history"),
    path("executions/<int:pk>/events/<int:seq>.json", pages.execution_event, name="execution-event"),
    path("executions/<int:pk>/stop/", pages.stop_execution, name="execution-stop"),
    path("executions/<int:pk>/redrive/", pages.redrive_execution, name="execution-redrive"),
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
