"""The setup wizard's API: progress, steps, operator mode, design rules — each user on their own row."""
from __future__ import annotations

import copy

import pytest
from pydantic import ValidationError

from service.db import Database
from service.setup.design_rules import DesignRules
from service import providers
from service.setup.progress import progress_view, wizard_steps

STEPS = ["shopify", "pinterest", "klaviyo", "dynamic_mockups", "resend", "design_rules", "operator_mode", "import"]


def set_for(db: Database, user_id: str, step: str, status: str) -> None:
    with db.as_service() as conn:
        conn.execute("select public.set_setup_step_for_user(%s, %s, %s)", [user_id, step, status])


def connect_as_service(db: Database, user_id: str, provider: str) -> None:
    with db.as_service() as conn:
        conn.execute("insert into public.integrations (user_id, provider, status) values (%s, %s, 'connected')",
                     [user_id, provider])


def test_fresh_progress(client, user):
    response = client.get("/api/settings/setup-progress", headers=user.headers)
    assert response.status_code == 200
    body = response.json
    assert [s["key"] for s in body["steps"]] == STEPS
    assert all(s["status"] == "pending" for s in body["steps"])
    assert body["steps"][0] == {"key": "shopify", "label": "Connect Shopify", "type": "integration",
                                "status": "pending"}
    assert (body["completed"], body["skipped"], body["total"], body["percent"]) == (0, 0, 8, 0)
    assert body["next_step"] == "shopify" and body["finished"] is False
    assert body["setup_progress"] == dict.fromkeys(STEPS, "pending")


def test_progress_requires_a_token(client):
    assert client.get("/api/settings/setup-progress").status_code == 401
    assert client.patch("/api/settings/setup-progress/import", json={"status": "skipped"}).status_code == 401


def test_skipping_moves_next_step_but_is_not_completion(client, user):
    response = client.patch("/api/settings/setup-progress/shopify", json={"status": "skipped"}, headers=user.headers)
    assert response.status_code == 200
    body = response.json
    assert body["setup_progress"]["shopify"] == "skipped"
    assert (body["completed"], body["skipped"], body["percent"], body["next_step"]) == (0, 1, 0, "pinterest")
    back = client.patch("/api/settings/setup-progress/shopify", json={"status": "pending"}, headers=user.headers)
    assert back.json["next_step"] == "shopify"


@pytest.mark.parametrize("step, payload, status", [
    ("tiktok", {"status": "skipped"}, 400),
    ("sky_pilot", {"status": "skipped"}, 400),
    ("import", {"status": "done"}, 400),
    ("import", {}, 400),
    ("import", {"status": "skipped", "extra": True}, 400),
    ("klaviyo", {"status": "completed"}, 409),
])
def test_step_refusals_change_nothing(client, user, db, step, payload, status):
    response = client.patch(f"/api/settings/setup-progress/{step}", json=payload, headers=user.headers)
    assert response.status_code == status, response.json
    assert client.get("/api/settings/setup-progress", headers=user.headers).json["completed"] == 0
    assert client.get("/api/settings/setup-progress", headers=user.headers).json["skipped"] == 0


def test_completing_a_config_step_and_a_connected_step(client, user, db):
    ok = client.patch("/api/settings/setup-progress/operator_mode", json={"status": "completed"},
                      headers=user.headers)
    assert ok.status_code == 200 and ok.json["completed"] == 1 and ok.json["percent"] == 12
    connect_as_service(db, user.id, "klaviyo")  # the trigger completes the step
    body = client.get("/api/settings/setup-progress", headers=user.headers).json
    assert body["setup_progress"]["klaviyo"] == "completed" and body["completed"] == 2


def test_all_done_is_exactly_100_percent(client, user, db):
    for step in STEPS[:-1]:
        set_for(db, user.id, step, "completed")
    almost = client.get("/api/settings/setup-progress", headers=user.headers).json
    assert almost["percent"] == 87 and almost["next_step"] == "import"
    set_for(db, user.id, "import", "skipped")
    skipped = client.get("/api/settings/setup-progress", headers=user.headers).json
    assert (skipped["percent"], skipped["next_step"], skipped["finished"]) == (87, None, True)
    set_for(db, user.id, "import", "completed")
    done = client.get("/api/settings/setup-progress", headers=user.headers).json
    assert (done["completed"], done["total"], done["percent"], done["next_step"]) == (8, 8, 100, None)


def test_progress_counts_wizard_steps_only():
    # The plan counted every key of the object; extra keys must not push past 100 %.
    progress = dict.fromkeys(STEPS, "completed") | {"legacy_step": "completed", "other": "completed"}
    view = progress_view(progress, wizard_steps(providers.catalog()))
    assert (view.completed, view.total, view.percent) == (8, 8, 100)


def test_one_users_changes_never_touch_another(client, make_user, db):
    alice, bob = make_user(), make_user()
    client.patch("/api/settings/setup-progress/shopify", json={"status": "skipped"}, headers=alice.headers)
    client.put("/api/settings/operator-mode", json={"operator_mode": "autopilot"}, headers=alice.headers)
    theirs = client.get("/api/settings", headers=bob.headers).json
    assert theirs["operator_mode"] == "supervised"
    assert set(theirs["progress"]["setup_progress"].values()) == {"pending"}


# --- operator mode --------------------------------------------------------------------------

