"""WebSocket routes (Channels consumers), mounted by designer/asgi.py."""

from django.urls import path

from designer.consumers import ExecutionConsumer

websocket_urlpatterns: list = [
    path("ws/executions/<int:pk>/", ExecutionConsumer.as_asgi()),
]
