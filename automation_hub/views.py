"""Hub-level pages: sign in (throttled), the admin's sign-in (same rule), sign out, and `/`."""

from __future__ import annotations

from http import HTTPStatus

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.views import defaults

from automation_hub.forms import HubAdminAuthenticationForm, HubAuthenticationForm


def _refuse_if_throttled(form: object, response: HttpResponse) -> HttpResponse:
    wait = getattr(form, "throttle_wait", None)
    if wait is not None:
        response.status_code = HTTPStatus.TOO_MANY_REQUESTS
        response["Retry-After"] = str(wait)
    return response


class HubLoginView(auth_views.LoginView):
    """Django's login; once a name or address failed too often, 429 before any password check."""

    template_name = "registration/login.html"
    authentication_form = HubAuthenticationForm
    redirect_authenticated_user = True

    def form_invalid(self, form: HubAuthenticationForm) -> HttpResponse:
        return _refuse_if_throttled(form, super().form_invalid(form))


class HubAdminLoginView(auth_views.LoginView):
    """The admin's own sign-in page under the same throttle (refusals are 429)."""

    authentication_form = HubAdminAuthenticationForm
    template_name = "admin/login.html"

    def get_context_data(self, **kwargs: object) -> dict[str, object]:
        context = super().get_context_data(**kwargs)
        context.update(
            admin.site.each_context(self.request),
            title="Log in",
            subtitle=None,
            app_path=self.request.get_full_path(),
            username=self.request.user.get_username(),
        )
        if not context.get(self.redirect_field_name):
            context[self.redirect_field_name] = "/admin/"
        return context

    def get_default_redirect_url(self) -> str:
        return "/admin/"

    def form_invalid(self, form: HubAdminAuthenticationForm) -> HttpResponse:
        return _refuse_if_throttled(form, super().form_invalid(form))


def admin_login(request: HttpRequest) -> HttpResponse:
    if request.method == "GET" and admin.site.has_permission(request):
        return redirect("admin:index")
    request.current_app = admin.site.name
    return HubAdminLoginView.as_view()(request)


def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect(settings.LOGIN_URL)
    return redirect("monitoring:overview")


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """404 for a URL no route matches: the API's one error body under /api/, a page elsewhere."""
    if _is_api(request):
        return JsonResponse(
            {"code": "not_found", "detail": "No such endpoint or object."},
            status=HTTPStatus.NOT_FOUND,
        )
    return defaults.page_not_found(request, exception)  # type: ignore[arg-type]


def server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(
            {"code": "server_error", "detail": "The hub failed to answer; it is logged."},
            status=HTTPStatus.INTERNAL_SERVER_ERROR,
        )
    return defaults.server_error(request)
