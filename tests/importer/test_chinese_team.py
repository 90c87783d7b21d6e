"""A team with Chinese names: every agent imported, with distinct e-mails and org
unit slugs the services accept (before, `slug` made every name `x`: 0 of 4 imported)."""

from __future__ import annotations

from pathlib import Path

from sanlun.importer.mapping import load_mapping
from sanlun.importer.plan import build_plan
from sanlun.importer.readers import read_tables
from sanlun.importer.slugs import slug
from services.employee_lifecycle.employees.schemas import EmployeeImport
from services.employee_lifecycle.org_units.schemas import OrgUnitImport
from tests.importer.test_plan import ACCOUNTS, PRODUCTS

# 张伟 and 章伟 are both "zhang wei" in pinyin; 李娜 (Lina) mixes scripts.
TEAMS = (
    "sales_agent,manager,regional_office\r\n"
    "张伟,王芳,华东\r\n"
    "章伟,王芳,华东\r\n"
    "李娜 (Lina),王芳,华东\r\n"
    "刘洋,陈静,华南\r\n"
)
PIPELINE = (
    "opportunity_id,sales_agent,product,account,deal_stage,engage_date,close_date,close_value\r\n"
    "C1,张伟,GTX Pro,Acme,Won,2016-10-20,2017-03-01,4514\r\n"
    "C2,章伟,MG Special,,Engaging,2017-01-02,,\r\n"
    "C3,李娜 (Lina),MG Special,Beta,Won,2017-01-02,2017-02-01,50\r\n"
    "C4,刘洋,MG Special,Acme,Prospecting,,,\r\n"
)


def test_four_chinese_named_agents_are_all_imported_with_distinct_emails_and_slugs(tmp_path: Path) -> None:
    for name, text in {
        "sales_teams.csv": TEAMS,
        "accounts.csv": ACCOUNTS,
        "products.csv": PRODUCTS,
        "sales_pipeline.csv": PIPELINE,
    }.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    mapping = load_mapping("maven-crm")
    plan = build_plan(mapping, read_tables(mapping, tmp_path))

    assert [r for r in plan.rejections if r.entity in ("org_units", "employees")] == []
    people = {p.key: p.body for p in plan.employees}
    agents = ["person:张伟", "person:章伟", "person:李娜 (Lina)", "person:刘洋"]
    assert set(agents) <= set(people) and len(people) == 6  # four agents and two managers
    emails = [b["email"] for b in people.values()]
    assert len(set(emails)) == 6
    assert people["person:张伟"]["email"].startswith("zhang-wei-") and people["person:章伟"]["email"].startswith(
        "zhang-wei-"
    )
    assert people["person:李娜 (Lina)"]["email"].startswith("li-na-lina-")
    paths = [u.body["slug"] for u in plan.org_units]
    assert len(set(plan.org_paths.values())) == len(plan.org_units) and len(set(paths)) == len(paths)
    assert plan.org_paths["team:王芳"].startswith("/maven/maventech/hua-dong-")
    # What the services take: each row validates against the bulk endpoints' own models.
    for unit in plan.org_units:
        OrgUnitImport.model_validate(unit.body)
    for person in plan.employees:
        EmployeeImport.model_validate(person.body)
    # Every deal of the team is planned (none lost to an owner that could not be imported).
    assert {p.key for p in plan.opportunities} == {"maven:C1", "maven:C2", "maven:C3", "maven:C4"}


def test_slugs_are_stable_distinct_and_never_one_letter() -> None:
    assert slug("张伟") == slug("张伟") != slug("章伟")
    assert slug("Mo Chen") == "mo-chen"  # ASCII names keep their slugs: the sample set imports as before
    assert slug("José") != slug("Jose") == "jose"
    for name in ("Иван Петров", "---", "محمد", "张"):
        assert len(slug(name)) > 1 and slug(name) != "x"
    assert len(slug("张" * 200)) <= 100
