from sanlun.importer.cli import sample_data_dir
from sanlun.importer.mapping import load_mapping
from sanlun.importer.plan import build_plan
from sanlun.importer.readers import parse_csv, read_tables

MAVEN = sample_data_dir()  # the sample set shipped in the package

TEAMS = "sales_agent,manager,regional_office\r\nAda Lin,Mo Chen,East\r\nBo Wu,Mo Chen,East\r\n"
ACCOUNTS = (
    "account,sector,year_established,revenue,employees,office_location,subsidiary_of\r\n"
    "Acme,technolgy,1996,1100.04,2822,United States,\r\n"
    "Beta,retail,1999,1.5,400,Kenya,Acme\r\n"
    "Orphan,retail,1999,1.5,400,Kenya,Nobody\r\n"
)
PRODUCTS = "product,series,sales_price\r\nGTX Pro,GTX,4821\r\nMG Special,MG,55\r\n"
PIPELINE = (
    "opportunity_id,sales_agent,product,account,deal_stage,engage_date,close_date,close_value\r\n"
    "O1,Ada Lin,GTXPro,Acme,Won,2016-10-20,2017-03-01,4514\r\n"  # 2: alias
    "O2,Ada Lin,MG Special,,Engaging,2017-01-02,,\r\n"  # 3: no account, no value
    "O3,Bo Wu,MG Special,Beta,Lost,2017-01-02,2017-02-01,0\r\n"  # 4: lost at 0
    "O4,Bo Wu,MG Special,Beta,Prospecting,,,\r\n"  # 5: no engage date
    "O5,Zed Nobody,MG Special,Beta,Won,2017-01-02,2017-02-01,50\r\n"  # 6: unknown agent
    "O1,Ada Lin,GTX Pro,Acme,Won,2016-10-20,2017-03-01,4514\r\n"  # 7: duplicate id
    "O7,Ada Lin,MG Special,Acme,Won,2017-01-02,,50\r\n"  # 8: won without close date
    "O8,Ada Lin,MG Special,Acme,Stalled,2017-01-02,,\r\n"  # 9: unknown stage
    "O9,Ada Lin,MG Special,Orphan,Engaging,2017-01-02,,\r\n"
)  # 10: rejected account


def plan(**changed: str):
    """The plan of the test's files, with some replaced (`plan(**{"accounts.csv": ...})`)."""
    files = {
        "sales_teams.csv": TEAMS,
        "accounts.csv": ACCOUNTS,
        "products.csv": PRODUCTS,
        "sales_pipeline.csv": PIPELINE,
        **changed,
    }
    return build_plan(load_mapping("maven-crm"), {n: parse_csv(n, t.encode()) for n, t in files.items()})


def test_every_flaw_is_normalised_or_rejected_with_file_line_and_reason() -> None:
    p = plan()
    rejected = {(r.entity, r.source.file, r.source.line): r.reason for r in p.rejections}
    assert rejected == {
        ("accounts", "accounts.csv", 4): "parent 'account:Nobody' is not in accounts.csv",
        ("opportunities", "sales_pipeline.csv", 6): "owner 'person:Zed Nobody' is not among the imported employees",
        (
            "opportunities",
            "sales_pipeline.csv",
            7,
        ): "duplicate of line 2 (the same external id 'maven:O1', imported from that line)",
        ("opportunities", "sales_pipeline.csv", 8): "a won deal needs its close date",
        ("opportunities", "sales_pipeline.csv", 9): "stage 'Stalled' is not one of Engaging, Lost, Prospecting, Won",
        ("opportunities", "sales_pipeline.csv", 10): "account 'account:Orphan' was rejected",
    }
    notes = {(n.source.line if n.source else None, n.message) for n in p.notes if n.entity != "file"}
    assert (2, "industry 'technolgy' read as 'technology' (misspelt sector)") in notes
    assert (2, "solution 'GTXPro' read as 'GTX Pro' (product name differs from products.csv)") in notes
    assert (3, "no account: imported without one (no industry or size band)") in notes
    assert (3, "no value on a qualified deal: amount set to the solution's list price") in notes
    assert (4, "value 0 on a lost deal: amount set to the solution's list price") in notes
    assert any(line == 5 and m.startswith("no engage date on a lead deal") for line, m in notes)
    assert {(n.source.file, n.message, n.count) for n in p.notes if n.entity == "file"} >= {
        ("sales_pipeline.csv", "CRLF line endings read as line ends", 10)
    }
    # 9 rows = 4 planned + 5 rejected, none lost
    assert p.rows_read["opportunities"] == 9
    assert len(p.opportunities) + sum(r.entity == "opportunities" for r in p.rejections) == 9


