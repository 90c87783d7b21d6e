import uuid

import pytest

from services.opportunity.domain import checklist
from services.opportunity.domain.plan import PlanSections
from services.opportunity.domain.policy import DEFAULT_CHECKLIST, ChecklistItem
from services.opportunity.domain.stages import Stage
from tests.services.opportunity.helpers import FORCED, MANAGER, OPPORTUNITIES, full_plan, new_opportunity, rep

pytestmark = pytest.mark.usefixtures("any_id_exists")


def test_warnings_of_an_empty_plan_after_qualified():
    codes = [w.code for w in checklist.warnings(PlanSections(), stage=Stage.PROPOSAL, compelling_event=None)]
    assert codes == ["no_decision_maker", "single_threaded", "no_known_opponent", "no_compelling_event"]
    assert "no_compelling_event" not in [
        w.code for w in checklist.warnings(PlanSections(), stage=Stage.LEAD, compelling_event=None)
    ]
    assert checklist.warnings(PlanSections(), stage=Stage.WON, compelling_event=None) == []


def test_completeness_is_weighted_and_counts_assessment_per_question():
    plan = PlanSections.model_validate({"assessment": {"is_there_an_opportunity": "yes", "can_we_compete": "no"}})
    score, scores = checklist.completeness(
        plan, [ChecklistItem(section="assessment", weight=2), ChecklistItem(section="profile")]
    )
    assert scores == {"assessment": 0.5, "profile": 0.0}
    assert score == round(2 * 0.5 / 3, 4)
    full, _ = checklist.completeness(PlanSections.model_validate(full_plan()), DEFAULT_CHECKLIST)
    assert 0.6 < full < 1.0


async def test_plan_api_scores_and_warns(service_client):
    client = await service_client("opportunity")
    me, headers = rep()
    body = new_opportunity(
        stage="qualified", owner_id=str(me), org_unit_path="/group/east/team-1", account_id=str(uuid.uuid4()), **FORCED
    )
    opp = (await client.post(OPPORTUNITIES, json=body, headers=MANAGER)).json()
    empty = await client.get(f"{OPPORTUNITIES}/{opp['id']}/plan", headers=headers)
    assert empty.status_code == 200 and empty.json()["completeness"] == 0.0
    assert {w["code"] for w in empty.json()["warnings"]} == {
        "no_decision_maker",
        "single_threaded",
        "no_known_opponent",
        "no_compelling_event",
    }
    etag = empty.headers["etag"]
    filled = await client.put(
        f"{OPPORTUNITIES}/{opp['id']}/plan", json=full_plan(), headers={**headers, "If-Match": etag}
    )
    assert filled.status_code == 200, filled.text
    assert {w["code"] for w in filled.json()["warnings"]} == {"no_compelling_event"}
    assert filled.json()["completeness"] > 0.6
    stale = await client.put(f"{OPPORTUNITIES}/{opp['id']}/plan", json={}, headers={**headers, "If-Match": etag})
    assert stale.status_code == 412
    bad = await client.put(
        f"{OPPORTUNITIES}/{opp['id']}/plan",
        json={"key_players": [{"contact_id": "x", "buying_role": "boss"}]},
        headers=headers,
    )
    assert bad.status_code == 422
    assert {tuple(e["loc"][:4]) for e in bad.json()["errors"]} == {
        ("body", "key_players", 0, "contact_id"),
        ("body", "key_players", 0, "buying_role"),
    }
    _, other = rep()
    assert (await client.get(f"{OPPORTUNITIES}/{opp['id']}/plan", headers=other)).status_code == 404
