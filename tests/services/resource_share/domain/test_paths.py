import uuid

from services.resource_share.domain.paths import PathConfig, Relationship, disclose_owner, rank_paths

ME = uuid.uuid4()
ME_PATH = "/group/east/team-1"
ACME = uuid.uuid4()
TARGET = uuid.uuid4()


def rel(
    owner: uuid.UUID,
    contact: uuid.UUID,
    strength: int,
    path: str = "/group/west/team-1",
    account: uuid.UUID | None = ACME,
    disclosure: str = "identity",
) -> Relationship:
    return Relationship(uuid.uuid4(), owner, path, contact, account, strength, disclosure)


def test_direct_connectors_rank_by_strength_and_organisational_distance():
    near, far = uuid.uuid4(), uuid.uuid4()
    r_near = rel(near, TARGET, 70, path="/group/east/team-2")  # same organisation: ask 0.8 → 0.56
    r_far = rel(far, TARGET, 90)  # other organisation: ask 0.6 → 0.54
    paths = rank_paths(requester_id=ME, requester_path=ME_PATH, targets={TARGET}, relationships=[r_far, r_near])
    assert [(p.connector.owner_id, round(p.strength, 4), len(p.hops)) for p in paths] == [
        (near, 0.56, 2),
        (far, 0.54, 2),
    ]
    assert [h.kind for h in paths[0].hops] == ["ask", "relationship"]


def test_a_warm_mutual_contact_beats_a_cold_ask_across_organisations():
    connector, mutual = uuid.uuid4(), uuid.uuid4()
    mine = rel(ME, mutual, 95, path=ME_PATH, account=uuid.uuid4())
    theirs_mutual = rel(connector, mutual, 95, account=mine.account_id)
    theirs_target = rel(connector, TARGET, 80)
    paths = rank_paths(
        requester_id=ME, requester_path=ME_PATH, targets={TARGET}, relationships=[mine, theirs_mutual, theirs_target]
    )
    # 0.95 × 0.95 × 0.80 = 0.722 through the mutual contact vs 0.6 × 0.8 = 0.48 asking cold.
    assert [p.relationship_ids for p in paths] == [
        (mine.id, theirs_mutual.id, theirs_target.id),
        (theirs_target.id,),
    ]
    assert round(paths[0].strength, 3) == 0.722
    assert all(p.connector.owner_id == connector for p in paths)


def test_a_colleague_of_the_target_at_the_same_account_is_a_three_hop_path():
    connector, colleague = uuid.uuid4(), uuid.uuid4()
    knows_colleague = rel(connector, colleague, 100, path="/group/east/team-1")
    # The target itself is known only privately (not in the graph), but we know its account.
    target_marker = rel(uuid.uuid4(), TARGET, 1, path="/group/south/x")
    paths = rank_paths(
        requester_id=ME, requester_path=ME_PATH, targets={TARGET}, relationships=[knows_colleague, target_marker]
    )
    best = paths[0]
    assert [h.kind for h in best.hops] == ["ask", "relationship", "colleague"]
    assert best.connector.owner_id == connector and round(best.strength, 3) == 0.5  # 1.0 × 1.0 × 0.5


def test_paths_are_at_most_max_hops_and_the_requester_is_never_the_connector():
    connector, mutual = uuid.uuid4(), uuid.uuid4()
    mine_target = rel(ME, TARGET, 100, path=ME_PATH)
    mine = rel(ME, mutual, 95, path=ME_PATH)
    relationships = [mine_target, mine, rel(connector, mutual, 95), rel(connector, TARGET, 80)]
    two = rank_paths(
        requester_id=ME,
        requester_path=ME_PATH,
        targets={TARGET},
        relationships=relationships,
        config=PathConfig(max_hops=2),
    )
    assert [len(p.hops) for p in two] == [2]
    three = rank_paths(requester_id=ME, requester_path=ME_PATH, targets={TARGET}, relationships=relationships)
    assert {len(p.hops) for p in three} == {2, 3}
    assert all(p.connector.owner_id == connector for p in three)
    assert mine_target.id not in {i for p in three for i in p.relationship_ids}


def test_no_edges_no_paths_and_limit_applies():
    assert rank_paths(requester_id=ME, requester_path=ME_PATH, targets={TARGET}, relationships=[]) == []
    many = [rel(uuid.uuid4(), TARGET, s) for s in range(10, 100, 10)]
    top = rank_paths(requester_id=ME, requester_path=ME_PATH, targets={TARGET}, relationships=many, limit=3)
    assert [p.connector.strength for p in top] == [90, 80, 70]


def test_disclosure_hides_the_owner_as_far_as_they_chose():
    owner = uuid.uuid4()
    assert disclose_owner(rel(owner, TARGET, 50, disclosure="identity"), viewer_id=ME)["employee_id"] == owner
    org = disclose_owner(rel(owner, TARGET, 50, disclosure="organization"), viewer_id=ME)
    assert (org["employee_id"], org["org_unit_path"], org["organization"]) == (None, None, "/group/west")
    anon = disclose_owner(rel(owner, TARGET, 50, disclosure="anonymous"), viewer_id=ME)
    assert (anon["employee_id"], anon["organization"]) == (None, None)
    assert disclose_owner(rel(owner, TARGET, 50, disclosure="anonymous"), viewer_id=owner)["employee_id"] == owner
