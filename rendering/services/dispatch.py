"""Wake-up of the render workers once an instruction row has committed.

The row is the source of truth; the message only says "there is work". The render-queue work
replaces this module's body with the django-q2 dispatch.
"""

from __future__ import annotations


def instruction_dispatch(*, instruction_id: int) -> None:
    """Queue a wake-up for the workers (called through `transaction.on_commit`)."""
    return None
