from gateway.settings import Settings
from gateway.upstreams import RouteTable


def test_prefixes_route_paths_and_custom_methods_but_not_longer_names():
    table = RouteTable.from_settings(Settings())
    assert table.match("/api/v1/employees").service == "employee_lifecycle"
    assert table.match("/api/v1/employees/123/stage").service == "employee_lifecycle"
    assert table.match("/api/v1/employees:bulk-upsert").service == "employee_lifecycle"
    assert table.match("/api/v1/org-units:bulk-upsert").service == "employee_lifecycle"
    assert table.match("/api/v1/accounts/bulk-upsert").service == "key_account"
    assert table.match("/api/v1/employeesX") is None
    assert table.match("/internal/events") is None
