from django.urls import path, re_path

from api import errors, views
from api.v1 import api

v1_patterns, v1_app, v1_namespace = api.urls
for pattern in v1_patterns:
    pattern.callback = errors.with_json_405(pattern.callback)

app_name = "api"
urlpatterns = [
    path("settings/tokens/", views.tokens, name="tokens"),
    path("settings/tokens/<int:pk>/revoke", views.revoke_token, name="revoke_token"),
    path("settings/tokens/webhooks/", views.add_webhook, name="add_webhook"),
    path("settings/tokens/webhooks/<int:pk>/remove", views.remove_webhook, name="remove_webhook"),
    path("settings/tokens/webhooks/<int:pk>/test", views.test_webhook, name="test_webhook"),
    path("v1/docs/assets/<str:name>", views.docs_asset, name="docs_asset"),
    path("v1/", errors.unknown_endpoint),  # before ninja's root view, which answers with an HTML 404
    path("v1/", (v1_patterns, v1_app, v1_namespace)),
    # Anything else under /v1/ answers in the API's error shape, not with the site's HTML 404.
    re_path(r"^v1(?:/.*)?$", errors.unknown_endpoint),
]
