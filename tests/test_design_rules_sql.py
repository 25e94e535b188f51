"""SQL's public.is_valid_design_rules() and service/setup/design_rules.py state one shape.

Users write design_rules directly (PostgREST) as well as through PUT /api/settings/design-rules,
so both must hold the same rules: whatever SQL accepts, the model accepts, and whatever the model
accepts, once stored as the service stores it, SQL accepts.
"""
from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import psycopg
from pydantic import ValidationError

from service.setup.design_rules import DesignRules

Rules = dict[str, Any]


def changed(change: Callable[[Rules], object]) -> Callable[[Rules], Rules]:
    def apply(rules: Rules) -> Rules:
        rules = copy.deepcopy(rules)
        change(rules)
        return rules
    return apply


def put(path: str, value: object) -> Callable[[Rules], Rules]:
    *parents, last = path.split(".")

    def change(rules: Rules) -> None:
        node: Any = rules
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[int(last) if isinstance(node, list) else last] = value
    return changed(change)


def drop(path: str) -> Callable[[Rules], Rules]:
    *parents, last = path.split(".")

    def change(rules: Rules) -> None:
        node: Any = rules
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        del node[last]
    return changed(change)


VALID = {
    "the defaults": changed(lambda r: None),
    "more lines": put("typography.max_lines", 8),
    "a fractional font size": put("typography.min_font_size_pt", 10.5),
    "the bounds themselves": changed(lambda r: r["print_formats"].__setitem__(0, {
        "name": "tiny", "width_in": 0.1, "height_in": 120, "aspect_ratio": "1:1200"})),
    "a format in millimetres only": put("print_formats", [{"name": "A5", "width_mm": 148, "height_mm": 210,
                                                           "aspect_ratio": "1:1.414"}]),
    "the other unit given as null": put("print_formats.0.width_mm", None),
    "every font style": put("typography.font_styles", ["serif", "sans-serif", "script", "display", "monospace",
                                                       "handwritten"]),
    "a palette as big as its cap": changed(lambda r: r["color"].update(max_palette_colors=16,
                                                                        default_palette=["#A1b2C3"] * 16)),
    "twenty long scenes": put("mockups.scenes", ["s" * 40] * 20),
    "fifty formats": put("print_formats", [{"name": f"F{n}", "width_in": 8, "height_in": 10, "aspect_ratio": "4:5"}
                                           for n in range(50)]),
    "integral numbers written as floats": put("quality.min_dpi", 300.0),
}

