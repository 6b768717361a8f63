def test_org(org, client):
    r = client.get("/api/v1/leads", headers=org.headers("admin"))
    assert r.status_code == 200, r.text
    assert r.json()["total"] == len(org.leads)
