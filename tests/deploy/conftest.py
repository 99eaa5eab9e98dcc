"""Fixtures shared by the deployment tests: the code contract and the rendered overlays."""

from __future__ import annotations

from typing import Any

import pytest

from . import validate


@pytest.fixture(scope="session")
def contract() -> validate.Contract:
    return validate.load_contract()


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[dict[str, Any]]]:
    """Each overlay built by the real kustomize (`kubectl kustomize`), once per session."""
    return {
        overlay: validate.render_overlay(validate.REPO, overlay) for overlay in validate.OVERLAYS
    }


@pytest.fixture(scope="session")
def durables() -> dict[str, list[dict[str, str]]]:
    return validate.load_durables(validate.REPO)
