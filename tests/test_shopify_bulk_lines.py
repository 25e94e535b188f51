"""The projection of a Bulk Operation's JSONL lines onto the import's staging columns: lines over
chunk boundaries, parents and children, missing and null objects, and lines it must refuse."""
from __future__ import annotations

import json

import pytest

from service.providers.shopify.bulk_lines import SHAPES, StagedResult, UnreadableResult, split_lines
from service.providers.shopify.client import BULK_QUERIES


def test_lines_are_rebuilt_across_any_chunk_boundary() -> None:
    text = b'{"a": 1}\n\n{"b": "x\\ny"}\n' + b'{"c": "' + b"z" * 300 + b'"}'
    expected = [b'{"a": 1}', b'{"b": "x\\ny"}', b'{"c": "' + b"z" * 300 + b'"}']
    for size in (1, 2, 7, 64, len(text)):
        chunks = [text[i:i + size] for i in range(0, len(text), size)]
        assert list(split_lines(chunks)) == expected, size
    assert list(split_lines([])) == []
    assert list(split_lines([b"\n", b"\n"])) == []


def rows(kind: str, *docs: dict) -> list[dict]:
    return [dict(zip(SHAPES[kind].columns, values, strict=True))
            for values in StagedResult(kind, [json.dumps(doc).encode() for doc in docs])]


def row(kind: str, doc: dict) -> dict:
    [values] = rows(kind, doc)
    return values


def test_an_order_and_its_line_item_fill_their_own_columns() -> None:
    order = row("orders", {
        "id": "gid://shopify/Order/7", "email": "a@b.test", "discountCodes": ["A", "B"],
        "totalPriceSet": {"shopMoney": {"amount": "30.00"}}, "customer": None,
        "customerJourneySummary": {"firstVisit": None}, "updatedAt": "2026-11-02T00:00:00Z"})
    assert order["parent_gid"] is None and order["gid"] == "gid://shopify/Order/7"
    assert order["total"] == "30.00" and order["discount_codes"] == ["A", "B"]
    assert order["customer_gid"] is None and order["landing_page"] is None  # null parents of a path
    assert order["subtotal"] is None  # absent fields are null
    assert order["quantity"] is None
    item = row("orders", {"id": "gid://shopify/LineItem/1", "quantity": 3, "__parentId": "gid://shopify/Order/7"})
    assert item["parent_gid"] == "gid://shopify/Order/7" and item["quantity"] == "3"  # every value goes as text
    assert item["gid"] is None and item["total"] is None


def item(order: int, quantity: object) -> dict:
    return {"id": "gid://shopify/LineItem/1", "quantity": quantity, "__parentId": f"gid://shopify/Order/{order}"}


def test_line_items_are_summed_into_the_row_before_them_only_when_it_is_their_orders() -> None:
    order = {"id": "gid://shopify/Order/1"}
    other = {"id": "gid://shopify/Order/2"}
    result = StagedResult("orders", [json.dumps(d).encode() for d in
                                     (order, item(1, 2), item(1, 3), other, item(1, 4), item(1, 1), item(2, 5),
                                      item(2, None), item(2, 6), item(2, True))])
    staged = [(r[0], r[1], r[-1]) for r in result]
    assert staged == [
        (None, "gid://shopify/Order/1", "5"),  # its two line items, right after it
        (None, "gid://shopify/Order/2", None),  # no line item followed it directly
        ("gid://shopify/Order/1", None, "5"),  # a run of order 1's items elsewhere: one row
        ("gid://shopify/Order/2", None, "5"),
        ("gid://shopify/Order/2", None, "6"),  # a null quantity starts a row, 6 is summed into it: the same sum
        ("gid://shopify/Order/2", None, "true"),  # true is not a number: its own row, which SQL refuses
    ]
    assert result.lines == 10
    # Products' children are rows each: their columns are not sums.
    assert len(rows("products", {"id": "gid://shopify/Product/1"},
                    {"id": "gid://shopify/ProductVariant/1", "__parentId": "gid://shopify/Product/1"},
                    {"id": "gid://shopify/ProductVariant/2", "__parentId": "gid://shopify/Product/1"})) == 3


def test_every_kind_has_a_shape_and_every_column_is_named_once() -> None:
    assert set(SHAPES) == set(BULK_QUERIES)
    for shape in SHAPES.values():
        assert len(shape.copy_types) == len(shape.columns)
        assert len(set(shape.columns)) == len(shape.columns)
        assert shape.lists <= set(shape.columns)
        assert shape.summed is None or shape.summed in dict(shape.child)


@pytest.mark.parametrize("line, problem", [
    (b"not json", "line 1 is not JSON"),
    (b"[1, 2]", "line 1 is not a JSON object"),
    (b'{"id": {"nested": 1}}', "id (gid) is a dict, not a single value"),
    (b'{"id": "gid://shopify/Order/1", "discountCodes": "A"}', "discountCodes (discount_codes) is a str"),
    (b'{"id": "gid://shopify/Order/1", "discountCodes": [1]}', "not a list of strings"),
    (b'{"__parentId": 5}', "__parentId is a int, not a gid"),
])
def test_a_line_of_an_unexpected_shape_is_refused_with_its_number(line: bytes, problem: str) -> None:
    with pytest.raises(UnreadableResult, match="line 1") as caught:
        list(StagedResult("orders", [line]))
    assert problem in str(caught.value)


def test_numbers_and_booleans_go_as_the_text_postgres_reads() -> None:
    collection = row("collections", {"id": 5, "title": 1.5, "ruleSet": {"appliedDisjunctively": False}})
    assert (collection["gid"], collection["title"], collection["rule_set_disjunctive"]) == ("5", "1.5", "false")
    order = row("orders", {"id": "gid://shopify/Order/1", "totalPriceSet": {"shopMoney": {"amount": 30}}})
    assert order["total"] == "30" and order["discount_codes"] is None
