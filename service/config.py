"""Every setting the service reads, in one place, read once from the environment and `.env`.

The process environment wins over `.env`; `.env.example` documents each name below.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from dotenv import dotenv_values

from .errors import HavenError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(HavenError, ValueError):
    """A setting is missing or malformed."""


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError(f"not a boolean: {value!r}")


@dataclass(frozen=True)
class Settings:
    # Database: unset means the embedded local cluster under .haven/pg.
    database_url: str | None = field(default=None, metadata={"env": "DATABASE_URL"})
    db_pool_min: int = field(default=1, metadata={"env": "HAVEN_DB_POOL_MIN"})
    db_pool_max: int = field(default=10, metadata={"env": "HAVEN_DB_POOL_MAX"})

    # Supabase Auth: the legacy HS256 secret, the JWKS of the asymmetric signing keys, or both.
    supabase_jwt_secret: str | None = field(default=None, metadata={"env": "SUPABASE_JWT_SECRET", "secret": True})
    supabase_jwks_url: str | None = field(default=None, metadata={"env": "SUPABASE_JWKS_URL"})
    jwt_audience: str = field(default="authenticated", metadata={"env": "SUPABASE_JWT_AUDIENCE"})
    jwks_cache_seconds: int = field(default=600, metadata={"env": "SUPABASE_JWKS_CACHE_SECONDS"})

    # Supabase Auth for the console's sign-in (hosted projects): the project URL (its Auth API is
    # <url>/auth/v1) and its publishable (anon) key. Unset: the console offers the local sign-in,
    # and only against a database on this machine.
    supabase_url: str | None = field(default=None, metadata={"env": "SUPABASE_URL"})
    supabase_anon_key: str | None = field(default=None, metadata={"env": "SUPABASE_ANON_KEY", "secret": True})
    # Console sessions end after this long without a request, and at the latest this long after
    # sign-in; sign-in attempts are limited per account and per client address over a window.
    console_session_idle_hours: float = field(default=12.0, metadata={"env": "HAVEN_CONSOLE_SESSION_IDLE_HOURS"})
    console_session_max_hours: float = field(default=168.0, metadata={"env": "HAVEN_CONSOLE_SESSION_MAX_HOURS"})
    sign_in_account_limit: int = field(default=10, metadata={"env": "HAVEN_SIGN_IN_ACCOUNT_LIMIT"})
    sign_in_address_limit: int = field(default=50, metadata={"env": "HAVEN_SIGN_IN_ADDRESS_LIMIT"})
    sign_in_window_seconds: int = field(default=900, metadata={"env": "HAVEN_SIGN_IN_WINDOW_SECONDS"})

    # Where the front end lives (OAuth callbacks redirect there; unset: this service's own address)
    # and where this service listens.
    app_url: str | None = field(default=None, metadata={"env": "APP_URL"})
    host: str = field(default="127.0.0.1", metadata={"env": "HAVEN_HOST"})
    port: int = field(default=5000, metadata={"env": "HAVEN_PORT"})
    web_workers: int = field(default=2, metadata={"env": "HAVEN_WEB_WORKERS"})
    web_threads: int = field(default=8, metadata={"env": "HAVEN_WEB_THREADS"})
    # The front that faces clients (service/server.py): "nginx" buffers whole requests and
    # responses, so a slow client holds a cheap connection there and never a worker thread, a
    # database connection or a snapshot; "none" serves gunicorn directly, for a deployment that
    # already has a buffering proxy in front. HAVEN_NGINX: the binary, when not on PATH or /usr/sbin.
    front: str = field(default="nginx", metadata={"env": "HAVEN_FRONT"})
    nginx_path: str | None = field(default=None, metadata={"env": "HAVEN_NGINX"})
    # Deadlines for clients (408 past the first two): the whole request head; the gap between two
    # reads of a body; the gap between two writes of an answer to a client that stopped reading.
    client_header_timeout_seconds: int = field(default=10, metadata={"env": "HAVEN_CLIENT_HEADER_TIMEOUT_SECONDS"})
    client_body_timeout_seconds: int = field(default=10, metadata={"env": "HAVEN_CLIENT_BODY_TIMEOUT_SECONDS"})
    client_send_timeout_seconds: int = field(default=60, metadata={"env": "HAVEN_CLIENT_SEND_TIMEOUT_SECONDS"})
    log_level: str = field(default="INFO", metadata={"env": "HAVEN_LOG_LEVEL"})
    # text, or json: one JSON object per line (time, level, logger, message; requests' fields).
    log_format: str = field(default="text", metadata={"env": "HAVEN_LOG_FORMAT"})
    # GET /metrics answers only to this bearer token; unset, /metrics is off.
    metrics_token: str | None = field(default=None, metadata={"env": "HAVEN_METRICS_TOKEN", "secret": True})
    # The largest request body accepted (413 above it), checked before a body is read, so an
    # unauthenticated sender cannot make a worker buffer gigabytes before the webhook HMAC check.
    # The biggest legitimate bodies are Shopify order webhooks: a few hundred KB with many line
    # items, so 5 MiB leaves ample room.
    max_request_bytes: int = field(default=5 * 1024 * 1024, metadata={"env": "HAVEN_MAX_REQUEST_BYTES"})

    # Local state (the embedded cluster) lives here.
    state_dir: Path = field(default=PROJECT_ROOT / ".haven", metadata={"env": "HAVEN_STATE_DIR"})

    # Outbound HTTP to providers.
    http_timeout_seconds: float = field(default=10.0, metadata={"env": "HAVEN_HTTP_TIMEOUT_SECONDS"})

    # API-key providers (issue 4): base URLs (tests point them at local fakes) and the short
    # timeout of the live key check a user waits on.
    api_key_check_timeout_seconds: float = field(default=5.0, metadata={"env": "HAVEN_API_KEY_CHECK_TIMEOUT_SECONDS"})
    klaviyo_api_base: str = field(default="https://a.klaviyo.com", metadata={"env": "KLAVIYO_API_BASE"})
    klaviyo_revision: str = field(default="2026-10-15", metadata={"env": "KLAVIYO_REVISION"})
    resend_api_base: str = field(default="https://api.resend.com", metadata={"env": "RESEND_API_BASE"})
    dynamic_mockups_api_base: str = field(default="https://app.dynamicmockups.com",
                                          metadata={"env": "DYNAMIC_MOCKUPS_API_BASE"})

    # Exports: a cap for every type instead of the catalog's maxRecords (unset: the catalog's), and
    # the statement_timeout of an export's transaction (it covers the whole stream to the client).
    export_max_records: int | None = field(default=None, metadata={"env": "HAVEN_EXPORT_MAX_RECORDS"})
    export_statement_timeout_seconds: int = field(
        default=1800, metadata={"env": "HAVEN_EXPORT_STATEMENT_TIMEOUT_SECONDS"})
    # How many downloads of one user may stream at once (429 past it).
    export_max_concurrent: int = field(default=3, metadata={"env": "HAVEN_EXPORT_MAX_CONCURRENT"})

    # Scheduled exports: how often the worker looks for due schedules, the sender of emailed
    # exports when the user's Resend connection has no from_email, the largest file one email may
    # carry (Resend takes 40 MB per email after base64) or one stored download may hold, and how
    # long stored files stay downloadable.
    export_schedule_poll_seconds: float = field(default=60.0, metadata={"env": "HAVEN_EXPORT_SCHEDULE_POLL_SECONDS"})
    export_email_from: str | None = field(default=None, metadata={"env": "HAVEN_EXPORT_EMAIL_FROM"})
    export_attachment_max_bytes: int = field(default=28 * 1024 * 1024,
                                             metadata={"env": "HAVEN_EXPORT_ATTACHMENT_MAX_BYTES"})
    export_file_max_bytes: int = field(default=100 * 1024 * 1024, metadata={"env": "HAVEN_EXPORT_FILE_MAX_BYTES"})
    export_file_retention_days: int = field(default=30, metadata={"env": "HAVEN_EXPORT_FILE_RETENTION_DAYS"})
    # Caps per user: how many schedules one account may have (held by SQL against direct writes
    # too: the worker copies it into public.service_limits), and how many bytes its stored files
    # (emailed runs' included) may take together; identical files are stored once and count once.
    export_schedules_per_user: int = field(default=20, metadata={"env": "HAVEN_EXPORT_SCHEDULES_PER_USER"})
    export_stored_bytes_per_user: int = field(default=512 * 1024 * 1024,
                                              metadata={"env": "HAVEN_EXPORT_STORED_BYTES_PER_USER"})

    # The retry queue worker (`haven worker`; its flags override the first three).
    worker_concurrency: int = field(default=4, metadata={"env": "HAVEN_WORKER_CONCURRENCY"})
    worker_batch: int = field(default=20, metadata={"env": "HAVEN_WORKER_BATCH"})
    worker_poll_seconds: float = field(default=5.0, metadata={"env": "HAVEN_WORKER_POLL_SECONDS"})
    worker_heartbeat_seconds: float = field(default=5.0, metadata={"env": "HAVEN_WORKER_HEARTBEAT_SECONDS"})
    queue_rescue_timeout_seconds: float = field(default=60.0,
                                                metadata={"env": "HAVEN_QUEUE_RESCUE_TIMEOUT_SECONDS"})
    queue_rescue_every_seconds: float = field(default=30.0, metadata={"env": "HAVEN_QUEUE_RESCUE_EVERY_SECONDS"})
    queue_backoff_base_seconds: float = field(default=30.0, metadata={"env": "HAVEN_QUEUE_BACKOFF_BASE_SECONDS"})
    queue_backoff_cap_seconds: float = field(default=21600.0, metadata={"env": "HAVEN_QUEUE_BACKOFF_CAP_SECONDS"})
    queue_keep_resolved_days: int = field(default=30, metadata={"env": "HAVEN_QUEUE_KEEP_RESOLVED_DAYS"})
    # The audit of credential reads (public.credential_reads) is kept this long (at least a day).
    keep_credential_reads_days: int = field(default=90, metadata={"env": "HAVEN_KEEP_CREDENTIAL_READS_DAYS"})

    # This service's own public base URL: OAuth redirect URIs and webhook addresses point here
    # (APP_URL is the front end, where users land after a callback). Unset: the served address.
    public_url: str | None = field(default=None, metadata={"env": "HAVEN_PUBLIC_URL"})
    # Expiring tokens are refreshed by a periodic worker job this often.
    token_refresh_every_seconds: float = field(default=60.0, metadata={"env": "HAVEN_TOKEN_REFRESH_EVERY_SECONDS"})

    # Shopify (issue 6). The base URL template names the shop's host; tests point it at a fake.
    shopify_client_id: str | None = field(default=None, metadata={"env": "SHOPIFY_CLIENT_ID"})
    shopify_client_secret: str | None = field(default=None, metadata={"env": "SHOPIFY_CLIENT_SECRET", "secret": True})
    # While rotating the app secret, Shopify may still sign with the old one: accept both.
    shopify_previous_client_secret: str | None = field(
        default=None, metadata={"env": "SHOPIFY_PREVIOUS_CLIENT_SECRET", "secret": True})
    shopify_scopes: str = field(
        default="read_products,write_products,read_orders,read_customers,write_customers,"
                "read_inventory,write_inventory,read_content,write_content",
        metadata={"env": "SHOPIFY_SCOPES"})
    shopify_api_version: str = field(default="2026-10", metadata={"env": "SHOPIFY_API_VERSION"})
    shopify_base_url: str = field(default="https://{shop}", metadata={"env": "SHOPIFY_BASE_URL"})
    shopify_callback_max_age_seconds: int = field(default=300, metadata={"env": "SHOPIFY_CALLBACK_MAX_AGE_SECONDS"})
    shopify_refresh_window_seconds: int = field(default=600, metadata={"env": "SHOPIFY_REFRESH_WINDOW_SECONDS"})
    # Handled webhook deliveries are kept this long (at least 1: Shopify redelivers for 4 hours).
    shopify_keep_webhook_days: int = field(default=30, metadata={"env": "HAVEN_SHOPIFY_KEEP_WEBHOOK_DAYS"})
    # The import learns a bulk operation finished from its webhook; failing that, it asks Shopify
    # about every operation in flight not checked for this long.
    shopify_import_poll_seconds: float = field(default=60.0, metadata={"env": "HAVEN_SHOPIFY_IMPORT_POLL_SECONDS"})

    # Pinterest (issue 7).
    pinterest_client_id: str | None = field(default=None, metadata={"env": "PINTEREST_CLIENT_ID"})
    pinterest_client_secret: str | None = field(
        default=None, metadata={"env": "PINTEREST_CLIENT_SECRET", "secret": True})
    pinterest_scopes: str = field(
        default="boards:read,boards:write,pins:read,pins:write,user_accounts:read,ads:read,ads:write",
        metadata={"env": "PINTEREST_SCOPES"})
    pinterest_api_base: str = field(default="https://api.pinterest.com/v5", metadata={"env": "PINTEREST_API_BASE"})
    pinterest_oauth_url: str = field(default="https://www.pinterest.com/oauth/", metadata={"env": "PINTEREST_OAUTH_URL"})
    pinterest_refresh_window_seconds: int = field(
        default=5 * 24 * 3600, metadata={"env": "PINTEREST_REFRESH_WINDOW_SECONDS"})
    # Pins, their metrics, the account's figures and ad accounts are synced for every connected
    # account this often (issue 14); due scheduled pins are looked for this often.
    pinterest_sync_every_seconds: float = field(default=6 * 3600.0, metadata={"env": "PINTEREST_SYNC_EVERY_SECONDS"})
    pinterest_publish_every_seconds: float = field(default=60.0, metadata={"env": "PINTEREST_PUBLISH_EVERY_SECONDS"})
    # Days of daily metrics each sync reads, ending today (Pinterest serves at most 90 back).
    pinterest_analytics_days: int = field(default=90, metadata={"env": "PINTEREST_ANALYTICS_DAYS"})

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, env_file: Path | None = None) -> Settings:
        """Reads `.env` (if present) under the process environment, which takes precedence."""
        dotenv_path = env_file if env_file is not None else PROJECT_ROOT / ".env"
        values: dict[str, str] = {
            key: value for key, value in dotenv_values(dotenv_path).items() if value is not None
        } if dotenv_path.is_file() else {}
        values.update(os.environ if environ is None else environ)
        kwargs = {}
        for spec in fields(cls):
            raw = values.get(spec.metadata["env"])
            if raw is None or raw == "":
                continue
            kwargs[spec.name] = _convert(spec.metadata["env"], spec.type, raw)
        settings = cls(**kwargs)
        if settings.database_url is None and settings.supabase_jwt_secret is None:
            # The embedded stack signs its own dev tokens with a secret made by `haven db up`.
            dev_secret = settings.dev_jwt_secret_file
            if dev_secret.is_file():
                settings = replace(settings, supabase_jwt_secret=dev_secret.read_text().strip())
        return settings

    @property
    def served_url(self) -> str:
        """Where this service answers, as a browser on this machine reaches it."""
        host = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}.get(self.host, self.host)
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def front_end_url(self) -> str:
        """APP_URL, or this service itself (the console is served here)."""
        return (self.app_url or self.served_url).rstrip("/")

    @property
    def public_base_url(self) -> str:
        """HAVEN_PUBLIC_URL, or the served address (right for the local stack, not behind a proxy)."""
        return (self.public_url or self.served_url).rstrip("/")

    @property
    def dev_jwt_secret_file(self) -> Path:
        return self.state_dir / "dev-jwt-secret"

    def redacted(self) -> dict[str, object]:
        """The settings with every secret masked, for logs and diagnostics."""
        shown: dict[str, object] = {}
        for spec in fields(self):
            value = getattr(self, spec.name)
            shown[spec.metadata["env"]] = "***" if spec.metadata.get("secret") and value else value
        return shown


def _convert(name: str, annotation: object, raw: str) -> object:
    text = str(annotation)
    try:
        if text.startswith("int"):
            return int(raw)
        if text.startswith("float"):
            return float(raw)
        if text.startswith("bool"):
            return _bool(raw)
        if text.startswith("Path"):
            return Path(raw).expanduser()
    except (ValueError, ConfigError) as exc:
        raise ConfigError(f"{name}: {exc}") from None
    return raw
