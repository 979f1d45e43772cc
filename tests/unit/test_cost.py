"""cost: monthly CloudWatch prices of alarms and dashboards, per endpoint and for the fleet (hand-computed)."""

import pytest

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils import cost
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.cost import (
    CostError,
    describe,
    endpoint_cost,
    fleet_cost,
    fleet_dashboard_count,
    merge_prices,
)


def alarms(count, **fields):
    return [dict({"name": "a%d" % i, "period": 300}, **fields) for i in range(count)]


# --------------------------------------------------------------------------------------------- one endpoint

def test_eleven_standard_alarms_and_a_dashboard_cost_4_10():
    result = endpoint_cost(alarms(11), dashboards=1)
    assert result["alarms"]["metric"] == {"count": 11, "high_resolution": 0, "billed_metrics": 11, "usd": 1.10}
    assert result["alarm_count"] == 11
    assert result["alarms_usd"] == 1.10
    assert result["dashboards_usd"] == 3.00
    assert result["total_usd"] == 4.10


def test_kind_absent_means_a_standard_metric_alarm():
    assert endpoint_cost([{"name": "x", "period": 60}], dashboards=0)["alarms"]["metric"]["usd"] == 0.10


def test_a_period_under_60_seconds_is_high_resolution():
    result = endpoint_cost(alarms(1, period=10) + alarms(1, period=30) + alarms(1, period=60), dashboards=0)
    assert result["alarms"]["metric"]["high_resolution"] == 2
    assert result["high_resolution_alarm_metrics"] == 2 and result["standard_alarm_metrics"] == 1
    assert result["alarms_usd"] == 0.30 + 0.30 + 0.10


def test_a_metric_math_alarm_costs_per_metric_its_expression_queries():
    result = endpoint_cost(alarms(2, kind="math", metric_count=2) + alarms(1, kind="math", metric_count=3, period=10),
                           dashboards=0)
    assert result["alarms"]["math"] == {"count": 3, "high_resolution": 1, "billed_metrics": 7, "usd": 1.30}
    # 2 x 2 x 0.10 + 3 x 0.30
    assert result["total_usd"] == 1.30


def test_an_anomaly_detection_alarm_costs_three_metrics():
    standard = endpoint_cost(alarms(1, kind="anomaly"), dashboards=0)
    high = endpoint_cost(alarms(1, kind="anomaly", period=10), dashboards=0)
    assert standard["alarms"]["anomaly"]["billed_metrics"] == 3
    assert (standard["total_usd"], high["total_usd"]) == (0.30, 0.90)


def test_a_composite_alarm_has_its_own_price_and_no_metrics():
    result = endpoint_cost([{"name": "health", "kind": "composite"}], dashboards=0)
    assert result["alarms"]["composite"] == {"count": 1, "high_resolution": 0, "billed_metrics": 0, "usd": 0.50}
    assert result["standard_alarm_metrics"] == 0


def test_a_mixed_endpoint_adds_up():
    # 8 standard (1 high-resolution), 2 error-rate math alarms of 2 metrics, 1 composite, 1 dashboard:
    # 7 x 0.10 + 0.30 + 4 x 0.10 + 0.50 + 3.00
    mixed = alarms(7) + alarms(1, period=10) + alarms(2, kind="math", metric_count=2) + [{"kind": "composite"}]
    assert endpoint_cost(mixed)["total_usd"] == 4.90


def test_prices_can_be_overridden():
    result = endpoint_cost(alarms(11), prices={"alarm_metric": 0.2, "dashboard": 0})
    assert result["total_usd"] == 2.20


@pytest.mark.parametrize("bad,message", [
    ([{"kind": "math"}], "metric_count"),
    ([{"kind": "math", "metric_count": 0}], "metric_count"),
    ([{"kind": "forecast"}], "kind 'forecast'"),
    (["x"], "mapping"),
])
def test_bad_alarms_are_refused(bad, message):
    with pytest.raises(CostError) as info:
        endpoint_cost(bad)
    assert message in str(info.value)


@pytest.mark.parametrize("overrides,message", [
    ({"dashbaord": 1}, "did you mean 'dashboard'"),
    ({"dashboard": -1}, "at least 0"),
    ({"dashboard": "3"}, "amount"),
    ({"free_dashboards": 1.5}, "whole number"),
    ("cheap", "mapping"),
])
def test_bad_prices_are_refused(overrides, message):
    with pytest.raises(CostError) as info:
        merge_prices(overrides)
    assert message in str(info.value)


def test_default_prices_are_the_published_ones():
    assert merge_prices() == {"alarm_metric": 0.10, "high_resolution_alarm_metric": 0.30, "composite_alarm": 0.50,
                              "dashboard": 3.00, "free_dashboards": 3, "free_dashboard_max_metrics": 50,
                              "free_alarm_metrics": 0}
    assert merge_prices({}) == cost.DEFAULT_PRICES


# --------------------------------------------------------------------------------------------- the fleet

