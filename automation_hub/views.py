"""Hub-level pages: sign in (throttled), sign out, and `/`."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from automation_hub.login_throttle import (
    login_failure_record,
    login_is_throttled,
    login_success_record,
)


def client_address(request: HttpRequest) -> str:
    # REMOTE_ADDR only: X-Forwarded-For is whatever the client wants it to be.
    return request.META.get("REMOTE_ADDR", "")


class HubLoginView(auth_views.LoginView):
    """Django's login, refusing further tries (429) once a name or address failed too often."""

    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        username = request.POST.get("username", "")
        address = client_address(request)
        if login_is_throttled(address=address, username=username):
            # Refused before the password is even checked: a throttled guess learns nothing.
            minutes = max(1, settings.LOGIN_FAILURE_WINDOW_SECONDS // 60)
            context = self.get_context_data(
                form=self.form_class(request, initial={"username": username}),
                throttled=f"Too many failed sign-in attempts. Try again within {minutes} min.",
            )
            return self.render_to_response(context, status=HTTPStatus.TOO_MANY_REQUESTS)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        login_success_record(
            address=client_address(self.request), username=form.get_user().get_username()
        )
        return super().form_valid(form)

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        login_failure_record(
            address=client_address(self.request), username=self.request.POST.get("username", "")
        )
        return super().form_invalid(form)


def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect(settings.LOGIN_URL)
    return redirect("monitoring:overview")
