from sanlun.importer.readers import parse_csv


def test_crlf_is_read_and_reported_and_lines_are_kept() -> None:
    table = parse_csv("a.csv", b'id,name\r\n1,Ada\r\n\r\n2,"Bo\r\nLin"\r\n3,Cy\r\n')
    assert [(r.line, r.values["id"]) for r in table.rows] == [(2, "1"), (4, "2"), (6, "3")]
    assert table.rows[1].values["name"] == "Bo\r\nLin"
    assert table.notes == [
        ("CRLF line endings read as line ends", 6),
        ("values over several lines (quoted line breaks) kept", 1),
    ]


def test_a_row_with_the_wrong_number_of_values_is_kept_as_broken() -> None:
    table = parse_csv("a.csv", "\ufeffid,name\n1,Ada,extra\n2,Bo\n".encode())
    assert [r.values for r in table.rows] == [{"id": "2", "name": "Bo"}]
    assert table.broken == [(2, "3 values for 2 columns")]
    assert ("UTF-8 byte order mark removed", 1) in table.notes
