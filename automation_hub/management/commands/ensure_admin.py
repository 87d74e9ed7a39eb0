from __future__ import annotations

import os
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Create the admin from DJANGO_SUPERUSER_USERNAME / DJANGO_SUPERUSER_PASSWORD when set and "
        "missing; otherwise say how to log in."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME", "")
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD", "")
        if username and password:
            if user_model.objects.filter(username=username).exists():
                self.stdout.write(f"Admin user {username!r} exists; log in with its password.")
            else:
                user_model.objects.create_superuser(
                    username=username,
                    email=os.environ.get("DJANGO_SUPERUSER_EMAIL", ""),
                    password=password,
                )
                self.stdout.write(f"Created admin user {username!r}.")
            return
        if user_model.objects.filter(is_superuser=True).exists():
            self.stdout.write("Log in with your admin user (more: manage.py createsuperuser).")
            return
        self.stdout.write(
            "No admin user yet. Create one in another terminal with\n"
            "    .venv/bin/python manage.py createsuperuser\n"
            "or start with DJANGO_SUPERUSER_USERNAME=… DJANGO_SUPERUSER_PASSWORD=… make run"
        )
