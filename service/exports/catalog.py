"""The export field catalog (the plan's `EXPORT_CONFIGS`), in one place.

Each type reads one `security_invoker` view (`supabase/schemas/30_export_views.sql`; products' in
`supabase/schemas/46_shopify_catalog.sql`, beside its tables) whose
columns are exactly these field keys plus `user_id` and `export_date`, the column the date range
filters on; `sql_tests/30_export_views.sql` and `tests/test_exports.py` hold the two together.
`kind` decides how a value is written: only `text` cells are neutralised against spreadsheet
formulas, and `boolean` cells are written as true/false.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

FieldKind = Literal["text", "number", "boolean", "timestamp", "date", "uuid"]
ExportFormat = Literal["csv", "json"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = ("csv", "json")


@dataclass(frozen=True)
class ExportField:
    key: str
    label: str
    default: bool
    kind: FieldKind


@dataclass(frozen=True)
class ExportConfig:
    type: str
    label: str
    description: str
    default_date_range: int  # days back from the end of the range when no startDate is given
    max_records: int
    fields: tuple[ExportField, ...]
    # What export_date is in the view: a timestamp (created_at) or a calendar day (date).
    date_kind: Literal["timestamp", "date"] = "timestamp"
    date_source: str = "created_at"

    @property
    def view(self) -> str:
        return f"export_{self.type}"

    @property
    def default_fields(self) -> tuple[ExportField, ...]:
        return tuple(f for f in self.fields if f.default)

    @property
    def has_id(self) -> bool:
        return any(f.key == "id" for f in self.fields)

    def field(self, key: str) -> ExportField | None:
        return next((f for f in self.fields if f.key == key), None)


def _f(key: str, label: str, kind: FieldKind, default: bool = True) -> ExportField:
    return ExportField(key, label, default, kind)


EXPORT_CONFIGS: Mapping[str, ExportConfig] = MappingProxyType({
    "leads": ExportConfig(
        "leads", "Leads", "Quiz responses and email subscribers", 30, 50_000, (
            _f("id", "ID", "uuid"),
            _f("email", "Email", "text"),
            _f("segment", "Segment", "text"),
            _f("source", "Source", "text"),
            _f("quiz_completed", "Quiz Completed", "boolean"),
            _f("converted", "Converted to Customer", "boolean"),
            _f("created_at", "Created At", "timestamp"),
            _f("utm_source", "UTM Source", "text", False),
            _f("utm_medium", "UTM Medium", "text", False),
            _f("utm_campaign", "UTM Campaign", "text", False),
        )),
    "customers": ExportConfig(
        "customers", "Customers", "Customer profiles and purchase history", 90, 50_000, (
            _f("id", "ID", "uuid"),
            _f("email", "Email", "text"),
            _f("shopify_customer_id", "Shopify ID", "text"),
            _f("segment", "Segment", "text"),
            _f("order_count", "Order Count", "number"),
            _f("total_spent", "Total Spent", "number"),
            _f("first_order_at", "First Order", "timestamp"),
            _f("last_order_at", "Last Order", "timestamp"),
            _f("journey_stage", "Journey Stage", "text"),
            _f("loyalty_tier", "Loyalty Tier", "text", False),
            _f("lifetime_points", "Lifetime Points", "number", False),
        )),
    "orders": ExportConfig(
        "orders", "Orders", "Order history with line items", 90, 100_000, (
            _f("id", "ID", "uuid"),
            _f("shopify_order_id", "Shopify Order ID", "text"),
            _f("customer_email", "Customer Email", "text"),
            _f("total", "Total", "number"),
            _f("subtotal", "Subtotal", "number"),
            _f("discount_total", "Discount", "number"),
            _f("item_count", "Item Count", "number"),
            _f("status", "Status", "text"),
            _f("created_at", "Created At", "timestamp"),
            _f("attribution_channel", "Attribution Channel", "text", False),
            _f("coupon_code", "Coupon Code", "text", False),
            _f("refunded_total", "Refunded", "number", False),
        )),
    "pins": ExportConfig(
        "pins", "Pinterest Pins", "Pin performance and scheduling data", 30, 10_000, (
            _f("id", "ID", "uuid"),
            _f("title", "Title", "text"),
            _f("board_name", "Board", "text"),
            _f("status", "Status", "text"),
            _f("impressions", "Impressions", "number"),
            _f("saves", "Saves", "number"),
            _f("clicks", "Clicks", "number"),
            _f("engagement_rate", "Engagement Rate", "number"),
            _f("published_at", "Published At", "timestamp"),
            _f("link", "Link", "text", False),
            _f("pinterest_pin_id", "Pinterest ID", "text", False),
        )),
    "quotes": ExportConfig(
        "quotes", "Quotes", "Quote content and generation data", 90, 10_000, (
            _f("id", "ID", "uuid"),
            _f("text", "Text", "text"),
            _f("attribution", "Attribution", "text"),
            _f("collection", "Collection", "text"),
            _f("mood", "Mood", "text"),
            _f("status", "Status", "text"),
            _f("assets_count", "Assets Generated", "number"),
            _f("created_at", "Created At", "timestamp"),
        )),
    "assets": ExportConfig(
        "assets", "Assets", "Generated design assets", 90, 50_000, (
            _f("id", "ID", "uuid"),
            _f("quote_text", "Quote", "text"),
            _f("format", "Format", "text"),
            _f("status", "Status", "text"),
            _f("quality_score", "Quality Score", "number"),
            _f("url", "URL", "text"),
            _f("created_at", "Created At", "timestamp"),
        )),
    "analytics": ExportConfig(
        "analytics", "Analytics", "Daily performance metrics", 30, 1_000, (
            _f("date", "Date", "date"),
            _f("revenue", "Revenue", "number"),
            _f("orders", "Orders", "number"),
            _f("new_customers", "New Customers", "number"),
            _f("new_leads", "New Leads", "number"),
            _f("quiz_completions", "Quiz Completions", "number"),
            _f("pin_impressions", "Pin Impressions", "number"),
            _f("pin_clicks", "Pin Clicks", "number"),
        ), date_kind="date", date_source="date"),
    "products": ExportConfig(
        "products", "Products", "Shop products with variants, stock and collections", 90, 50_000, (
            _f("id", "ID", "uuid"),
            _f("shopify_product_id", "Shopify Product ID", "text"),
            _f("title", "Title", "text"),
            _f("handle", "Handle", "text", False),
            _f("status", "Status", "text"),
            _f("vendor", "Vendor", "text", False),
            _f("product_type", "Product Type", "text"),
            _f("variant_count", "Variants", "number"),
            _f("min_price", "Lowest Price", "number"),
            _f("max_price", "Highest Price", "number"),
            _f("inventory", "Inventory", "number"),
            _f("tags", "Tags", "text", False),
            _f("collections", "Collections", "text"),
            _f("created_at", "Created At", "timestamp"),
        )),
})
