"""What every provider client does with an HTTP answer before reading it."""
from __future__ import annotations

from typing import Any

import requests

from . import ProviderAuthError, ProviderRejected, ProviderUnavailable


def send(session: requests.Session, provider: str, method: str, url: str, *, timeout: float,
         auth_statuses: tuple[int, ...] = (401,), **kwargs: Any) -> requests.Response:
    """Sends one request; transport failures, 429 and 5xx become ProviderUnavailable."""
    try:
        response = session.request(method, url, timeout=timeout, **kwargs)
    except requests.Timeout:
        raise ProviderUnavailable(provider, "timed out") from None
    except requests.RequestException as exc:
        raise ProviderUnavailable(provider, f"unreachable ({type(exc).__name__})") from None
    if response.status_code == 429:
        raise ProviderUnavailable(provider, "rate limited (429)", status=429)
    if response.status_code >= 500:
        raise ProviderUnavailable(provider, f"server error ({response.status_code})", status=response.status_code)
    if response.status_code in auth_statuses:
        raise ProviderAuthError(provider, f"credentials refused ({response.status_code})", status=response.status_code)
    return response


def json_body(response: requests.Response, provider: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise ProviderUnavailable(provider, f"answered {response.status_code} without JSON",
                                  status=response.status_code) from None


def reject_unless_ok(response: requests.Response, provider: str, what: str) -> None:
    if not response.ok:
        raise ProviderRejected(provider, f"{what} refused ({response.status_code})", status=response.status_code)