def test_operator_mode(client, user):
    response = client.put("/api/settings/operator-mode", json={"operator_mode": "assisted"}, headers=user.headers)
    assert response.status_code == 200
    assert response.json["operator_mode"] == "assisted"
    assert response.json["progress"]["setup_progress"]["operator_mode"] == "completed"
    bad = client.put("/api/settings/operator-mode", json={"operator_mode": "yolo"}, headers=user.headers)
    assert bad.status_code == 400
    assert client.get("/api/settings", headers=user.headers).json["operator_mode"] == "assisted"


# --- design rules ---------------------------------------------------------------------------

def defaults(db: Database) -> dict:
    with db.as_service() as conn:
        return conn.execute("select public.default_design_rules() as d").fetchone()["d"]


def test_sql_defaults_fit_the_model(db):
    DesignRules.model_validate(defaults(db))


def test_use_default_rules_completes_the_step(client, user, db):
    response = client.put("/api/settings/design-rules", json={"use_defaults": True}, headers=user.headers)
    assert response.status_code == 200
    assert response.json["design_rules"] == defaults(db)
    assert response.json["using_default_design_rules"] is True
    assert response.json["progress"]["setup_progress"]["design_rules"] == "completed"


def test_custom_rules_are_validated_stored_and_resettable(client, user, db):
    rules = copy.deepcopy(defaults(db))
    rules["color"]["default_palette"] = ["#000000", "#FFFFFF"]
    rules["approval"]["require_approval"] = False
    response = client.put("/api/settings/design-rules", json={"design_rules": rules}, headers=user.headers)
    assert response.status_code == 200, response.json
    stored = client.get("/api/settings", headers=user.headers).json
    assert stored["design_rules"]["color"]["default_palette"] == ["#000000", "#FFFFFF"]
    assert stored["design_rules"]["approval"]["require_approval"] is False
    assert stored["using_default_design_rules"] is False
    reset = client.put("/api/settings/design-rules", json={"use_defaults": True}, headers=user.headers)
    assert reset.json["design_rules"] == defaults(db)


def _broken(db, mutate):
    rules = copy.deepcopy(defaults(db))
    mutate(rules)
    return {"design_rules": rules}


@pytest.mark.parametrize("mutate", [
    lambda r: r["color"].update(default_palette=["red"]),
    lambda r: r["color"].update(default_palette=["#000000"] * 5),  # more than max_palette_colors (4)
    lambda r: r["typography"].update(text_alignment="diagonal"),
    lambda r: r["typography"].update(max_lines=0),
    lambda r: r["quality"].update(min_quality_score=1.5),
    lambda r: r.pop("approval"),
    lambda r: r.update(surprise=True),
    lambda r: r["print_formats"].append({"name": "odd", "width_in": 5, "aspect_ratio": "1:1"}),
    lambda r: r["print_formats"].append(dict(r["print_formats"][0])),  # duplicate name
])
def test_invalid_rules_are_400_and_change_nothing(client, user, db, mutate):
    response = client.put("/api/settings/design-rules", json=_broken(db, mutate), headers=user.headers)
    assert response.status_code == 400, response.json
    settings = client.get("/api/settings", headers=user.headers).json
    assert settings["using_default_design_rules"] is True
    assert settings["progress"]["setup_progress"]["design_rules"] == "pending"


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda r: r["mockups"].update(scenes=["living room\u0000"]), "design_rules.mockups.scenes"),
    (lambda r: r["print_formats"][0].update(name="A\u00004"), "design_rules.print_formats.0.name"),
])
def test_a_nul_character_is_400_naming_the_field_and_changes_nothing(client, user, db, mutate, field):
    # Postgres cannot store U+0000 in text or jsonb; it must be refused as input, not fail as a 500.
    response = client.put("/api/settings/design-rules", json=_broken(db, mutate), headers=user.headers)
    assert response.status_code == 400 and response.is_json, response.data
    assert response.json["error"] == "invalid_request"
    assert [(d["field"], "NUL" in d["problem"]) for d in response.json["details"]] == [(field, True)]
    settings = client.get("/api/settings", headers=user.headers).json
    assert settings["using_default_design_rules"] is True
    assert settings["progress"]["setup_progress"]["design_rules"] == "pending"


def test_a_nul_in_a_path_parameter_is_400_naming_it(client, user, db):
    response = client.patch("/api/settings/setup-progress/resend%00", json={"status": "skipped"},
                            headers=user.headers)
    assert response.status_code == 400 and response.is_json, response.data
    assert [(d["field"], "NUL" in d["problem"]) for d in response.json["details"]] == [("step", True)]
    assert client.get("/api/settings/setup-progress", headers=user.headers).json["setup_progress"]["resend"] == "pending"


@pytest.mark.parametrize("payload", [{}, {"use_defaults": False}, {"use_defaults": True, "design_rules": {}}])
def test_design_rules_body_needs_exactly_one_choice(client, user, payload):
    assert client.put("/api/settings/design-rules", json=payload, headers=user.headers).status_code == 400


def test_print_format_units():
    rules = {"name": "x", "width_mm": 10, "height_mm": 20, "aspect_ratio": "1:2"}
    from service.setup.design_rules import PrintFormat

    PrintFormat.model_validate(rules)
    with pytest.raises(ValidationError):
        PrintFormat.model_validate(rules | {"width_in": 3})