INVALID = {
    "not an object": lambda r: [],  # type: ignore[return-value]
    "empty": lambda r: {},
    "an extra section": put("extra", 1),
    "a missing section": drop("approval"),
    "an extra typography key": put("typography.colour", "red"),
    "a missing typography key": drop("typography.max_lines"),
    "too many font families": put("typography.max_font_families", 7),
    "a fraction where a whole number belongs": put("typography.max_lines", 6.5),
    "a number as a string": put("typography.min_font_size_pt", "24"),
    "a font size of zero": put("typography.min_font_size_pt", 0),
    "a font size too small for a float": put("typography.min_font_size_pt", json.loads("1e-400")),
    "no font styles": put("typography.font_styles", []),
    "seven font styles": put("typography.font_styles", ["serif"] * 7),
    "an unknown font style": put("typography.font_styles", ["cursive"]),
    "an unknown alignment": put("typography.text_alignment", "middle"),
    "no print formats": put("print_formats", []),
    "fifty-one print formats": put("print_formats", [{"name": f"F{n}", "width_in": 8, "height_in": 10,
                                                      "aspect_ratio": "4:5"} for n in range(51)]),
    "two formats of one name": put("print_formats.1.name", "8x10"),
    "a format in both units": put("print_formats.0.width_mm", 210),
    "a format in no unit": put("print_formats", [{"name": "x", "aspect_ratio": "1:1"}]),
    "a format with one dimension": drop("print_formats.0.height_in"),
    "a format too small": put("print_formats.0.width_in", 0.05),
    "a format too large": put("print_formats.5.width_mm", 3001),
    "an empty format name": put("print_formats.0.name", ""),
    "a long format name": put("print_formats.0.name", "n" * 41),
    "a format name with surrounding space": put("print_formats.0.name", " 8x10 "),
    "a scene ending in an information separator": put("mockups.scenes", ["hall\x1c"]),
    "a scene starting with an ideographic space": put("mockups.scenes", ["\u3000hall"]),
    "an aspect ratio with a space": put("print_formats.0.aspect_ratio", "4 : 5"),
    "an aspect ratio in other digits": put("print_formats.0.aspect_ratio", "\u0664:\u0665"),
    "a long aspect ratio": put("print_formats.0.aspect_ratio", "1" * 19 + ":1"),
    "an extra format key": put("print_formats.0.depth_in", 1),
    "a palette past max_palette_colors": put("color.max_palette_colors", 3),
    "a short colour": put("color.default_palette", ["#12345"]),
    "a colour that is not hex": put("color.default_palette", ["#GGGGGG"]),
    "an empty palette": put("color.default_palette", []),
    "a contrast ratio below 1": put("color.min_contrast_ratio", 0.5),
    "no scenes": put("mockups.scenes", []),
    "twenty-one scenes": put("mockups.scenes", ["s"] * 21),
    "an empty scene": put("mockups.scenes", [""]),
    "a long scene": put("mockups.scenes", ["s" * 41]),
    "a scene that is not text": put("mockups.scenes", [1]),
    "a resolution too low": put("mockups.min_resolution_px", 99),
    "a dpi too low": put("quality.min_dpi", 71),
    "a negative bleed": put("quality.bleed_in", -0.01),
    "a quality score past 1": put("quality.min_quality_score", 1.1),
    "approval as a string": put("approval.require_approval", "yes"),
    "approval as null": put("approval.require_approval", None),
    "approval as a number": put("approval.require_approval", 1),
    "a number as true": put("quality.min_dpi", True),
}


def model_accepts(rules: object) -> Rules | None:
    """The rules as the service stores them, or None when the model refuses them."""
    try:
        return DesignRules.model_validate(rules).model_dump(mode="json", exclude_none=True)
    except ValidationError:
        return None


def sql_accepts(conn: psycopg.Connection[Any], rules: object) -> bool:
    row = conn.execute("select public.is_valid_design_rules(%s::jsonb)", [json.dumps(rules)]).fetchone()
    assert row is not None
    return bool(row[0])


def verdicts(database_url: str, cases: dict[str, Callable[[Rules], Rules]]) -> dict[str, tuple[bool, bool]]:
    """{case: (SQL accepts it, the model accepts it)}, each checked to hold the two together."""
    found: dict[str, tuple[bool, bool]] = {}
    with psycopg.connect(database_url) as conn:
        start = conn.execute("select public.default_design_rules()").fetchone()[0]  # type: ignore[index]
        for case, make in cases.items():
            rules = make(start)
            in_sql, stored = sql_accepts(conn, rules), model_accepts(rules)
            assert not in_sql or stored is not None, f"{case}: SQL accepts what the model refuses"
            assert stored is None or sql_accepts(conn, stored), f"{case}: SQL refuses what the model stores"
            found[case] = (in_sql, stored is not None)
    return found


def test_rules_of_the_right_shape_are_valid_in_both(database_url):  # type: ignore[no-untyped-def]
    assert {case for case, (in_sql, in_model) in verdicts(database_url, VALID).items()
            if not (in_sql and in_model)} == set()


def test_rules_of_another_shape_are_refused_by_sql_and_never_accepted_by_sql_alone(database_url):  # type: ignore[no-untyped-def]
    assert {case for case, (in_sql, _) in verdicts(database_url, INVALID).items() if in_sql} == set()

