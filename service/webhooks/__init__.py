"""Inbound webhooks: verified at the door, recorded once, processed from the retry queue."""
