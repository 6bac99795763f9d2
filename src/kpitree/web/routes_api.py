"""Routes of the web app (api)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
