from gateway.settings import Settings
from gateway.upstreams import RouteTable


def test_prefixes_route_paths_and_custom_methods_but_not_longer_names():
    table = RouteTable.from_settings(Settings())
    assert table.match("/api/v1/employees").service == "employee_lifecycle"
    assert table.match("/api/v1/employees/123/stage").service == "employee_lifecycle"
    assert table.match("/api/v1/employees:bulk-upsert").service == "employee_lifecycle"
    assert table.match("/api/v1/org-units:bulk-upsert").service == "employee_lifecycle"
    assert table.match("/api/v1/accounts:bulk-upsert").service == "key_account"
    assert table.match("/api/v1/opportunities:bulk-upsert").service == "opportunity"
    assert table.match("/api/v1/accounts/bulk-upsert").service == "key_account"  # the deprecated alias
    assert table.match("/api/v1/employeesX") is None
    assert table.match("/internal/events") is None


def test_every_public_path_of_every_service_is_routed_to_that_service():
    """A service route outside its prefixes would be in the merged spec yet
    answer 404 through the gateway."""
    from sanlun.topology import SERVICES

    table = RouteTable.from_settings(Settings())
    unrouted = {}
    for spec in SERVICES:
        for path in spec.create_app().openapi()["paths"]:
            if not path.startswith("/api/v1/"):
                continue
            concrete = path.replace("{", "x").replace("}", "")
            route = table.match(concrete)
            if route is None or route.service != spec.name:
                unrouted[path] = spec.name
    assert unrouted == {}
