"""Reconciliation and bills over HTTP."""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["router"]

router = APIRouter(tags=["billing"])
