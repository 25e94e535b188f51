"""What the console says after an action or an OAuth callback: codes in the URL (never a secret),
sentences on the page."""
from __future__ import annotations

from collections.abc import Mapping

ERRORS = {
    "invalid_hmac": "The answer from Shopify could not be verified (its signature did not match), so nothing "
                    "was connected. Start again from the Connect button.",
    "stale_request": "The answer from Shopify was too old to trust. Start again from the Connect button.",
    "invalid_shop": "Shopify answered for an address that is not a *.myshopify.com shop.",
    "invalid_state": "This connection attempt is unknown, was already used, or took longer than 10 minutes. "
                     "Start again from the Connect button.",
    "other_browser": "The connection was finished in a different browser (or after signing out) from the one "
                     "that started it, so it was refused. Start again here and finish in this browser.",
    "token_exchange_failed": "The provider did not give us access (the token exchange failed). Try again.",
    "shop_info_failed": "Shopify gave us access but would not describe the shop. Try again.",
    "shop_in_use": "That shop is connected to another Haven Hub account; disconnect it there first.",
    "access_denied": "Access was not granted on the provider's consent screen.",
    "missing_parameters": "The provider's answer was missing its parameters. Start again.",
    "account_failed": "Pinterest gave us access but would not describe the account. Try again.",
    "not_configured": "This provider is not configured on this server (its app credentials are not set).",
}
SUCCESSES = {
    "shopify_connected": "Shopify is connected.",
    "pinterest_connected": "Pinterest is connected.",
}


def message(query: Mapping[str, str], labels: Mapping[str, str]) -> tuple[str, str] | None:
    """("success" | "error", sentence) for an outcome in the query string, or None."""
    if query.get("error"):
        code = query["error"]
        return "error", ERRORS.get(code, f"That did not work ({code.replace('_', ' ')}).")
    if query.get("success"):
        return "success", SUCCESSES.get(query["success"], "Done.")
    done, subject = query.get("done"), labels.get(query.get("provider", ""), query.get("provider", ""))
    sentences = {
        "connected": f"{subject} is connected.",
        "disconnected": f"{subject} is disconnected.",
        "skipped": "Step skipped: you can come back to it at any time.",
        "saved": "Saved.",
        "default_list": f"{subject}'s default list is saved.",
        "retried": "The item will be tried again now.",
        "created": "Schedule created.",
        "updated": "Schedule saved.",
        "deleted": "Schedule deleted.",
    }
    if done in sentences:
        return "success", sentences[done]
    return None
