"""The distinctive API key the suite uses, and the check that it appears nowhere."""

from __future__ import annotations

__all__ = ["SECRET", "SECRET_PIECES", "assert_no_secret", "leaks"]

SECRET = "sk-r1v4-Rel1ab1l1ty-5ecret-7f3a9c2e"
# Pieces of the key that would show a partial leak (a truncated or split key).
SECRET_PIECES = (SECRET, "Rel1ab1l1ty-5ecret", "5ecret-7f3a9c2e")


def leaks(text: str) -> list[str]:
    return [piece for piece in SECRET_PIECES if piece in text]


def assert_no_secret(text: str, where: str) -> None:
    found = leaks(text)
    assert not found, f"the API key leaked into {where}: {found}"
