"""The shape of design rules, as SQL's public.default_design_rules() defines it.

A user's rules are validated against this model before they are stored, so every consumer
(the design engine, later) can rely on the shape. Users may also write design_rules directly
(PostgREST), so SQL's `public.is_valid_design_rules()` (supabase/schemas/12_user_settings.sql)
states the same shape; `tests/test_design_rules_sql.py` holds the two to the same answers. Every
list and string is bounded, and lower bounds are inclusive (a positive bound, not "> 0", so a
number too small for a float cannot pass SQL's exact check and fail here).
"""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from ..api import Strict

HexColour = Annotated[str, Field(pattern=r"^#[0-9A-Fa-f]{6}$")]
SceneName = Annotated[str, Field(min_length=1, max_length=40)]


class Typography(Strict):
    max_font_families: int = Field(ge=1, le=6)
    min_font_size_pt: float = Field(ge=1, le=500)
    max_quote_words: int = Field(ge=1, le=500)
    max_lines: int = Field(ge=1, le=50)
    font_styles: list[Literal["serif", "sans-serif", "script", "display", "monospace", "handwritten"]] = Field(
        min_length=1, max_length=6)
    text_alignment: Literal["left", "center", "right", "justify"]


class PrintFormat(Strict):
    name: str = Field(min_length=1, max_length=40)
    width_in: float | None = Field(default=None, ge=0.1, le=120)
    height_in: float | None = Field(default=None, ge=0.1, le=120)
    width_mm: float | None = Field(default=None, ge=1, le=3000)
    height_mm: float | None = Field(default=None, ge=1, le=3000)
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
    max_palette_colors: int = Field(ge=1, le=16)
    min_contrast_ratio: float = Field(ge=1, le=21)
    default_palette: list[HexColour] = Field(min_length=1, max_length=16)

    @model_validator(mode="after")
    def palette_fits(self) -> Colour:
        if len(self.default_palette) > self.max_palette_colors:
            raise ValueError("default_palette has more colours than max_palette_colors")
        return self


class Mockups(Strict):
    per_product: int = Field(ge=1, le=20)
    min_resolution_px: int = Field(ge=100, le=20000)
    scenes: list[SceneName] = Field(min_length=1, max_length=20)


class Quality(Strict):
    min_dpi: int = Field(ge=72, le=2400)
    bleed_in: float = Field(ge=0, le=2)
    safe_margin_in: float = Field(ge=0, le=5)
    min_quality_score: float = Field(ge=0, le=1)


class Approval(Strict):
    require_approval: bool


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

    use_defaults: Literal[True] | None = None
    design_rules: DesignRules | None = None

    @model_validator(mode="after")
    def exactly_one(self) -> DesignRulesUpdate:
        if (self.use_defaults is None) == (self.design_rules is None):
            raise ValueError('send either {"use_defaults": true} or {"design_rules": {...}}')
        return self
