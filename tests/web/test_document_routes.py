"""The versioned documents' API built by ``web.document_routes`` (stage standards, alert rules, QA rubric): the same
five endpoints for each, read by everyone, saved and checked by admin and ops."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.builders import Org
from tests.kit.documents import alias_bomb

DOCUMENTS = ["/api/v1/standards", "/api/v1/alerts/rules", "/api/v1/qa/rubric", "/api/v1/scorecards/templates"]
COMMENT = "# 只加一行注释\n"


@pytest.mark.parametrize("path", DOCUMENTS)
def test_a_saved_version_is_listed_and_read_back_while_the_first_stays(client: TestClient, org: Org,
                                                                        path: str) -> None:
    first = client.get(path, headers=org.headers("rep_n1")).json()
    assert first["version"] == 1 and first["active"] is True
    saved = client.put(path, json={"body": first["body"] + COMMENT, "note": "注释"}, headers=org.headers("ops"))
    assert saved.status_code == 200, saved.text
    assert saved.json()["version"] == 2 and saved.json()["note"] == "注释" and saved.json()["author_id"] is not None
    listed = client.get(f"{path}/versions", headers=org.headers("auditor")).json()
    assert [(v["version"], v["active"]) for v in listed] == [(2, True), (1, False)]
    assert "body" not in listed[0]
    assert client.get(f"{path}/versions/1", headers=org.headers("rep_n1")).json()["body"] == first["body"]
    assert client.get(path, headers=org.headers("rep_n1")).json()["body"].endswith(COMMENT)


@pytest.mark.parametrize("path", DOCUMENTS)
def test_a_missing_version_is_404_naming_the_field(client: TestClient, org: Org, path: str) -> None:
    answer = client.get(f"{path}/versions/9", headers=org.headers("ops"))
    assert answer.status_code == 404 and answer.json()["error"]["field"] == "version"
    assert "9" in answer.json()["error"]["message"]


@pytest.mark.parametrize("path", DOCUMENTS)
def test_only_admin_and_ops_save_and_check(client: TestClient, org: Org, path: str) -> None:
    body = client.get(path, headers=org.headers("ops")).json()["body"]
    for who in ("sup_a", "rep_n1", "auditor"):
        assert client.put(path, json={"body": body + COMMENT}, headers=org.headers(who)).status_code == 403
        assert client.post(f"{path}/validate", json={"body": body}, headers=org.headers(who)).status_code == 403
    assert client.post(f"{path}/validate", json={"body": body}, headers=org.headers("admin")).json() == {
        "valid": True, "problems": []}
    assert [v["version"] for v in client.get(f"{path}/versions", headers=org.headers("ops")).json()] == [1]


@pytest.mark.parametrize("path", DOCUMENTS)
def test_a_wrong_text_is_listed_and_a_costly_one_refused(client: TestClient, org: Org, path: str) -> None:
    wrong = client.post(f"{path}/validate", json={"body": "name: x\nbogus_key: 1\n"}, headers=org.headers("ops"))
    assert wrong.status_code == 200 and wrong.json()["valid"] is False and wrong.json()["problems"]
    refused = client.post(f"{path}/validate", json={"body": alias_bomb(8)}, headers=org.headers("ops"))
    assert refused.status_code == 422
    assert client.put(path, json={"body": "name: x\nbogus_key: 1\n"}, headers=org.headers("ops")).status_code == 422
