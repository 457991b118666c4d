"""The CDS Hooks app factory builds an app that answers discovery."""

from cds_hooks.app import create_app


def test_discovery_answers_with_a_services_list() -> None:
    client = create_app({"TESTING": True}).test_client()
    response = client.get("/cds-services")
    assert response.status_code == 200
    assert response.get_json() == {"services": []}
