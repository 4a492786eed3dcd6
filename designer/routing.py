"""WebSocket routes (Channels consumers), mounted by designer/asgi.py."""

websocket_urlpatterns: list = []
