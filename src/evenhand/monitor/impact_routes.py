"""API endpoints (filled in as the capability lands)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