def five_endpoints(metrics=None):
    return dict(("ep%d" % i, endpoint_cost(alarms(11), dashboard_metrics=metrics)) for i in range(5))


def test_fleet_applies_the_free_dashboards_once():
    fleet = fleet_cost(five_endpoints())
    # 5 x 1.10 alarms; 5 dashboards of which 3 free: 2 x 3.00
    assert fleet["alarms_usd"] == 5.50
    assert fleet["per_endpoint_dashboards"]["free"] == 3
    assert fleet["dashboards_usd"] == 6.00
    assert fleet["total_usd"] == 11.50
    assert fleet["fleet_dashboards"] is None and fleet["saving_usd"] is None


def test_fleet_dashboards_compared_with_one_per_endpoint():
    fleet = fleet_cost(five_endpoints(metrics=11), fleet_dashboard_count=1, fleet_dashboard_metrics=[55])
    # One fleet dashboard of 55 metrics is over the free tier's 50: 3.00.
    assert fleet["fleet_dashboards"]["usd"] == 3.00 and fleet["fleet_dashboards"]["free"] == 0
    assert fleet["per_endpoint_total_usd"] == 11.50
    assert fleet["fleet_dashboards_total_usd"] == 8.50
    assert fleet["saving_usd"] == 3.00
    assert fleet["total_usd"] == 11.50  # what is deployed: one per endpoint
    chosen = fleet_cost(five_endpoints(metrics=11), fleet_dashboard=True, fleet_dashboard_count=1,
                        fleet_dashboard_metrics=[55])
    assert chosen["total_usd"] == 8.50 and chosen["dashboards_usd"] == 3.00


def test_a_small_fleet_dashboard_can_be_free():
    fleet = fleet_cost(five_endpoints(), fleet_dashboard_count=1, fleet_dashboard_metrics=[40])
    assert fleet["fleet_dashboards"]["usd"] == 0 and fleet["saving_usd"] == 6.00


def test_per_endpoint_dashboards_over_50_metrics_are_not_free():
    fleet = fleet_cost(five_endpoints(metrics=60))
    assert fleet["per_endpoint_dashboards"]["free"] == 0 and fleet["dashboards_usd"] == 15.00


def test_free_alarm_metrics_are_applied_once_to_standard_metrics():
    fleet = fleet_cost(five_endpoints(), prices={"free_alarm_metrics": 10})
    assert fleet["free_alarm_metrics"] == 10
    assert fleet["alarms_usd"] == 4.50


def test_fleet_dashboard_needs_a_count():
    with pytest.raises(CostError):
        fleet_cost(five_endpoints(), fleet_dashboard=True)


def test_fleet_dashboard_count_within_widgets_and_metrics():
    # 7 widgets each, a header per dashboard: 71 endpoints fit 500 widgets (2500 metrics allow 227).
    assert fleet_dashboard_count(71, 7, 11, widgets_per_dashboard=1) == 1
    assert fleet_dashboard_count(72, 7, 11, widgets_per_dashboard=1) == 2
    assert fleet_dashboard_count(100, 7, 11) == 2
    # Metrics bind: 4 endpoints of 600 metrics per dashboard.
    assert fleet_dashboard_count(10, 2, 600) == 3
    assert fleet_dashboard_count(0, 7, 11) == 0
    # One number per endpoint, packed in order.
    assert fleet_dashboard_count(3, [300, 300, 100], [10, 10, 10]) == 2
    with pytest.raises(CostError):
        fleet_dashboard_count(1, 7, 2501)
    with pytest.raises(CostError):
        fleet_dashboard_count(2, [7], [1, 1])


def test_describe_prints_each_endpoint_the_total_and_the_alternative():
    costs = five_endpoints(metrics=11)
    fleet = fleet_cost(costs, fleet_dashboard_count=1, fleet_dashboard_metrics=[55])
    lines = describe(costs, fleet, fleet_layout=(36, 55))
    assert lines[0].startswith("Monthly CloudWatch cost (USD; list prices $0.10 per alarm metric")
    assert lines[1] == "  ep0      11 alarms $1.10 (11 standard) + 1 dashboard $3.00 = $4.10"
    assert len(lines) == 1 + 5 + 2
    assert lines[6] == "Fleet: 5 endpoints, 55 alarms $5.50; 5 dashboards, 3 free: $6.00; total $11.50 per month"
    assert lines[7] == ("Alternative: 1 fleet dashboard (36 widgets, 55 metrics in all) for the whole fleet instead of "
                        "one per endpoint: $3.00, 0 free (a dashboard over 50 metrics is not free); total $8.50 per "
                        "month, which saves $3.00 per month")


def test_describe_says_when_the_alternative_costs_more():
    costs = dict(list(five_endpoints().items())[:2])
    fleet = fleet_cost(costs, fleet_dashboard_count=1, fleet_dashboard_metrics=[80])
    assert describe(costs, fleet)[-1].endswith("which costs $3.00 more per month")
