from __future__ import annotations

from http import HTTPStatus
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from hands.models import Hand
from rendering.models import RenderInstruction

pytestmark = pytest.mark.django_db

SAMPLE = Path(__file__).resolve().parents[2] / "rendering" / "samples" / "instructions.csv"


def upload(client, text: str | bytes):
    content = text.encode() if isinstance(text, str) else text
    return client.post(
        reverse("instruction-import"),
        {"file": SimpleUploadedFile("sheet.csv", content, content_type="text/csv")},
        format="multipart",
    )


@pytest.fixture
def sub(key_client):
    return key_client("sub")


def test_it_imports_the_documented_sample_file(sub):
    response = upload(sub, SAMPLE.read_bytes())

    assert response.status_code == HTTPStatus.CREATED
    body = response.json()
    assert body["created"] == 3
    rows = RenderInstruction.objects.order_by("id")
    assert [r.template_name for r in rows] == ["lower_third", "chip_leader", "player_profile"]
    profile = rows[2]
    assert profile.layer_data["player_name"] == "Maria Ho"
    assert profile.output_settings["frame_count"] == 24
    assert profile.output_settings["resolution"] == "1280x720"
    assert rows[1].layer_data["chips"] == "12,450,000"  # quoted comma kept


def test_it_creates_nothing_new_when_the_same_file_is_imported_twice(sub):
    upload(sub, SAMPLE.read_bytes())
    again = upload(sub, SAMPLE.read_bytes())

    assert again.status_code == HTTPStatus.OK
    assert again.json() == {
        "created": 0,
        "existing": 3,
        "instruction_ids": list(
            RenderInstruction.objects.order_by("id").values_list("id", flat=True)
        ),
    }
    assert RenderInstruction.objects.count() == 3


def test_it_rejects_the_whole_file_naming_every_bad_line(sub):
    text = (
        "template_name,priority,format,layer_data\n"
        "good_one,2,PNG,\n"
        "bad_priority,11,PNG,\n"
        ",5,PNG,\n"
        'bad_json,5,PNG,"{not json"\n'
        "bad_format,5,GIF,\n"
    )
    response = upload(sub, text)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    errors = response.json()["errors"]
    assert sorted(errors) == ["line 3", "line 4", "line 5", "line 6"]
    assert any(m.startswith("priority:") for m in errors["line 3"])
    assert any(m.startswith("template_name:") for m in errors["line 4"])
    assert any(m.startswith("layer_data:") for m in errors["line 5"])
    assert any(m.startswith("output_settings.format:") for m in errors["line 6"])
    assert RenderInstruction.objects.count() == 0  # not even the good line


def test_it_links_rows_to_recorded_hands_and_refuses_unknown_ones(sub):
    hand = Hand.objects.create(
        table_id="FT-2", hand_number=7, hand_rank="flush", pot_size=10, content_hash="x"
    )
    ok = upload(sub, "template_name,table_id,hand_number\nrecap,FT-2,7\n")
    assert ok.status_code == HTTPStatus.CREATED
    assert RenderInstruction.objects.get().hand == hand

    bad = upload(sub, "template_name,table_id,hand_number\nrecap,FT-2,8\n")
    assert bad.status_code == HTTPStatus.BAD_REQUEST
    assert "no hand FT-2 #8" in bad.json()["errors"]["line 2"][0]


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("priority,format\n5,PNG\n", "no template_name column"),
        ("template_name,colour\nx,red\n", "Unknown column(s): colour"),
        ("template_name\n", "no data rows"),
        (b"template_name\n\xff\xfe\x00bad\n", "not UTF-8"),
        ("template_name,priority\nx,1,extra\n", "bad row"),
        ("template_name,idempotency_key\na,k1\nb,k1\n", "bad row"),
    ],
)
def test_it_explains_why_a_malformed_file_is_refused(sub, content, fragment):
    response = upload(sub, content)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert fragment in response.json()["detail"]
    assert RenderInstruction.objects.count() == 0


def test_it_asks_for_the_file_field(sub):
    response = sub.post(reverse("instruction-import"), {}, format="multipart")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "file" in response.json()["errors"]


def test_it_refuses_csv_import_from_a_feature_table_key(key_client):
    response = upload(key_client("feature_table"), SAMPLE.read_bytes())
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert RenderInstruction.objects.count() == 0


def test_the_command_imports_a_file_and_reports_counts(capsys):
    call_command("import_instructions", str(SAMPLE))
    assert "3 created" in capsys.readouterr().out
    assert RenderInstruction.objects.count() == 3


def test_the_command_fails_with_a_one_line_reason_and_lists_bad_lines(tmp_path, capsys):
    sheet = tmp_path / "bad.csv"
    sheet.write_text("template_name,priority\nok,1\nbad,99\n")
    with pytest.raises(CommandError, match="1 bad row"):
        call_command("import_instructions", str(sheet))
    assert "line 3: priority" in capsys.readouterr().err
    assert RenderInstruction.objects.count() == 0


def test_the_command_fails_on_a_missing_file(tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        call_command("import_instructions", str(tmp_path / "nope.csv"))
