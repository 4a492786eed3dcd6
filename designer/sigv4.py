"""AWS Signature Version 4, verified on the server, and the access keys it checks against.

The client (boto3, the AWS CLI, any SDK) signs each request with its secret key; the server finds the
secret by the access key id, signs the same canonical request again and compares the two signatures in
constant time. The signature covers the method, path, query, the signed headers and a hash of the body,
and a date (X-Amz-Date) that must be within five minutes of the server's clock either way. A captured
request cannot be changed, but it can be replayed unchanged, any number of times, for as long as its
date is in that window: up to five minutes after it was signed (ten if the client's clock ran five
minutes fast). After that it is refused. AWS behaves the same and keeps no record of signatures seen;
TLS is what keeps requests from being captured. (A replayed StartExecution that names its execution
starts nothing new: the running one is returned, or ExecutionAlreadyExists; one without a name starts
another execution each time.)

Secrets are stored encrypted (Fernet, key derived from SECRET_KEY with HKDF), not hashed: verifying a
signature needs the secret itself.

https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cache, lru_cache
from typing import Any
from urllib.parse import parse_qsl, quote

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "states"
MAX_SKEW = timedelta(minutes=5)
_KEY_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"  # base32, as AWS's key ids
_AUTHORIZATION = re.compile(r"^AWS4-HMAC-SHA256\s+(?P<params>.*)$", re.DOTALL)
_SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS "
    "Secret Access Key and signing method. Consult the service documentation for details.")


class AuthError(Exception):
    """Authentication failed: `code` is AWS's error code (every one of them is HTTP 400 for JSON
    protocol services such as Step Functions)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


# -- keys ------------------------------------------------------------------------------------------
def new_key_pair() -> tuple[str, str]:
    """(access key id, secret): `AKIA` + 16 base32 characters, and 40 random characters."""
    key_id = "AKIA" + "".join(secrets.choice(_KEY_ID_ALPHABET) for _ in range(16))
    return key_id, secrets.token_urlsafe(30)


@cache
def _fernet(secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"stepwise-access-keys",
               info=b"access key secrets").derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt_secret(secret: str) -> str:
    return _fernet(settings.SECRET_KEY).encrypt(secret.encode()).decode()


def decrypt_secret(token: str) -> str:
    """The secret, or AuthError if it cannot be decrypted (SECRET_KEY changed since it was made)."""
    try:
        return _decrypted(settings.SECRET_KEY, token)
    except InvalidToken:
        raise AuthError("UnrecognizedClientException",
                        "The security token included in the request is invalid.") from None


@lru_cache(maxsize=1024)
def _decrypted(secret_key: str, token: str) -> str:
    """Remembered by token: every signed call needs its key's secret, and the row is still read (and
    its revocation checked) on every call; only Fernet's work is saved."""
    return _fernet(secret_key).decrypt(token.encode()).decode()


# -- signing ---------------------------------------------------------------------------------------
def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


@lru_cache(maxsize=1024)
def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """Derived once a key, day and region (AWS's SDKs cache it the same way)."""
    key = _hmac(("AWS4" + secret).encode(), date)
    key = _hmac(key, region)
    key = _hmac(key, service)
    return _hmac(key, "aws4_request")


def _uri_encode(text: str, safe: str = "-_.~") -> str:
    return quote(text, safe=safe)


def canonical_request(method: str, path: str, query: str, headers: dict[str, str], signed: list[str],
                      payload_hash: str) -> str:
    canonical_path = _uri_encode(path or "/", safe="/-_.~")
    pairs = sorted((_uri_encode(k), _uri_encode(v)) for k, v in parse_qsl(query, keep_blank_values=True))
    canonical_query = "&".join(f"{k}={v}" for k, v in pairs)
    canonical_headers = "".join(f"{name}:{' '.join(headers.get(name, '').split())}\n" for name in signed)
    return "\n".join([method, canonical_path, canonical_query, canonical_headers, ";".join(signed),
                      payload_hash])


def string_to_sign(amz_date: str, scope: str, request_text: str) -> str:
    return "\n".join([ALGORITHM, amz_date, scope, hashlib.sha256(request_text.encode()).hexdigest()])


def sign(secret: str, amz_date: str, scope: str, request_text: str) -> str:
    date, region, service, _ = scope.split("/")
    key = signing_key(secret, date, region, service)
    return hmac.new(key, string_to_sign(amz_date, scope, request_text).encode(), hashlib.sha256).hexdigest()


