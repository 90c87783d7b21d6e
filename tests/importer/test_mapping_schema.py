"""The mapping file checked whole before anything is read or written: each typo
that used to lose data silently is an error naming the nearest right name."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from sanlun.importer.mapping import BUILTIN_DIR, MappingError, Template, load_mapping, parse_mapping
from sanlun.importer.plan import build_plan
from sanlun.importer.readers import read_tables
from tests.importer.test_plan import ACCOUNTS, PIPELINE, PRODUCTS, TEAMS

FILES = {"sales_teams.csv": TEAMS, "accounts.csv": ACCOUNTS, "products.csv": PRODUCTS, "sales_pipeline.csv": PIPELINE}


def builtin() -> dict[str, Any]:
    return yaml.safe_load((BUILTIN_DIR / "maven_crm.yaml").read_text(encoding="utf-8"))


def files(tmp_path: Path, **changed: str) -> Path:
    for name, text in {**FILES, **changed}.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def test_the_builtin_mapping_validates_cleanly_and_reads_the_sample_header(tmp_path: Path) -> None:
    mapping = load_mapping("maven-crm")
    read_tables(mapping, files(tmp_path))  # no MappingError: every column it names is in its file


@pytest.mark.parametrize(
    ("change", "message"),
    [
        # every amount replaced by the list price
        (
            lambda d: d["opportunities"]["fields"].__setitem__("amout", d["opportunities"]["fields"].pop("amount")),
            "opportunities.fields: unknown opportunities field 'amout' (did you mean 'amount'?)",
        ),
        # all money stored as CNY
        (
            lambda d: d.__setitem__("currancy", d.pop("currency")),
            "top level: unknown key or section 'currancy' (did you mean 'currency'?)",
        ),
        # the whole section skipped
        (
            lambda d: d.__setitem__("oportunities", d.pop("opportunities")),
            "top level: unknown key or section 'oportunities' (did you mean 'opportunities'?)",
        ),
        (
            lambda d: d["accounts"].__setitem__("feilds", d["accounts"].pop("fields")),
            "accounts: unknown key 'feilds' (did you mean 'fields'?)",
        ),
        (
            lambda d: d["opportunities"]["fields"]["stage"].__setitem__(
                "strcit", d["opportunities"]["fields"]["stage"].pop("strict")
            ),
            "opportunities.fields.stage: unknown option 'strcit' (did you mean 'strict'?)",
        ),
        (
            lambda d: d["accounts"]["fields"]["employees"].__setitem__("type", "integer"),
            "accounts.fields.employees: unknown type 'integer' (did you mean 'int'?)",
        ),
        # a date on a person's field that takes text: a mapping error, not a traceback after org units were written
        (
            lambda d: (
                d["employees"]["people"][1]["email"].__class__ is str
                and d["employees"]["people"][1].__setitem__("email", {"template": "{sales_agent}", "type": "date"})
            ),
            "employees.people[1].email: type date on a field that takes text (type: text)",
        ),
        (
            lambda d: d["opportunities"]["fields"].__setitem__("closed_on", "{close_date}"),
            "opportunities.fields.closed_on: takes a date: give {template: ..., type: date}",
        ),
        (
            lambda d: d["opportunities"]["fields"]["closed_on"].__setitem__("format", "%d-%m"),
            "opportunities.fields.closed_on.format: date format '%d-%m' has no year",
        ),
        (
            lambda d: d["opportunities"]["fields"]["amount"].__setitem__("locale", "german"),
            "opportunities.fields.amount.locale: locale 'german' is not one of en, zh",
        ),
        (
            lambda d: d.__setitem__("files", {"sales_pipline.csv": {"encoding": "cp1252"}}),
            "files: 'sales_pipline.csv' is not a file the mapping reads (did you mean 'sales_pipeline.csv'?)",
        ),
        (
            lambda d: d.__setitem__("files", {"sales_pipeline.csv": {"encodng": "cp1252", "delimiter": ";;"}}),
            "files.sales_pipeline.csv: unknown option 'encodng' (did you mean 'encoding'?)",
        ),
        (
            lambda d: d["employees"]["people"][0].pop("org_unit"),
            "employees.people[0]: missing org_unit",
        ),
    ],
)
def test_each_typo_is_an_error_with_a_suggestion(change: Any, message: str) -> None:
    doc = builtin()
    change(doc)
    with pytest.raises(MappingError) as caught:
        parse_mapping(doc)
    assert message in str(caught.value)


def test_every_problem_is_said_at_once() -> None:
    doc = builtin()
    doc["currancy"] = doc.pop("currency")
    doc["opportunities"]["fields"]["amout"] = doc["opportunities"]["fields"].pop("amount")
    with pytest.raises(MappingError, match=r"the mapping has 2 problems: .*currancy.*amout"):
        parse_mapping(doc)


def test_unknown_filters_are_mapping_errors_up_front() -> None:
    with pytest.raises(MappingError, match=r"unknown filter \|slgu \(did you mean 'slug'\?\)"):
        Template("{name|slgu}@example.com")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        # every parent link dropped, before: the column never matched, so `when` was never met
        (
            lambda d: d["accounts"]["fields"]["parent_external_id"].__setitem__("when", "subsidary_of"),
            (
                "accounts.fields.parent_external_id.when: column 'subsidary_of' is not in accounts.csv "
                "(did you mean 'subsidiary_of'?)"
            ),
        ),
        (
            lambda d: d["accounts"]["fields"].__setitem__("headquarters", "{office_locaton}"),
            (
                "accounts.fields.headquarters: column 'office_locaton' is not in accounts.csv "
                "(did you mean 'office_location'?)"
            ),
        ),
        (
            lambda d: d["employees"]["people"][1]["entered_sales_on"].__setitem__("column", "engage_dat"),
            (
                "employees.people[1].entered_sales_on.column: column 'engage_dat' is not in sales_pipeline.csv "
                "(did you mean 'engage_date'?)"
            ),
        ),
    ],
)
def test_columns_are_checked_against_each_files_header_before_any_row(
    tmp_path: Path, change: Any, message: str
) -> None:
    doc = builtin()
    change(doc)
    mapping = parse_mapping(doc)  # the mapping alone is fine: the file decides
    with pytest.raises(MappingError) as caught:
        read_tables(mapping, files(tmp_path))
    assert message in str(caught.value)


def test_a_missing_file_names_the_nearest_one(tmp_path: Path) -> None:
    doc = builtin()
    doc["solutions"]["file"] = "product.csv"
    with pytest.raises(MappingError, match=r"reads product.csv, which is not in .* \(did you mean 'products.csv'\?\)"):
        read_tables(parse_mapping(doc), files(tmp_path))


def test_any_column_name_works_in_templates(tmp_path: Path) -> None:
    accounts = "account,sector,office (HQ),Niederlassung München,客户经理,revenue\r\nAcme,retail,Berlin,ja,张伟,1.5\r\n"
    doc = builtin()
    doc["accounts"]["fields"] = {
        "external_id": "account:{account}",
        "name": "{account}",
        "headquarters": "{office (HQ)} / {Niederlassung München} / {客户经理}",
        "annual_revenue": {"template": "{revenue}", "type": "money"},
    }
    mapping = parse_mapping(doc)
    plan = build_plan(mapping, read_tables(mapping, files(tmp_path, **{"accounts.csv": accounts})))
    [acme] = [p for p in plan.accounts if p.key == "account:Acme"]
    assert acme.body["headquarters"] == "Berlin / ja / 张伟"


def test_the_mapping_may_not_misspell_what_it_does_not_use(tmp_path: Path) -> None:
    # Sections may be left out; a section that is there is checked whole.
    doc = copy.deepcopy(builtin())
    del doc["opportunities"], doc["employees"]["people"][1]["entered_sales_on"]
    mapping = parse_mapping(doc)
    assert mapping.opportunities_file is None
    assert mapping.files() == ["sales_teams.csv", "accounts.csv", "products.csv"]
