from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from automation_hub import views as page_views
from automation_hub.api import views as hub_views

api_patterns = [
    path("health", hub_views.HealthView.as_view(), name="health"),
    path("health/ready", hub_views.ReadinessView.as_view(), name="health-ready"),
    path("", include("hands.api.urls")),
    path("", include("rendering.api.urls")),
    path("", include("rendering.api.worker_urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
]

urlpatterns = [
    # The admin's sign-in under the same failed-password throttle as the pages and HTTP Basic.
    path("admin/login/", page_views.admin_login, name="admin-login"),
    path("admin/", admin.site.urls),
    path("api/", include(api_patterns)),
    path("", include("monitoring.urls")),
    # Dashboard pages (session login).
    path("", page_views.home, name="home"),
    path("login/", page_views.HubLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("monitoring.page_urls")),
    path("", include("rendering.page_urls")),
    path("", include("hands.page_urls")),
]

handler404 = "automation_hub.views.not_found"
handler500 = "automation_hub.views.server_error"
