"""Signing keys for SMART Backend Services: load a PEM, make one, publish its public JWKS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from ..errors import InputError

# SMART App Launch 2.x: clients SHALL support RS384 or ES384, servers SHALL accept both.
ALGORITHMS = ("RS384", "ES384")

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def read_private_key_pem(path: str | Path) -> bytes:
    """The bytes of a PEM private key file; InputError naming the file when it cannot be read."""
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise InputError(str(path), exc.strerror or "cannot be read") from None


def load_private_key(pem: bytes, alg: str) -> PrivateKey:
    """The private key in `pem`, checked to fit `alg` (RSA for RS384, EC P-384 for ES384)."""
    if alg not in ALGORITHMS:
        raise ValueError(f"SMART Backend Services signs with RS384 or ES384, not {alg!r}")
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not an unencrypted PEM private key: {exc}") from None
    if alg == "RS384" and isinstance(key, rsa.RSAPrivateKey):
        return key
    if (
        alg == "ES384"
        and isinstance(key, ec.EllipticCurvePrivateKey)
        and key.curve.name == "secp384r1"
    ):
        return key
    raise ValueError(f"the private key does not fit {alg} (RS384 needs RSA, ES384 needs EC P-384)")


def generate_private_key_pem(alg: str = "RS384") -> bytes:
    """A new private key for `alg` as unencrypted PKCS#8 PEM (RSA 3072 bits or EC P-384)."""
    if alg not in ALGORITHMS:
        raise ValueError(f"SMART Backend Services signs with RS384 or ES384, not {alg!r}")
    key: PrivateKey
    if alg == "RS384":
        key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    else:
        key = ec.generate_private_key(ec.SECP384R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_jwk(pem: bytes, kid: str, alg: str) -> dict[str, Any]:
    """The public half of the key in `pem` as a JWK with its kid and alg, to register."""
    key = load_private_key(pem, alg)
    jwk: dict[str, Any]
    if isinstance(key, rsa.RSAPrivateKey):
        jwk = dict(RSAAlgorithm.to_jwk(key.public_key(), as_dict=True))
    else:
        jwk = dict(ECAlgorithm.to_jwk(key.public_key(), as_dict=True))
    jwk.update({"kid": kid, "alg": alg, "use": "sig", "key_ops": ["verify"]})
    return jwk


def public_jwks(pem: bytes, kid: str, alg: str) -> dict[str, Any]:
    """A JWK Set holding the public key of `pem` (what a server registers for the client)."""
    return {"keys": [public_jwk(pem, kid, alg)]}
