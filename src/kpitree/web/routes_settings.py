"""Routes of the web app (settings)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
