"""The shape of design rules, as SQL's public.default_design_rules() defines it.

A user's rules are validated against this model before they are stored, so every consumer
(the design engine, later) can rely on the shape. Users may also write design_rules directly
(PostgREST), so SQL's `public.is_valid_design_rules()` (supabase/schemas/12_user_settings.sql)
states the same shape; `tests/test_design_rules_sql.py` holds the two to the same answers. Every
list and string is bounded, and lower bounds are inclusive (a positive bound, not "> 0", so a
number too small for a float cannot pass SQL's exact check and fail here).
"""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, ConfigDict, Field, model_validator

from ..api import WHITESPACE, Strict



def _json_number(value: Any) -> Any:
    """Numbers come as JSON numbers: not as text, not as true/false (which Python counts as 1/0)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("must be a number")
    return value


def _exactly_true(value: Any) -> Any:
    if value is not True:  # 1 would pass as True otherwise
        raise ValueError("must be true")
    return value


# A whole number may be written 3 or 3.0 (JSON Schema's integer); 3.5, "3" and true are refused.
Whole = Annotated[int, BeforeValidator(_json_number)]
Number = Annotated[float, BeforeValidator(_json_number)]
Flag = Annotated[bool, Field(strict=True)]
# Bounds before the validator, so an optional dimension's schema states them as JSON Schema does.
Inches = Annotated[float, Field(ge=0.1, le=120), BeforeValidator(_json_number)]
Millimetres = Annotated[float, Field(ge=1, le=3000), BeforeValidator(_json_number)]
HexColour = Annotated[str, Field(pattern=r"^#[0-9A-Fa-f]{6}$")]
# Text that starts and ends with something other than whitespace (Python's str.isspace(), which SQL's
# jsonb_trimmed_text() lists too): strings are stored as sent, so SQL and this model agree on them.
_NOT_SPACE = f"[^{WHITESPACE}]"
TRIMMED = f"^{_NOT_SPACE}([\\s\\S]*{_NOT_SPACE})?$"
SceneName = Annotated[str, Field(min_length=1, max_length=40, pattern=TRIMMED)]


class Typography(Strict):
    max_font_families: Whole = Field(ge=1, le=6)
    min_font_size_pt: Number = Field(ge=1, le=500)
    max_quote_words: Whole = Field(ge=1, le=500)
    max_lines: Whole = Field(ge=1, le=50)
    font_styles: list[Literal["serif", "sans-serif", "script", "display", "monospace", "handwritten"]] = Field(
        min_length=1, max_length=6)
    text_alignment: Literal["left", "center", "right", "justify"]


def _one_unit(schema: dict[str, Any]) -> None:
    """The schema says what one_unit() checks: both dimensions in inches, or both in millimetres."""
    def unit(given: tuple[str, str], absent: tuple[str, str]) -> dict[str, Any]:
        return {"required": list(given),
                "properties": {**{k: {"type": "number"} for k in given}, **{k: {"type": "null"} for k in absent}}}
    schema["oneOf"] = [unit(("width_in", "height_in"), ("width_mm", "height_mm")),
                       unit(("width_mm", "height_mm"), ("width_in", "height_in"))]


class PrintFormat(Strict):
    model_config = ConfigDict(json_schema_extra=_one_unit)

    name: str = Field(min_length=1, max_length=40, pattern=TRIMMED)
    width_in: Inches | None = None
    height_in: Inches | None = None
    width_mm: Millimetres | None = None
    height_mm: Millimetres | None = None
    aspect_ratio: str = Field(max_length=20, pattern=r"^[0-9]+(\.[0-9]+)?:[0-9]+(\.[0-9]+)?$")

    @model_validator(mode="after")
    def one_unit(self) -> PrintFormat:
        inches = (self.width_in, self.height_in)
        millimetres = (self.width_mm, self.height_mm)
        in_inches = None not in inches and millimetres == (None, None)
        in_millimetres = None not in millimetres and inches == (None, None)
        if not (in_inches or in_millimetres):
            raise ValueError("give width_in and height_in, or width_mm and height_mm")
        return self


class Colour(Strict):
    max_palette_colors: Whole = Field(ge=1, le=16)
    min_contrast_ratio: Number = Field(ge=1, le=21)
    default_palette: list[HexColour] = Field(min_length=1, max_length=16)

    @model_validator(mode="after")
    def palette_fits(self) -> Colour:
        if len(self.default_palette) > self.max_palette_colors:
            raise ValueError("default_palette has more colours than max_palette_colors")
        return self


class Mockups(Strict):
    per_product: Whole = Field(ge=1, le=20)
    min_resolution_px: Whole = Field(ge=100, le=20000)
    scenes: list[SceneName] = Field(min_length=1, max_length=20)


class Quality(Strict):
    min_dpi: Whole = Field(ge=72, le=2400)
    bleed_in: Number = Field(ge=0, le=2)
    safe_margin_in: Number = Field(ge=0, le=5)
    min_quality_score: Number = Field(ge=0, le=1)


class Approval(Strict):
    require_approval: Flag


class DesignRules(Strict):
    typography: Typography
    print_formats: list[PrintFormat] = Field(min_length=1, max_length=50)
    color: Colour
    mockups: Mockups
    quality: Quality
    approval: Approval

    @model_validator(mode="after")
    def unique_format_names(self) -> DesignRules:
        names = [f.name for f in self.print_formats]
        if len(names) != len(set(names)):
            raise ValueError("print format names must be unique")
        return self


class DesignRulesUpdate(Strict):
    """Either `{"use_defaults": true}` (the wizard's "Use default rules") or `{"design_rules": {...}}`."""

    model_config = ConfigDict(json_schema_extra={"oneOf": [{"required": ["use_defaults"]},
                                                           {"required": ["design_rules"]}]})

    use_defaults: Annotated[Literal[True], BeforeValidator(_exactly_true)] = None  # type: ignore[assignment]
    design_rules: DesignRules = None  # type: ignore[assignment]

    @model_validator(mode="after")
    def exactly_one(self) -> DesignRulesUpdate:
        if (self.use_defaults is None) == (self.design_rules is None):
            raise ValueError('send either {"use_defaults": true} or {"design_rules": {...}}')
        return self
