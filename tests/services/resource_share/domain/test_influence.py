from services.resource_share.domain.influence import Breakdown, score


def test_score_adds_the_weighted_breakdown():
    total, parts = score(
        Breakdown(
            reuse_other_teams=2,
            reuse_other_organizations=3,
            introductions_completed=1,
            wins_contributed=1,
            organizations_reached=2,
        )
    )
    assert parts == {
        "reuse_other_teams": 2.0,
        "reuse_other_organizations": 6.0,
        "introductions_completed": 3.0,
        "wins_contributed": 5.0,
        "organizations_reached": 4.0,
    }
    assert total == 20.0
    assert score(Breakdown()) == (0.0, dict.fromkeys(parts, 0.0))
