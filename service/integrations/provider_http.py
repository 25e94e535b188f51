"""Calling a provider to check an API key: one session per check, a short timeout, and every
failure sorted into "the key is wrong" (InvalidApiKey, a ProviderAuthError) or "the provider could
not answer" (ProviderUnavailable): the errors every provider client raises (service/providers).

A key goes into request headers only; it is never logged, and the messages built here name the
provider's status and error code, never echo the provider's text (which could quote the key).
"""
from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import urlsplit

import requests

from ..providers import ProviderAuthError, ProviderUnavailable

log = logging.getLogger(__name__)
USER_AGENT = "haven-hub-core/0.1 (+https://docs.havenhold.com)"
_SAFE_CODE = re.compile(r"[^a-z0-9_.-]")


class InvalidApiKey(ProviderAuthError):
    """The provider refused the key (401/403), or it cannot be one. `reason` is safe to show and store."""


def safe_code(value: object) -> str:
    """A provider's error code reduced to a short identifier, fit for a stored message."""
    return _SAFE_CODE.sub("", str(value).lower())[:64]


class KeyCheckSession:
    """One key check: a requests session with the provider's headers and the check's timeout."""

    def __init__(self, provider: str, base_url: str, timeout: float, headers: dict[str, str]) -> None:
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.origin = _origin(self.base_url)
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers.update({"User-Agent": USER_AGENT, **headers})

    def __enter__(self) -> KeyCheckSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.session.close()

    def get(self, path_or_url: str, params: dict[str, str] | None = None) -> requests.Response:
        """GET a path under the base URL, or an absolute URL on the same origin (pagination links)."""
        url = path_or_url if "://" in path_or_url else self.base_url + path_or_url
        if _origin(url) != self.origin:
            # Following a link elsewhere would hand our caller's key to another host.
            raise ProviderUnavailable(self.provider, "the provider sent a link to another host")
        try:
            return self.session.get(url, params=params, timeout=self.timeout, allow_redirects=False)
        except requests.Timeout:
            raise ProviderUnavailable(self.provider, f"no answer within {self.timeout:g} s") from None
        except requests.RequestException as exc:
            raise ProviderUnavailable(self.provider, f"could not connect ({type(exc).__name__})") from None


def unavailable_unless_ok(response: requests.Response, provider: str) -> None:
    """Raises ProviderUnavailable for 429, 5xx and any other status that is not 2xx."""
    if response.status_code == 429:
        retry_after = response.headers.get("Retry-After", "")
        hint = f", retry after {retry_after} s" if retry_after.isdigit() else ""
        raise ProviderUnavailable(provider, f"rate limited (429{hint})")
    if response.status_code >= 500:
        raise ProviderUnavailable(provider, f"server error ({response.status_code})")
    if not 200 <= response.status_code < 300:
        raise ProviderUnavailable(provider, f"unexpected status {response.status_code}")


def json_object(response: requests.Response, provider: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise ProviderUnavailable(provider, "the answer is not JSON") from None
    if not isinstance(body, dict):
        raise ProviderUnavailable(provider, "the answer is not a JSON object")
    return body


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()
