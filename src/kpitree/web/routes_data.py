"""Routes of the web app (data)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
