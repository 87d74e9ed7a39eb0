from __future__ import annotations

from django.core.management import call_command


def test_it_generates_a_valid_openapi_schema_without_warnings(tmp_path):
    """Every endpoint is described (request, responses, auth): the schema producers code against."""
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    text = target.read_text()
    assert "/api/hands:" in text
    assert "ApiKeyAuth" in text
