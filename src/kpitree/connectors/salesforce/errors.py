"""Errors of the Salesforce connector (KT930-KT949).

Each says what Salesforce answered and what to do about it (what to grant, what to
rename, when to try again); none carries a token, a secret or a key.
"""

from __future__ import annotations

from typing import Any

from kpitree.errors import DataError

__all__ = ["SalesforceError", "salesforce_error"]


class SalesforceError(DataError):
    """Salesforce refused or could not answer what a sync needs."""

    @property
    def code(self) -> str:
        return self.diagnostics[0].code


def salesforce_error(code: str, key: str, /, **params: Any) -> SalesforceError:
    error = SalesforceError.of(code, key, **params)
    assert isinstance(error, SalesforceError)
    return error
