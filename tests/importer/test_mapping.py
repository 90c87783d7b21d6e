import datetime as dt
from decimal import Decimal

import pytest

from sanlun.importer.mapping import MappingError, RowError, Template, load_mapping, parse_field, parse_mapping


def test_template_renders_columns_with_filters() -> None:
    t = Template("{name|slug}@example.com / {account|or:no account}")
    assert t.render({"name": "Mei-Mei Johns", "account": ""}) == "mei-mei-johns@example.com / no account"


def test_template_names_a_missing_column() -> None:
    with pytest.raises(RowError, match="column 'nope' is missing"):
        Template("{nope}").render({"name": "x"})


def test_value_map_with_a_reason_is_a_normalisation_and_a_plain_translation_is_not() -> None:
    fixed = parse_field("industry", {"template": "{sector}", "values": {"technolgy": "technology"}, "why": "misspelt"})
    translated = parse_field("stage", {"template": "{s}", "values": {"Won": "won"}})
    notes: list[str] = []
    assert fixed.evaluate({"sector": "technolgy"}, notes) == "technology"
    assert translated.evaluate({"s": "Won"}, notes) == "won"
    assert notes == ["industry 'technolgy' read as 'technology' (misspelt)"]


def test_strict_value_map_rejects_unknown_values() -> None:
    stage = parse_field("stage", {"template": "{s}", "values": {"Won": "won"}, "strict": True})
    with pytest.raises(RowError, match="stage 'Closed' is not one of Won"):
        stage.evaluate({"s": "Closed"}, [])


def test_typed_fields() -> None:
    money = parse_field("revenue", {"template": "{r}", "type": "money", "scale": 1000000})
    day = parse_field("closed_on", {"template": "{d}", "type": "date"})
    count = parse_field("employees", {"template": "{e}", "type": "int"})
    assert money.evaluate({"r": "1100.04"}, []) == Decimal("1100040000.00")
    assert day.evaluate({"d": "2017-03-01"}, []) == dt.date(2017, 3, 1)
    assert day.evaluate({"d": ""}, []) is None
    with pytest.raises(RowError, match="not a date"):
        day.evaluate({"d": "01/03/2017"}, [])
    with pytest.raises(RowError, match="not a whole number"):
        count.evaluate({"e": "2.5"}, [])
    with pytest.raises(RowError, match="not a non-negative number"):
        money.evaluate({"r": "-3"}, [])


def test_when_skips_the_field_for_an_empty_column() -> None:
    parent = parse_field("parent", {"template": "account:{subsidiary_of}", "when": "subsidiary_of"})
    assert parent.evaluate({"subsidiary_of": ""}, []) is None
    assert parent.evaluate({"subsidiary_of": "Acme"}, []) == "account:Acme"


def test_builtin_mapping_loads_by_name() -> None:
    m = load_mapping("maven-crm")
    assert m.currency == "USD"
    assert m.files() == ["sales_teams.csv", "accounts.csv", "products.csv", "sales_pipeline.csv"]
    assert m.facts is True


def test_mapping_errors_are_explicit() -> None:
    with pytest.raises(MappingError, match="no built-in mapping"):
        load_mapping("no-such-mapping")
    with pytest.raises(MappingError, match="type must be one of"):
        parse_field("x", {"template": "{a}", "type": "float"})
    with pytest.raises(MappingError, match="currency"):
        parse_mapping({"currency": "usd"})
