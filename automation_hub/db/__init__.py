"""Database backends of the hub (see postgresql/base.py)."""
