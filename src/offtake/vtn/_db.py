"""Declarative base of the VTN tables (the platform's ``Base`` once the server provides it)."""

from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """SQLAlchemy declarative base."""
