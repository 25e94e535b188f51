"""The wizard's steps in order, and progress computed over those steps only.

The connection steps come from the provider catalog (each provider with `wizard_step`), then the
configuration and import steps; SQL's public.setup_steps() names the same keys in the same order
(a test holds them equal). Counting only these keys keeps `percent` within 0-100, whatever else
a progress object might hold.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel

from ..integrations.catalog import Catalog

StepStatus = Literal["pending", "completed", "skipped"]
StepType = Literal["integration", "config", "import"]


@dataclass(frozen=True)
class WizardStep:
    key: str
    label: str
    type: StepType


AFTER_CONNECTIONS: tuple[WizardStep, ...] = (
    WizardStep("design_rules", "Configure Design Rules", "config"),
    WizardStep("operator_mode", "Set Operator Mode", "config"),
    WizardStep("import", "Import Existing Data", "import"),
)


def wizard_steps(providers: Catalog) -> tuple[WizardStep, ...]:
    connections = tuple(WizardStep(p.name, f"Connect {p.label}", "integration") for p in providers.wizard_providers())
    return connections + AFTER_CONNECTIONS


class StepView(BaseModel):
    key: str
    label: str
    type: StepType
    status: StepStatus


class SetupProgressView(BaseModel):
    """`completed` counts completed steps only; a skipped step is not completed, but the wizard
    moves past it, so `next_step` is the first *pending* step (null when none is left)."""

    steps: list[StepView]
    setup_progress: dict[str, StepStatus]
    completed: int
    skipped: int
    total: int
    percent: int
    next_step: str | None
    finished: bool


def progress_view(progress: Mapping[str, str], wizard: tuple[WizardStep, ...]) -> SetupProgressView:
    steps = [StepView(key=step.key, label=step.label, type=step.type,
                      status=progress.get(step.key, "pending"))  # type: ignore[arg-type]
             for step in wizard]
    completed = sum(step.status == "completed" for step in steps)
    skipped = sum(step.status == "skipped" for step in steps)
    pending = [step.key for step in steps if step.status == "pending"]
    total = len(steps)
    return SetupProgressView(
        steps=steps, setup_progress={step.key: step.status for step in steps},
        completed=completed, skipped=skipped, total=total,
        # Floor: 100 only when every step is completed.
        percent=completed * 100 // total, next_step=pending[0] if pending else None,
        finished=not pending,
    )
