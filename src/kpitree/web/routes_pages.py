"""Routes of the web app (pages)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
