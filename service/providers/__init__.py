"""HTTP clients for the OAuth providers, and the errors every provider call can raise.

A client never retries by itself: the caller decides, and work that must survive a provider's
bad hour goes through the retry queue, whose backoff is the one retry policy we run.
"""
from __future__ import annotations


class ProviderError(Exception):
    """A provider call failed. `retryable` tells the queue whether trying later can help."""

    retryable = True

    def __init__(self, provider: str, message: str, *, status: int | None = None) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider
        self.reason = message  # without the provider's name: for messages that already name it
        self.status = status


class ProviderUnavailable(ProviderError):
    """Down, slow, rate-limiting (429, Shopify's THROTTLED) or answering nonsense: try later."""


class ProviderAuthError(ProviderError):
    """The provider refused our credentials (401, invalid_grant): the user must reconnect."""

    retryable = False


class ProviderRejected(ProviderError):
    """The provider refused the request itself (4xx, GraphQL userErrors)."""

    retryable = False