def test_records_carry_what_the_api_needs() -> None:
    p = plan()
    o = {x.key: x for x in p.opportunities}
    assert o["maven:O1"].body == {
        "external_id": "maven:O1",
        "name": "GTXPro for Acme (O1)",
        "stage": "won",
        "amount": {"amount": "4514.00", "currency": "USD"},
        "closed_on": "2017-03-01",
        "industry": "technology",
        "size_band": "mid",
        "source": "maven-crm",
    }
    assert o["maven:O2"].body["amount"] == {"amount": "55.00", "currency": "USD"}
    assert o["maven:O2"].extra["account"] is None and o["maven:O4"].extra["engaged_on"] is None
    people = {x.key: x.body for x in p.employees}
    assert people["person:Mo Chen"] == {
        "external_id": "person:Mo Chen",
        "name": "Mo Chen",
        "email": "mo-chen@maventech.example",
        "capacity": 0,
        "org_unit_path": "/maven/maventech/east/mo-chen",
    }
    assert people["person:Ada Lin"]["manager_external_id"] == "person:Mo Chen"
    assert people["person:Ada Lin"]["entered_sales_on"] == "2016-10-20"
    assert len(p.employees) == 3  # the manager named on two rows is one person
    assert p.data_end.isoformat() == "2017-03-01"


def test_the_sample_set_plans_every_row() -> None:
    m = load_mapping("maven-crm")
    p = build_plan(m, read_tables(m, MAVEN))
    assert (len(p.org_units), len(p.employees), len(p.accounts), len(p.solutions), len(p.opportunities)) == (
        11,
        41,
        85,
        7,
        8800,
    )
    assert p.rejections == []
    counts = {}
    for n in p.notes:
        counts[n.message] = counts.get(n.message, 0) + n.count
    assert counts["industry 'technolgy' read as 'technology' (misspelt sector)"] == 12
    assert counts["solution 'GTXPro' read as 'GTX Pro' (product name differs from products.csv)"] == 1480
    assert counts["no account: imported without one (no industry or size band)"] == 1425
    assert counts["value 0 on a lost deal: amount set to the solution's list price"] == 2473
    assert p.unusable == []


def test_duplicates_are_accounted_for_on_both_lines_for_every_entity() -> None:
    # 4: Mo Chen's team in another region; 5: Bo Wu, an agent on line 3, named as a manager
    teams = TEAMS + "Cy Ng,Mo Chen,West\r\n" + "Ada Lin,Bo Wu,East\r\n"
    accounts = ACCOUNTS + "Acme,retail,2001,5,10,Kenya,\r\n"  # 5: Acme again
    products = PRODUCTS + "GTX Pro,GTX,1\r\n"  # 4: GTX Pro again
    p = plan(**{"sales_teams.csv": teams, "accounts.csv": accounts, "products.csv": products})
    rejected = {(r.entity, r.source.line): r.reason for r in p.rejections}
    # The later row is rejected naming the earlier one, which stays planned: nothing cascades from it.
    assert (
        rejected[("accounts", 5)]
        == "duplicate of line 2 (the same external id 'account:Acme', imported from that line)"
    )
    assert "account:Acme" in {a.key for a in p.accounts} and "account:Beta" in {a.key for a in p.accounts}
    assert rejected[("solutions", 4)] == "duplicate of line 2 (the same name 'GTX Pro', imported from that line)"
    assert rejected[("opportunities", 7)].startswith("duplicate of line 2 (the same external id 'maven:O1'")
    assert "maven:O1" in {o.key for o in p.opportunities}  # the deal on Acme is not lost with the duplicate
    assert rejected[("org_units", 4)] == (
        "'team:Mo Chen' is defined differently on line 2 (a duplicate external id; that definition is imported)"
    )
    assert rejected[("employees", 5)] == (
        "'person:Bo Wu' is defined differently on line 3 (a duplicate external id; that definition is imported)"
    )
    for entity, read in p.rows_read.items():
        planned_lines = {(s.file, s.line) for x in getattr(p, entity) for s in x.sources}
        rejected_lines = {(r.source.file, r.source.line) for r in p.rejections if r.entity == entity}
        assert len(planned_lines | rejected_lines) == read, entity


def test_two_people_with_one_email_are_not_both_sent() -> None:
    teams = "sales_agent,manager,regional_office\r\nAda Lin,Mo Chen,East\r\nada lin,Mo Chen,East\r\n"
    p = plan(**{"sales_teams.csv": teams})
    [r] = [r for r in p.rejections if r.entity == "employees"]
    assert (r.source.line, r.reason) == (3, "e-mail ada-lin@maventech.example is also 'person:Ada Lin''s (line 2)")
