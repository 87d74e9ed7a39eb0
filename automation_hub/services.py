"""Producer API keys: issue and revoke."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils import timezone

from automation_hub.errors import InvalidInput, NotFound
from automation_hub.models import ApiKey, ProducerRole


def api_key_create(*, role: str, name: str = "") -> tuple[ApiKey, str]:
    """Create a key for a producer role. Returns the row and the raw key, which is never stored."""
    if role not in ProducerRole.values:
        raise InvalidInput(
            f"Unknown role {role!r}; choose one of {', '.join(ProducerRole.values)}.",
            fields={"role": [f"Must be one of {', '.join(ProducerRole.values)}."]},
        )
    prefix, raw_key = ApiKey.generate()
    key = ApiKey(name=name or f"{role}-{prefix}", role=role, prefix=prefix)
    key.key_hash = ApiKey.hash_key(raw_key)
    try:
        key.full_clean()
    except ValidationError as exc:
        raise InvalidInput("Invalid API key.", fields=exc.message_dict) from exc
    key.save()
    return key, raw_key


def api_key_revoke(*, prefix: str) -> ApiKey:
    """Revoke a key by its prefix. Revoking twice is harmless (the first time is kept)."""
    key = ApiKey.objects.filter(prefix=prefix).first()
    if key is None:
        raise NotFound(f"No API key with prefix {prefix!r}.")
    ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    key.refresh_from_db()
    return key
