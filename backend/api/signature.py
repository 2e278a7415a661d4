"""Request signatures, as Alibaba Cloud's SDKs make them (their sources, not a guess):

- ACS3-HMAC-SHA256 (`alibabacloud-tea-openapi`'s default, `Utils.get_authorization`): header
  `Authorization: ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=h1;h2,Signature=HEX` over the
  canonical request METHOD \\n PATH \\n sorted query (RFC 3986, `~` kept) \\n `name:value\\n` of
  each signed header \\n the signed names \\n x-acs-content-sha256; signed string
  `ACS3-HMAC-SHA256\\n` + hex(sha256(canonical request)); HMAC-SHA256 with the secret.
  The date is `x-acs-date`, the nonce `x-acs-signature-nonce`.
- HMAC-SHA1 signature version 1 (`aliyun-python-sdk-core`'s rpc composer; tea-openapi with
  `signature_algorithm='v2'`): every parameter of query and form but Signature, sorted and
  percent-encoded, as METHOD&%2F&encode(that); HMAC-SHA1 keyed `secret&`, base64. The date is
  `Timestamp`, the nonce `SignatureNonce`.

The signature is checked first, then the time (within 15 minutes), then the nonce (stored
for 15 minutes: a replay is refused), so nobody can burn a nonce without the secret.
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import hmac
import re
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from backend.api.errors import ApiError
from backend.inventory.errors import LecsError
from backend.ram.accesskeys import AccessKey, KeyState

if TYPE_CHECKING:
    from backend.api.server import Request
    from backend.cloud import Cloud

WINDOW_S = 15 * 60
MAX_NONCE = 128
ACS3 = "ACS3-HMAC-SHA256"
AUTH_RE = re.compile(r"^(?P<alg>ACS3-[A-Z0-9-]+)\s+Credential=(?P<cred>[^,\s]*),\s*"
                     r"SignedHeaders=(?P<headers>[^,\s]*),\s*Signature=(?P<sig>[0-9a-fA-F]*)$")


def encode(value: str) -> str:
    """RFC 3986 percent-encoding, as both SDKs do it (`~` kept, space as %20)."""
    return quote(value, safe="~", encoding="utf-8")


def incomplete(what: str) -> ApiError:
    return ApiError("IncompleteSignature", f"The request signature does not conform to"
                    f" Aliyun standards: {what}.", 400)


def mismatch(string_to_sign: str) -> ApiError:
    """ECS's message carries the server's string to sign (never a signature or a secret):
    aliyun-python-sdk-core compares it with its own to tell a wrong secret apart."""
    return ApiError("SignatureDoesNotMatch", "Specified signature is not matched with our"
                    f" calculation. server string to sign is:{string_to_sign}", 400)


def acs3_string_to_sign(method: str, path: str, query: dict[str, str],
                        headers: list[tuple[str, list[str]]], payload_hash: str) -> str:
    canonical_query = "&".join(f"{encode(k)}={encode(query[k])}" for k in sorted(query))
    canonical_headers = "".join(
        f"{name}:{','.join(sorted(v.strip() for v in values))}\n" for name, values in headers)
    signed = ";".join(name for name, _ in headers)
    canonical = f"{method}\n{path or '/'}\n{canonical_query}\n{canonical_headers}\n{signed}\n" \
                f"{payload_hash}"
    return f"{ACS3}\n{hashlib.sha256(canonical.encode()).hexdigest()}"


def acs3_signature(secret: str, string_to_sign: str) -> str:
    return hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha256).hexdigest()


def v1_string_to_sign(method: str, params: dict[str, str]) -> str:
    canonical = "&".join(f"{encode(k)}={encode(params[k])}" for k in sorted(params)
                         if k != "Signature")
    return f"{method}&%2F&{encode(canonical)}"


def v1_signature(secret: str, string_to_sign: str) -> str:
    digest = hmac.new(f"{secret}&".encode(), string_to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def same(expected: str, given: str) -> bool:
    """Constant-time comparison of a signature with what a request sent (any text)."""
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))


def parse_time(text: str) -> float:
    """Seconds since the epoch of an ISO 8601 UTC time as the SDKs send it."""
    for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%fZ"):
        try:
            return float(calendar.timegm(time.strptime(text, fmt)))
        except ValueError:
            continue
    raise ApiError("InvalidTimeStamp.Format", "Specified time stamp or date value is not well"
                   " formatted.", 400)


class Verifier:
    """Checks one request's signature against the inventory's access keys and nonces."""

    def __init__(self, cloud: Cloud) -> None:
        self.keys = cloud.accesskeys
        self.store = cloud.store

    def verify(self, req: Request, params: dict[str, str]) -> AccessKey:
        auth = req.headers.get("Authorization", "")
        if auth.startswith("ACS3-"):
            return self._acs3(req, auth)
        if "Signature" in params or "AccessKeyId" in params:
            return self._v1(req, params)
        raise incomplete("no Authorization header and no Signature parameter")

    def _key(self, key_id: str) -> tuple[AccessKey, str]:
        key = self.keys.find(key_id) if key_id else None
        if key is None:
            raise ApiError("InvalidAccessKeyId.NotFound", "Specified access key is not found.",
                           404)
        if key.state is not KeyState.ACTIVE:
            raise ApiError("InvalidAccessKeyId.Inactive", "Specified access key is disabled.",
                           400)
        try:
            return key, self.keys.secret(key_id)
        except LecsError:
            raise ApiError("InvalidAccessKeyId.NotFound", "Specified access key is not found.",
                           404) from None

    def _acs3(self, req: Request, auth: str) -> AccessKey:
        match = AUTH_RE.match(auth.strip())
        if not match:
            raise incomplete("the Authorization header is not ACS3's")
        if match["alg"] != ACS3:
            raise incomplete(f"{match['alg']} is not supported (lecs checks {ACS3})")
        signed = match["headers"].split(";") if match["headers"] else []
        for needed in ("x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256"):
            if needed not in signed:
                raise incomplete(f"the header {needed} is not signed")
        if signed != sorted(signed) or any(n != n.lower() for n in signed):
            raise incomplete("SignedHeaders are not sorted lowercase names")
        getall: Any = getattr(req.headers, "getall", None)
        headers = [(n, list(getall(n, [])) if getall else [req.headers.get(n, "")])
                   for n in signed]
        payload = req.headers.get("x-acs-content-sha256", "")
        if payload != hashlib.sha256(req.body).hexdigest():
            raise ApiError("SignatureDoesNotMatch", "x-acs-content-sha256 is not the SHA-256"
                           " of the request body.", 400)
        key, secret = self._key(match["cred"])
        to_sign = acs3_string_to_sign(req.method, req.path, req.query, headers, payload)
        if not same(acs3_signature(secret, to_sign), match["sig"].lower()):
            raise mismatch(to_sign)
        self._fresh(key, req.headers.get("x-acs-date", ""),
                    req.headers.get("x-acs-signature-nonce", ""))
        return key

    def _v1(self, req: Request, params: dict[str, str]) -> AccessKey:
        for needed in ("AccessKeyId", "Signature", "SignatureMethod", "SignatureNonce",
                       "Timestamp"):
            if not params.get(needed):
                raise incomplete(f"the parameter {needed} is missing")
        if params["SignatureMethod"] != "HMAC-SHA1":
            raise incomplete(f"SignatureMethod {params['SignatureMethod']} is not supported"
                             " (lecs checks HMAC-SHA1)")
        if params.get("SignatureVersion", "1.0") != "1.0":
            raise incomplete(f"SignatureVersion {params['SignatureVersion']} is not 1.0")
        key, secret = self._key(params["AccessKeyId"])
        to_sign = v1_string_to_sign(req.method, params)
        if not same(v1_signature(secret, to_sign), params["Signature"]):
            raise mismatch(to_sign)
        self._fresh(key, params["Timestamp"], params["SignatureNonce"])
        return key

    def _fresh(self, key: AccessKey, stamp: str, nonce: str) -> None:
        if not stamp or not nonce:
            raise incomplete("the date or the nonce is missing")
        if len(nonce) > MAX_NONCE:
            raise incomplete(f"the nonce is longer than {MAX_NONCE} characters")
        now = time.time()
        if abs(now - parse_time(stamp)) > WINDOW_S:
            raise ApiError("InvalidTimeStamp.Expired", "Specified time stamp or date value is"
                           " expired (more than 15 minutes from the server's clock).", 400)
        with self.store.transaction():
            self.store.execute("DELETE FROM api_nonces WHERE time < ?", [now - WINDOW_S])
            seen = self.store.row("SELECT 1 AS x FROM api_nonces WHERE key_id = ? AND nonce = ?",
                                  [key.key_id, nonce])
            if seen:
                raise ApiError("SignatureNonceUsed", "Specified signature nonce was used"
                               " already.", 400)
            self.store.execute("INSERT INTO api_nonces (key_id, nonce, time) VALUES (?, ?, ?)",
                               [key.key_id, nonce, now])
