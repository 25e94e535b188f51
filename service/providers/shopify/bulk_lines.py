"""A Bulk Operation's JSONL result as the rows of the import's staging table.

Each line is one object of the bulk query (GraphQL field names, gids) or a child of one, naming
its parent in `__parentId`. This module only projects: every column is a path into the line, and
the value found there goes to Postgres as the text Postgres reads it from (gids whole, amounts as
Shopify wrote them). What the values mean (status, attribution, gids to ids, children joined to
parents) is decided in SQL, by `import_shopify_bulk_stage` (supabase/schemas/47_shopify_import.sql);
`create_shopify_bulk_stage` declares the staging table's types.

Why the service parses at all: Postgres spent about a third of an import turning the lines into
`jsonb` and reading fields out of it, on the core that then writes. Parsed here, on the service's
core, the lines reach Postgres as typed columns it only has to store.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import orjson

from ...errors import PermanentError

Path = tuple[str, ...]
Value = str | int | float | bool | list[str] | None


class UnreadableResult(PermanentError):
    """A line of the result that is not a JSON object, or a field of an unexpected shape."""


@dataclass(frozen=True)
class StageShape:
    """The staging columns of one kind: the parents' and the children's, each with its path."""

    parent: tuple[tuple[str, Path], ...]
    child: tuple[tuple[str, Path], ...]
    lists: frozenset[str] = frozenset()  # columns holding a JSON array of strings (text[])
    # A child column SQL only ever sums per parent: the children that directly follow their parent
    # (or a run of children of one parent) are added up into the row before them, its own column on
    # a child row and the same-named column of the parent row. Shopify usually writes children
    # right after their parent, so most of them never become rows; order is not relied upon, as a
    # child elsewhere is a row of its own and SQL adds it.
    summed: str | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        return ("parent_gid", *(name for name, _ in self.parent), *(name for name, _ in self.child))

    @property
    def copy_types(self) -> list[str]:
        """How each column's value is sent to COPY: text (Postgres reads it as the column's type)
        or an array of text."""
        return ["text[]" if name in self.lists else "text" for name in self.columns]


def _paths(*pairs: tuple[str, str]) -> tuple[tuple[str, Path], ...]:
    return tuple((column, tuple(path.split("."))) for column, path in pairs)


# The columns of pg_temp.shopify_bulk_stage per kind, as create_shopify_bulk_stage makes them;
# the paths follow BULK_QUERIES in client.py.
SHAPES: dict[str, StageShape] = {
    "customers": StageShape(
        parent=_paths(("gid", "id"), ("default_email", "defaultEmailAddress.emailAddress"), ("email", "email"),
                      ("updated_at", "updatedAt"), ("created_at", "createdAt")),
        child=()),
    "orders": StageShape(
        parent=_paths(("gid", "id"), ("customer_gid", "customer.id"),
                      ("customer_default_email", "customer.defaultEmailAddress.emailAddress"),
                      ("customer_email", "customer.email"), ("email", "email"),
                      ("total", "totalPriceSet.shopMoney.amount"), ("subtotal", "subtotalPriceSet.shopMoney.amount"),
                      ("discount_total", "totalDiscountsSet.shopMoney.amount"),
                      ("refunded_total", "totalRefundedSet.shopMoney.amount"), ("cancelled_at", "cancelledAt"),
                      ("financial_status", "displayFinancialStatus"),
                      ("landing_page", "customerJourneySummary.firstVisit.landingPage"),
                      ("source_name", "sourceName"), ("discount_codes", "discountCodes"),
                      ("updated_at", "updatedAt"), ("created_at", "createdAt")),
        # A line item's quantity only: the parent row's own `quantity` holds what was summed into it.
        child=_paths(("quantity", "quantity")),
        lists=frozenset({"discount_codes"}), summed="quantity"),
    "products": StageShape(
        parent=_paths(("gid", "id"), ("title", "title"), ("handle", "handle"), ("status", "status"),
                      ("vendor", "vendor"), ("product_type", "productType"), ("tags", "tags"),
                      ("updated_at", "updatedAt"), ("created_at", "createdAt")),
        child=_paths(("child_gid", "id"), ("variant_title", "title"), ("sku", "sku"), ("price", "price"),
                     ("inventory_quantity", "inventoryQuantity"), ("position", "position"),
                     ("image_url", "image.url"), ("image_alt", "image.altText")),
        lists=frozenset({"tags"})),
    "collections": StageShape(
        parent=_paths(("gid", "id"), ("title", "title"), ("handle", "handle"), ("updated_at", "updatedAt"),
                      ("rule_set_disjunctive", "ruleSet.appliedDisjunctively")),
        child=_paths(("child_gid", "id"),)),
}

_SCALARS = frozenset((str, int, float, bool))
# A column's reading: its name, the first key of its path, the keys after it, whether it is a list,
# and whether its value is sent as text now (the summed column stays a number until its row is).
_Spec = tuple[tuple[str, str, Path, bool, bool], ...]


def _spec(columns: tuple[tuple[str, Path], ...], shape: StageShape) -> _Spec:
    return tuple((column, path[0], path[1:], column in shape.lists, column != shape.summed)
                 for column, path in columns)


def _text(value: str | int | float | bool) -> str:
    # Every scalar goes to COPY as text (Postgres reads it by the column's type): with the COPY's
    # types declared, psycopg formats a row at half the cost of guessing each value's type.
    if type(value) is str:
        return value  # type: ignore[return-value]
    if type(value) is bool:
        return "true" if value else "false"
    return str(value)


def _values(doc: dict[str, object], spec: _Spec, line: int) -> list[Value]:
    # Run for every line of results of millions: written for speed (the import's service core).
    values: list[Value] = []
    append = values.append
    for column, first, rest, as_list, as_text in spec:
        value = doc.get(first)
        for key in rest:
            if type(value) is not dict:
                value = None  # a null parent: no customer, no first visit
                break
            value = value.get(key)
        if value is None or type(value) is str and not as_list:
            append(value)  # type: ignore[arg-type]
        elif not as_list and type(value) in _SCALARS:
            append(_text(value) if as_text else value)  # type: ignore[arg-type]
        elif as_list and type(value) is list and all(type(item) is str for item in value):
            append(value)  # type: ignore[arg-type]
        else:
            path = ".".join((first, *rest))
            raise UnreadableResult(f"line {line}: {path} ({column}) is a {type(value).__name__}"
                                   f"{', not a list of strings' if as_list else ', not a single value'}")
    return values


class StagedResult:
    """The staging rows of a result's lines, in `SHAPES[kind].columns` order: a parent fills its
    own columns, a child `parent_gid` and the child's (the rest stays null); every value is text
    or a list of text (`StageShape.copy_types`). `lines` counts the lines read, children summed
    into a row included, once every row has been read."""

    def __init__(self, kind: str, lines: Iterable[bytes]) -> None:
        self.shape = SHAPES[kind]
        self.source = lines
        self.lines = 0

    def __iter__(self) -> Iterator[Sequence[Value]]:
        shape = self.shape
        parent_spec, child_spec = _spec(shape.parent, shape), _spec(shape.child, shape)
        parent_blank: list[Value] = [None] * len(shape.child)
        child_blank: list[Value] = [None] * len(shape.parent)
        summed = shape.columns.index(shape.summed) if shape.summed else None
        summed_key = dict(shape.child)[shape.summed][0] if shape.summed else ""
        held: list[Value] | None = None  # the last row, still open to children summed into it
        held_gid: object = None  # whose children may be summed into `held`
        number = 0
        for number, line in enumerate(self.source, start=1):  # noqa: B007 (the count is kept below)
            try:
                doc = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise UnreadableResult(f"line {number} is not JSON ({exc})") from None
            if type(doc) is not dict:
                raise UnreadableResult(f"line {number} is not a JSON object")
            parent_gid = doc.get("__parentId")
            if parent_gid is None:
                row = [None, *_values(doc, parent_spec, number), *parent_blank]
                gid: object = row[1]
            elif type(parent_gid) is str:
                if summed is not None and held is not None and parent_gid == held_gid:
                    amount, so_far = doc.get(summed_key), held[summed]
                    if type(amount) is int and (so_far is None or type(so_far) is int):
                        held[summed] = (so_far or 0) + amount
                        continue
                row = [parent_gid, *child_blank, *_values(doc, child_spec, number)]
                gid = parent_gid
            else:
                raise UnreadableResult(f"line {number}: __parentId is a {type(parent_gid).__name__}, not a gid")
            if held is not None:
                if summed is not None and held[summed] is not None:
                    held[summed] = _text(held[summed])  # type: ignore[arg-type]  # closed: as text now
                yield held
            held, held_gid = row, gid
        self.lines = number
        if held is not None:
            if summed is not None and held[summed] is not None:
                held[summed] = _text(held[summed])  # type: ignore[arg-type]
            yield held


def split_lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The lines of a stream of chunks (a line may span many chunks); blank lines are skipped."""
    pending: list[bytes] = []  # the start of a line whose end has not arrived yet
    for chunk in chunks:
        parts = chunk.split(b"\n")
        if len(parts) == 1:
            pending.append(chunk)
            continue
        parts[0] = b"".join((*pending, parts[0]))
        pending = [parts.pop()]
        yield from (line for line in parts if line.strip())
    last = b"".join(pending)
    if last.strip():
        yield last
