"""Credentials: API tokens, browser sessions and login attempts (kept in the database, not in memory)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from evenhand.models.base import Base, CreatedMixin, IdMixin, str_enum
from evenhand.models.org import Role


class ApiToken(IdMixin, CreatedMixin, Base):
    __tablename__ = "api_tokens"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[Role] = mapped_column(str_enum(Role))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    revoked_at: Mapped[datetime | None]


class WebSession(IdMixin, CreatedMixin, Base):
    __tablename__ = "web_sessions"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime]


class LoginAttempt(IdMixin, CreatedMixin, Base):
    __tablename__ = "login_attempts"
    key: Mapped[str] = mapped_column(String(120), index=True)
    succeeded: Mapped[bool]
