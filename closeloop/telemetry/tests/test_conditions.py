"""The public reads (alarm_counts, meter_values, assets_matching), condition variables,
validation, the backtest with a controlled clock, and the 10k-asset evaluation's query budget."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine

from closeloop.core.errors import ValidationFailed
from closeloop.customers.models import Asset
from closeloop.telemetry import selectors, services, variables
from closeloop.telemetry.models import AlarmEvent, Condition, Reading

T0 = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)


def alarms(asset, times, kind="door_delay"):
    AlarmEvent.objects.bulk_create([AlarmEvent(asset=asset, kind=kind, at=t, received_at=t) for t in times])


def readings(asset, pairs, kind="temperature"):
    Reading.objects.bulk_create([Reading(asset=asset, kind=kind, at=t, value=v, received_at=t) for t, v in pairs])


@pytest.fixture
def lift(world):
    a = world.asset_a
    a.install_date = date(2020, 6, 1)
    a.batch = "B-2020"
    a.save()
    return a


def test_alarm_counts_and_meter_values(world, lift):
    alarms(lift, [T0 - timedelta(days=d) for d in (1, 2, 3, 40)])
    alarms(world.asset_b, [T0 - timedelta(days=1)])
    alarms(lift, [T0 - timedelta(days=1)], kind="overheat")
    assert selectors.alarm_counts(kind="door_delay", since=T0 - timedelta(days=30), until=T0) == {
        lift.pk: 3, world.asset_b.pk: 1}
    assert selectors.alarm_counts(kind="door_delay", since=T0 - timedelta(days=30), until=T0,
                                  asset_ids=[world.asset_b.pk]) == {world.asset_b.pk: 1}
    assert selectors.alarm_counts(kind="door_delay", since=T0 - timedelta(days=30), until=T0, asset_ids=[]) == {}
    readings(lift, [(T0 - timedelta(days=10), 100.0), (T0 - timedelta(days=5), 150.0), (T0 + timedelta(days=1), 170)],
             kind="running_hours")
    readings(world.asset_b, [(T0 - timedelta(days=50), 9.0)], kind="running_hours")
    assert selectors.meter_values(kind="running_hours", at=T0) == {lift.pk: 150.0, world.asset_b.pk: 9.0}
    assert selectors.meter_values(kind="running_hours", at=T0 - timedelta(days=6), asset_ids=[lift.pk]) == {
        lift.pk: 100.0}
    with time_machine.travel(T0 + timedelta(days=2), tick=False):
        assert selectors.meter_values(kind="running_hours")[lift.pk] == 170.0


def test_assets_matching_over_alarm_counts_readings_and_asset_fields(world, lift):
    alarms(lift, [T0 - timedelta(days=d) for d in range(6)])  # 6 in the last 30 days
    alarms(world.asset_b, [T0 - timedelta(days=d) for d in range(5)])
    readings(lift, [(T0 - timedelta(hours=h), 70.0 + (10 - h) * 3) for h in range(10)])  # 70 → 97, +3/h
    readings(world.asset_b, [(T0 - timedelta(hours=1), 50.0)])
    c = Condition(name="c", expression="alarms.door_delay.count_30d > 5")
    assert selectors.assets_matching(c, at=T0) == {lift.pk}
    assert selectors.assets_matching("alarms.door_delay.count_30d > 5", at=T0 - timedelta(days=1)) == set()
    assert selectors.assets_matching("reading.temperature.last > 80", at=T0) == {lift.pk}
    assert selectors.assets_matching("reading.temperature.rate_per_hour > 2", at=T0) == {lift.pk}
    assert selectors.assets_matching("reading.temperature.max_7d >= 50 && reading.temperature.count_7d == 1",
                                     at=T0) == {world.asset_b.pk}
    assert selectors.assets_matching('asset.batch == "B-2020" && asset.age_years > 6', at=T0) == {lift.pk}
    assert selectors.assets_matching("asset.age_years > 7", at=T0) == set()
    # No readings of a kind: the comparison is false, not an error.
    assert selectors.assets_matching("reading.vibration.last > 1", at=T0) == set()
    assert selectors.assets_matching("alarms.door_delay.count_30d > 5", at=T0, asset_ids=[world.asset_b.pk]) == set()


def test_sql_and_in_memory_statistics_agree(world, lift):
    pairs = [(T0 - timedelta(hours=h, minutes=7 * h), 20.0 + (h * 37 % 11)) for h in range(60)]
    readings(lift, pairs)
    alarms(lift, [T0 - timedelta(hours=5 * h) for h in range(40)])
    expr = ("reading.temperature.last + reading.temperature.min_1d + reading.temperature.max_2d + "
            "reading.temperature.avg_12h + double(reading.temperature.count_1d) + reading.temperature.delta_1d + "
            "reading.temperature.rate_per_hour + reading.temperature.rate_per_hour_2d "
            "+ double(alarms.door_delay.count_3d) > 0.0")
    ref_list = variables.refs(expr)
    assert len(ref_list) == 9
    for at in (T0, T0 - timedelta(hours=13), T0 - timedelta(days=2, minutes=5)):
        computed = variables.compute(ref_list, at, [lift.pk])
        row = variables.asset_rows([lift.pk])[0]
        sql = variables.context_for(row, ref_list, computed, at)
        series = selectors._series(ref_list, at, at, [lift.pk])
        mine = {(src, kind): s for (_a, src, kind), s in series.items()}
        mem = variables.context_from_series(row, ref_list, mine, at)
        assert sql["alarms"] == mem["alarms"]
        assert sql["reading"].keys() == mem["reading"].keys()
        for k, v in sql["reading"]["temperature"].items():
            assert mem["reading"]["temperature"][k] == pytest.approx(v), k


def test_condition_validation(world):
    for bad, code in (("alarms.door_delay.count_500d > 1", "unknown_variable"),
                      ("reading.temperature.median_1d > 1", "unknown_variable"),
                      ("alarms.door_delay.count_30d >", "condition"),
                      ("alarms.door_delay.count_30d + 1", "condition"),
                      ("", "required")):
        with pytest.raises(ValidationFailed) as e:
            services.do_create_condition(actor=world.admin, data={"name": "x", "expression": bad})
        assert (e.value.problems[0].field, e.value.problems[0].code) == ("expression", code), bad
    c = services.do_create_condition(actor=world.admin, data={"name": "开门延时", "expression":
                                                              "alarms.door_delay.count_30d > 5"})
    with pytest.raises(ValidationFailed):
        services.do_create_condition(actor=world.admin, data={"name": "开门延时", "expression": "true"})
    services.do_update_condition(actor=world.admin, condition=c, data={"expression": "asset.model == \"V60\""})
    c.refresh_from_db()
    assert c.expression == 'asset.model == "V60"'


def test_backtest_counts_rising_edges_with_their_dates(world, lift):
    # Quarter: Sep–Nov 2026. Six door-delay alarms within 30 days in September (fires on the
    # 6th), quiet in October, then six again late November.
    sept = [datetime(2026, 9, d, 8, tzinfo=UTC) for d in (1, 4, 8, 12, 15, 18, 20)]
    nov = [datetime(2026, 11, d, 9, tzinfo=UTC) for d in (10, 12, 14, 16, 18, 19)]
    alarms(lift, sept + nov)
    with time_machine.travel(datetime(2026, 12, 1, tzinfo=UTC), tick=False):
        out = selectors.backtest("alarms.door_delay.count_30d > 5", start=datetime(2026, 9, 1, tzinfo=UTC),
                                 end=datetime(2026, 12, 1, tzinfo=UTC), asset_ids=[lift.pk, world.asset_b.pk])
    assert out["fired"] == 2
    assert [f["at"] for f in out["firings"]] == [datetime(2026, 9, 18, 8, tzinfo=UTC),
                                                  datetime(2026, 11, 19, 9, tzinfo=UTC)]
    assert out["step_hours"] == 1


def test_backtest_over_the_api(world, lift):
    alarms(lift, [datetime(2026, 11, d, 9, tzinfo=UTC) for d in (10, 12, 14, 16, 18, 19)])
    api = world.api(world.manager)
    with time_machine.travel(datetime(2026, 12, 1, tzinfo=UTC), tick=False):
        r = api.post("/api/v1/telemetry/backtest",
                     {"expression": "alarms.door_delay.count_30d > 5", "assets": ["SN-A-1"]})
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["fired"] == 1 and body["firings"][0]["asset"] == "SN-A-1"
    assert body["firings"][0]["at"].startswith("2026-11-19T09:00")
    r = api.post("/api/v1/telemetry/backtest", {"expression": "alarms.x.count_1y > 1", "assets": ["SN-A-1"]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "expression"


def test_ten_thousand_assets_in_a_few_queries(world, django_assert_max_num_queries):
    Asset.objects.bulk_create([Asset(customer=world.org_a, name=f"梯{i}", serial_number=f"EL-{i:05d}",
                                     model="GX" if i % 2 else "HX", install_date=date(2019, 1, 1))
                               for i in range(10_000)])
    ids = list(Asset.objects.filter(serial_number__startswith="EL-").values_list("pk", flat=True)[:300])
    rows = []
    for n, aid in enumerate(ids):
        for d in range(6 if n % 3 == 0 else 2):
            rows.append(AlarmEvent(asset_id=aid, kind="door_delay", at=T0 - timedelta(days=d), received_at=T0))
            rows.append(Reading(asset_id=aid, kind="temperature", at=T0 - timedelta(hours=d), value=70 + n % 20,
                                received_at=T0))
    AlarmEvent.objects.bulk_create(rows[::2])
    Reading.objects.bulk_create(rows[1::2])
    expr = ('alarms.door_delay.count_30d > 5 && asset.model == "GX" && asset.age_years > 5 '
            "|| reading.temperature.last > 88 || reading.temperature.rate_per_hour > 100")
    with django_assert_max_num_queries(6):
        hit = selectors.assets_matching(expr, at=T0)
    expected = {aid for n, aid in enumerate(ids) if n % 3 == 0} & set(
        Asset.objects.filter(model="GX").values_list("pk", flat=True)) | {
        aid for n, aid in enumerate(ids) if 70 + n % 20 > 88}
    assert hit == expected
