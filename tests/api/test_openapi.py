import re

from django.test import Client

from prompts.api.urls import urlpatterns

METHODS = {"get", "post", "put", "patch", "delete"}


def _resolve_refs(document: dict, node) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if ref is not None:
            assert ref.startswith("#/"), ref
            target = document
            for part in ref[2:].split("/"):
                target = target[part]
        for value in node.values():
            _resolve_refs(document, value)
    elif isinstance(node, list):
        for value in node:
            _resolve_refs(document, value)


def test_it_serves_a_valid_openapi_document_listing_every_endpoint(db):
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert re.fullmatch(r"3\.\d+\.\d+", document["openapi"])
    assert document["info"]["title"] and document["info"]["version"]
    assert document["servers"][0]["url"].endswith("/api/v1")
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    for path, item in document["paths"].items():
        assert path.startswith("/")
        for method, operation in item.items():
            assert method in METHODS
            assert operation["responses"] and operation["operationId"]
            for status, answer in operation["responses"].items():
                assert re.fullmatch(r"[1-5]\d\d", status) and answer["description"]
            for name in re.findall(r"{(\w+)}", path):
                assert any(p["name"] == name and p["in"] == "path" and p["required"]
                           for p in operation["parameters"])
    _resolve_refs(document, document)
    routes = {"/" + re.sub(r"<int:\w+>", "{id}", str(p.pattern)) for p in urlpatterns}
    assert routes == set(document["paths"])
    assert set(document["paths"]["/jobs"]) == {"get", "post"}
    post = document["paths"]["/jobs"]["post"]
    assert {"202", "400", "401", "404", "413", "422", "429"} <= set(post["responses"])
    assert "Location" in post["responses"]["202"]["headers"]
    listing = document["paths"]["/jobs"]["get"]
    assert {p["name"] for p in listing["parameters"]} == {"status", "project", "since", "page"}
    assert listing["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/JobList"}
    assert "cost_display" in document["components"]["schemas"]["Usage"]["properties"]
