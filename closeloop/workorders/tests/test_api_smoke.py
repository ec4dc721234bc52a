def test_it_runs_the_loop_over_the_api(world):
    disp, eng, fin = world.api(world.dispatcher), world.api(world.eng_x), world.api(world.finance)
    r = disp.post("/api/v1/work-orders", {"type": "repair", "title": "呼吸机报警", "site": "site-a"})
    assert r.status_code == 201, r.content
    code = r.json()["code"]
    assert r["Location"] == f"/api/v1/work-orders/{code}"
    steps = [(disp, "assign", {"assignee": "eng_x"}), (eng, "accept", {}), (eng, "depart", {}),
             (eng, "arrive", {}), (eng, "start", {}), (eng, "complete", {"resolution": "更换传感器"}),
             (disp, "confirm", {}), (fin, "invoice", {"invoice_number": "INV-1"}), (disp, "close", {})]
    for client, action, body in steps:
        r = client.post(f"/api/v1/work-orders/{code}/actions/{action}", body)
        assert r.status_code == 200, (action, r.content)
    assert r.json()["status"] == "closed"
    tl = disp.get(f"/api/v1/work-orders/{code}/timeline").json()["items"]
    assert [e["action"] for e in tl] == ["", *[s[1] for s in steps]]
