from decimal import Decimal

from services.key_account.domain.importing import check_rows, normalise_industry, resolve_parents


def codes(outcome) -> list[tuple[str, str]]:
    return [(e["loc"][-1], e["code"]) for e in outcome.errors]


def test_misspelt_sector_is_normalised_and_reported():
    assert normalise_industry("technolgy") == (
        "technology",
        "sector 'technolgy' normalised to 'technology' (known misspelling)",
    )
    assert normalise_industry("Retail") == ("retail", None)
    assert normalise_industry("softwar")[0] == "software"
    assert normalise_industry("aerospace") == ("aerospace", None)
    [row] = check_rows([{"external_id": "a", "name": "A", "industry": "technolgy"}])
    assert row.ok and row.values["industry"] == "technology"
    assert row.warnings == [
        {
            "loc": ["body", "items", 0, "industry"],
            "msg": "sector 'technolgy' normalised to 'technology' (known misspelling)",
            "code": "normalised",
        }
    ]


def test_bad_values_are_named_per_field():
    [row] = check_rows(
        [
            {
                "external_id": "x",
                "name": "",
                "employees": "many",
                "potential": 101,
                "annual_revenue": {"amount": "1.005", "currency": "USD"},
                "owner_id": "nope",
                "colour": "red",
            }
        ]
    )
    assert codes(row) == [
        ("colour", "unknown_field"),
        ("name", "missing"),
        ("employees", "type"),
        ("potential", "range"),
        ("annual_revenue", "precision"),
        ("owner_id", "type"),
    ]


def test_money_and_numbers_are_parsed():
    [row] = check_rows(
        [
            {
                "external_id": "a",
                "name": "A",
                "employees": "12",
                "annual_revenue": {"amount": "1100040000", "currency": "USD"},
            }
        ]
    )
    assert row.ok
    assert row.values["employees"] == 12
    assert row.values["annual_revenue_amount"] == Decimal("1100040000.00")


def test_duplicates_fail_after_the_first():
    rows = check_rows(
        [{"external_id": "a", "name": "A"}, {"external_id": "b", "name": "B"}, {"external_id": "a", "name": "A2"}]
    )
    assert [r.ok for r in rows] == [True, True, False]
    assert rows[2].errors[0]["msg"] == "duplicate of row 0 in this batch"


def test_parents_unknown_cycles_and_failed_chains():
    rows = check_rows(
        [
            {"external_id": "p", "name": "P"},
            {"external_id": "c", "name": "C", "parent_external_id": "p"},
            {"external_id": "u", "name": "U", "parent_external_id": "nowhere"},
            {"external_id": "x", "name": "X", "parent_external_id": "y"},
            {"external_id": "y", "name": "Y", "parent_external_id": "x"},
            {"external_id": "k", "name": "K", "parent_external_id": "u"},
            {"external_id": "s", "name": "S", "parent_external_id": "stored"},
        ]
    )
    resolve_parents(rows, existing_external_ids={"stored"})
    assert [r.ok for r in rows] == [True, True, False, False, False, False, True]
    assert codes(rows[2]) == [("parent_external_id", "unknown_parent")]
    assert codes(rows[3]) == [("parent_external_id", "cycle")] == codes(rows[4])
    assert codes(rows[5]) == [("parent_external_id", "parent_failed")]


def test_cycle_through_stored_accounts_is_found():
    # stored: m's parent is n; the batch makes n a child of m -> m -> n -> m
    rows = check_rows([{"external_id": "n", "name": "N", "parent_external_id": "m"}])
    resolve_parents(rows, existing_external_ids={"m", "n"}, existing_parent_of={"m": "n", "n": None})
    assert codes(rows[0]) == [("parent_external_id", "cycle")]


def test_a_null_clears_the_fields_that_may_be_empty_and_leaves_name_placement_and_parent():
    [row] = check_rows(
        [
            {
                "external_id": "c",
                "name": "C",
                "industry": None,
                "annual_revenue": None,
                "potential": None,
                "org_unit_path": None,
                "parent_external_id": None,
                "employees": 12,
            }
        ]
    )
    assert row.ok
    assert row.cleared == {"industry", "annual_revenue_amount", "annual_revenue_currency", "potential"}
    assert row.values == {"external_id": "c", "name": "C", "employees": 12}
