"""A fake Salesforce org served on loopback, and credentials for it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fakes.salesforce import FakeSalesforce, serve
from fakes.salesforce_org import Org


@pytest.fixture(scope="session")
def rsa_key() -> tuple[str, str]:
    """(private PEM, public PEM) of a throwaway RSA key: the app's certificate."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@pytest.fixture
def salesforce(rsa_key: tuple[str, str]) -> Iterator[FakeSalesforce]:
    with serve(FakeSalesforce(Org(leads=120), public_key=rsa_key[1])) as fake:
        yield fake
