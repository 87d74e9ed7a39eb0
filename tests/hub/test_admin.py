from __future__ import annotations

from http import HTTPStatus

import pytest
from django.urls import reverse

from automation_hub.models import ApiKey, MonitoringEvent
from hands.models import Hand, Tournament
from rendering.models import AuditEntry, RenderInstruction, RenderOutput

pytestmark = pytest.mark.django_db


@pytest.fixture
def rows(engineer):
    tournament = Tournament.objects.create(code="WSOP-ME", name="Main Event")
    hand = Hand.objects.create(
        tournament=tournament,
        table_id="FT-1",
        hand_number=1,
        hand_rank="royal_flush",
        pot_size=10,
        content_hash="x",
        is_premium=True,
    )
    instruction = RenderInstruction.objects.create(template_name="lower_third", hand=hand)
    output = RenderOutput.objects.create(instruction=instruction, output_path="a.png", file_size=9)
    event = MonitoringEvent.objects.create(
        type="alert", code="orphan_hand", severity="warning", source="monitor", message="m"
    )
    audit = AuditEntry.objects.create(
        actor_name="engineer",
        action="retry",
        reason="r",
        target_type="instruction",
        target_ids=[instruction.pk],
    )
    key = ApiKey.objects.create(name="k", role="sub", prefix="abc", key_hash="h")
    return [tournament, hand, instruction, output, event, audit, key]


def test_it_lists_searches_and_shows_every_model_in_the_admin(admin_client, rows):
    for obj in rows:
        meta = obj._meta
        changelist = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
        assert admin_client.get(changelist).status_code == HTTPStatus.OK
        assert admin_client.get(changelist, {"q": "x"}).status_code == HTTPStatus.OK
        change = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])
        assert admin_client.get(change).status_code == HTTPStatus.OK


def test_it_filters_instructions_by_status_in_the_admin(admin_client, rows):
    RenderInstruction.objects.create(template_name="failed_one", status="failed")
    response = admin_client.get(
        reverse("admin:rendering_renderinstruction_changelist"), {"status__exact": "failed"}
    )
    shown = [row.template_name for row in response.context["cl"].result_list]
    assert shown == ["failed_one"]


def test_it_keeps_the_audit_trail_read_only_even_for_superusers(admin_client, rows):
    audit = AuditEntry.objects.get()
    delete = reverse("admin:rendering_auditentry_delete", args=[audit.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == HTTPStatus.FORBIDDEN
    change = reverse("admin:rendering_auditentry_change", args=[audit.pk])
    admin_client.post(change, {"reason": "rewritten"})
    audit.refresh_from_db()
    assert audit.reason == "r"
    assert AuditEntry.objects.count() == 1


def test_it_refuses_the_admin_to_people_without_staff_rights(client, engineer):
    client.force_login(engineer)
    response = client.get(reverse("admin:rendering_renderinstruction_changelist"))
    assert response.status_code == HTTPStatus.FOUND
    assert "/admin/login/" in response["Location"]
