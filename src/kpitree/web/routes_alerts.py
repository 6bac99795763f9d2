"""Routes of the web app (alerts)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
