"""The one place evenhand reads its environment (prefix ``EVENHAND_``)."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Locale = Literal["zh-CN", "en"]
LOCALES: tuple[Locale, ...] = ("zh-CN", "en")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EVENHAND_", env_file=".env", extra="ignore")

    mode: Literal["development", "production", "test"] = "development"
    data_dir: Path = Path("var")
    database_url: str = ""
    secret_key: SecretStr | None = None
    timezone: str = "Asia/Shanghai"
    locale: Locale = "zh-CN"
    login_attempts_per_minute: int = Field(default=10, ge=1)
    session_days: int = Field(default=7, ge=1)
    cookie_secure: bool = False
    dedup_keys: list[Literal["email", "phone", "company"]] = ["email", "phone"]
    max_batch: int = Field(default=10_000, ge=1)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        ZoneInfo(value)
        return value

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'evenhand.sqlite').resolve()}"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def secret(self) -> str:
        """The signing key: from the environment, else generated once and kept in ``data_dir``.

        There is deliberately no built-in default, in any mode: a key that ships with the code
        signs nothing.
        """
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        path = self.data_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        path.touch(mode=0o600)
        path.write_text(key)
        return key


@lru_cache
def get_settings() -> Settings:
    return Settings()