# -- verifying -------------------------------------------------------------------------------------
def _parse_authorization(header: str) -> tuple[str, str, str, list[str], str]:
    """(key id, scope, the scope's region, signed header names, signature) or IncompleteSignature."""
    match = _AUTHORIZATION.match(header.strip())
    if not match:
        raise AuthError("IncompleteSignatureException",
                        f"Authorization header requires '{ALGORITHM}' as its algorithm. "
                        f"Authorization={header}")
    params = {}
    for part in match.group("params").split(","):
        name, _, value = part.strip().partition("=")
        params[name] = value
    missing = [name for name in ("Credential", "SignedHeaders", "Signature") if not params.get(name)]
    if missing:
        raise AuthError("IncompleteSignatureException", " ".join(
            f"Authorization header requires '{name}' parameter." for name in missing)
            + f" Authorization={header}")
    credential = params["Credential"].split("/")
    if len(credential) != 5 or credential[4] != "aws4_request":
        raise AuthError("IncompleteSignatureException",
                        f"Credential should be scoped to a valid region. Credential={params['Credential']}")
    key_id, date, region, service, _ = credential
    if service != SERVICE:
        raise AuthError("InvalidSignatureException",
                        f"Credential should be scoped to correct service: '{SERVICE}'. ")
    signed = params["SignedHeaders"].lower().split(";")
    if "host" not in signed:
        raise AuthError("InvalidSignatureException",
                        "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
    return key_id, "/".join(credential[1:]), region, signed, params["Signature"]


def verify(method: str, path: str, query: str, headers: dict[str, str], body: bytes,
           find_key: Callable[[str], Any], now: datetime | None = None):
    """The active key that signed this request, or AuthError. `headers` has lower-case names.

    `find_key(access_key_id)` gives the active key with that id (None: there is none); a key has the
    `secret()` it signs with and `note_use(now)`. So this module needs no models (AccessKey is one)."""
    header = headers.get("authorization")
    if not header:
        raise AuthError("MissingAuthenticationTokenException", "Missing Authentication Token")
    key_id, scope, _region, signed, signature = _parse_authorization(header)
    amz_date = headers.get("x-amz-date", "")
    try:
        moment = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise AuthError("IncompleteSignatureException", "Authorization header requires existence of "
                        "either a 'X-Amz-Date' or a 'Date' header.") from None
    if scope.split("/")[0] != amz_date[:8]:
        raise AuthError("InvalidSignatureException", "Date in Credential scope does not match YYYYMMDD "
                        "from ISO-8601 version of date from HTTP: "
                        f"'{scope.split('/')[0]}' != '{amz_date[:8]}', from ISO-8601 string '{amz_date}'.")
    now = now or datetime.now(UTC)
    stamp = "%Y%m%dT%H%M%SZ"
    if moment < now - MAX_SKEW:
        raise AuthError("InvalidSignatureException", f"Signature expired: {amz_date} is now earlier than "
                        f"{(now - MAX_SKEW).strftime(stamp)} ({now.strftime(stamp)} - 5 min.)")
    if moment > now + MAX_SKEW:
        raise AuthError("InvalidSignatureException", f"Signature not yet current: {amz_date} is still "
                        f"later than {(now + MAX_SKEW).strftime(stamp)} ({now.strftime(stamp)} + 5 min.)")
    key = find_key(key_id)
    if key is None:
        raise AuthError("UnrecognizedClientException",
                        "The security token included in the request is invalid.")
    body_hash = hashlib.sha256(body).hexdigest()
    claimed_hash = headers.get("x-amz-content-sha256")
    if claimed_hash not in (None, body_hash, "UNSIGNED-PAYLOAD"):
        raise AuthError("InvalidSignatureException", "The provided 'x-amz-content-sha256' header does not "
                        "match what was computed.")
    # The body is always hashed here: a signature over UNSIGNED-PAYLOAD would not protect the request.
    request_text = canonical_request(method, path, query, headers, signed, claimed_hash or body_hash)
    if claimed_hash == "UNSIGNED-PAYLOAD":
        raise AuthError("InvalidSignatureException", "Step Functions requests must sign their payload.")
    expected = sign(key.secret(), amz_date, scope, request_text)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise AuthError("InvalidSignatureException", _SIGNATURE_MISMATCH)
    key.note_use(now)
    return key
