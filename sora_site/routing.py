from generation.routing import websocket_urlpatterns as generation_ws

websocket_urlpatterns = [*generation_ws]
