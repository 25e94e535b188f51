"""The one HTTP transport every provider call goes through, and how its answers are read.

A `Transport` sends one request with the provider's headers and a timeout, never follows a
redirect, and sorts every failure the same way for every provider:

- no answer (timeout, refused connection, TLS) -> ProviderUnavailable
- 429 (with how long to wait: Retry-After or the limit's reset, as `retry_after`) and 5xx ->
  ProviderUnavailable
- a status the caller names as "credentials refused" -> ProviderAuthError
- anything else comes back to the caller, who knows what the provider's 4xx mean.

A client never retries by itself: work that must survive a provider's bad hour goes through the
retry queue, whose backoff is the one retry policy. Messages name statuses and error codes,
never a provider's free text (which could quote a key) and never a URL's query string.
"""
from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import urlsplit

import requests

from ..errors import ProviderAuthError, ProviderRejected, ProviderUnavailable

USER_AGENT = "haven-hub-core/0.1 (+https://docs.havenhold.com)"
_SAFE_CODE = re.compile(r"[^a-z0-9_.-]")


class Transport:
    """One provider's HTTP: default headers, a timeout and (optionally) a base URL.

    With a base URL, a path is joined to it and an absolute URL (a pagination link) must stay on
    its origin: following a link elsewhere would hand the caller's credentials to another host.
    """

    def __init__(self, provider: str, *, timeout: float, base_url: str | None = None,
                 headers: dict[str, str] | None = None, auth_statuses: tuple[int, ...] = (401,),
                 session: requests.Session | None = None) -> None:
        self.provider = provider
        self.timeout = timeout
        # Statuses that mean "credentials refused" (ProviderAuthError); () when the caller reads
        # them itself (a key check tells a wrong key from a key without the scope it needs).
        self.auth_statuses = auth_statuses
        self.base_url = base_url.rstrip("/") if base_url else None
        self.session = session or requests.Session()
        self.session.headers.update({"User-Agent": USER_AGENT, **(headers or {})})

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.session.close()

    def url(self, path_or_url: str) -> str:
        if self.base_url is None:
            return path_or_url
        url = path_or_url if "://" in path_or_url else self.base_url + path_or_url
        if _origin(url) != _origin(self.base_url):
            raise ProviderUnavailable(self.provider, "the provider sent a link to another host")
        return url

    def request(self, method: str, path_or_url: str, *, auth_statuses: tuple[int, ...] | None = None,
                **kwargs: Any) -> requests.Response:
        """Sends one request; see the module's docstring for what it raises."""
        try:
            response = self.session.request(method, self.url(path_or_url), timeout=self.timeout,
                                            allow_redirects=False, **kwargs)
        except requests.Timeout:
            raise ProviderUnavailable(self.provider, f"no answer within {self.timeout:g} s") from None
        except requests.RequestException as exc:
            raise ProviderUnavailable(self.provider, f"could not connect ({type(exc).__name__})") from None
        status = response.status_code
        if status == 429:
            wait = rate_limit_wait(response)
            hint = f", retry after {wait:.0f} s" if wait is not None else ""
            raise ProviderUnavailable(self.provider, f"rate limited (429{hint})", status=429, retry_after=wait)
        if status >= 500:
            raise ProviderUnavailable(self.provider, f"server error ({status})", status=status)
        if status in (self.auth_statuses if auth_statuses is None else auth_statuses):
            raise ProviderAuthError(self.provider, f"credentials refused ({status})", status=status)
        return response

    def get(self, path_or_url: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path_or_url, **kwargs)

    def post(self, path_or_url: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path_or_url, **kwargs)

    def delete(self, path_or_url: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path_or_url, **kwargs)


# A reset this large is a Unix time, not a number of seconds (no provider's window is 30 years).
_EPOCH_THRESHOLD = 10**9
# The longest wait honoured: a day, the longest window any provider we call documents (Pinterest's
# daily trial limit). A larger figure is a provider's mistake, not a reason to park work for years.
MAX_RATE_LIMIT_WAIT = 86400.0


def rate_limit_wait(response: requests.Response, now: float | None = None) -> float | None:
    """Seconds a rate-limited answer asks us to wait: Retry-After (seconds), else the limit's reset
    (`X-RateLimit-Reset`, seconds until the window resets, or a Unix time), the longer of the two
    when both are given, at most a day; None when neither is a number."""
    waits: list[float] = []
    for header in ("Retry-After", "X-RateLimit-Reset"):
        raw = response.headers.get(header, "").strip()
        try:
            value = float(raw)
        except ValueError:
            continue
        if value != value or value in (float("inf"), float("-inf")):
            continue  # nan or infinite: no number at all
        if value >= _EPOCH_THRESHOLD:
            value -= time.time() if now is None else now
        waits.append(max(0.0, value))
    return min(max(waits), MAX_RATE_LIMIT_WAIT) if waits else None


def rejected_unless_ok(response: requests.Response, provider: str, what: str) -> None:
    """A 4xx (or a redirect) the caller has no meaning for: the provider refused the request."""
    if not 200 <= response.status_code < 300:
        raise ProviderRejected(provider, f"{what} refused ({response.status_code})", status=response.status_code)


def unavailable_unless_ok(response: requests.Response, provider: str) -> None:
    """For checks a user waits on: any status that is not 2xx means the provider could not tell."""
    if not 200 <= response.status_code < 300:
        raise ProviderUnavailable(provider, f"unexpected status {response.status_code}",
                                  status=response.status_code)


def json_body(response: requests.Response, provider: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise ProviderUnavailable(provider, f"answered {response.status_code} without JSON",
                                  status=response.status_code) from None


def json_object(response: requests.Response, provider: str) -> dict[str, Any]:
    body = json_body(response, provider)
    if not isinstance(body, dict):
        raise ProviderUnavailable(provider, "the answer is not a JSON object")
    return body


def error_field(response: requests.Response, *path: str | int) -> str:
    """A provider's error code found at `path` in a JSON refusal, reduced to a short identifier fit
    for a stored message; "" when the refusal is not shaped like one (e.g. a proxy's page)."""
    if response.status_code < 400:
        return ""
    try:
        value: Any = response.json()
    except ValueError:
        return ""
    for step in path:
        if isinstance(step, int):
            value = value[step] if isinstance(value, list) and len(value) > step else None
        else:
            value = value.get(step) if isinstance(value, dict) else None
    return safe_code(value) if value is not None else ""


def safe_code(value: object) -> str:
    """A provider's error code reduced to a short identifier, fit for a stored message."""
    return _SAFE_CODE.sub("", str(value).lower())[:64]


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()
