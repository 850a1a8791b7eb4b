from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from accounts import views as account_views

handler429 = "sora_site.ratelimit.too_many_requests"

urlpatterns = [
    path("admin/rq/", include("django_rq.urls")),
    path("", include("sora_site.ops_urls")),
    path("admin/", admin.site.urls),
    path("accounts/signup/", account_views.signup, name="account_signup"),
    path("accounts/", include("allauth.urls")),
    path("", include("accounts.urls")),
    path("", include("generation.urls")),
    path("", include("cameos.urls")),
    path("", include("moderation.urls")),
    path("", include("provenance.urls")),
    path("", include("api.urls")),
    path("", include("feed.urls")),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static("/static/", document_root=settings.STATIC_ROOT)
