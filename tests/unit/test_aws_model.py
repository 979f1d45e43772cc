"""The analytic model of a rollout on real AWS (benchmarks/aws_model.py): floor, stack phase, recommendation."""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                "benchmarks"))

import aws_model  # noqa: E402


def test_the_floor_is_every_alarm_through_the_regions_quota():
    assert aws_model.floor_seconds(1000, 11, 3.0) == pytest.approx(3666.7, abs=0.1)
    assert aws_model.floor_seconds(30, 9) == 90.0


def test_with_enough_forks_the_stack_phase_is_the_floor_plus_one_stack():
    # 30 stacks written at once: the last one's alarms are released at 90 s, seen at the next 5 s poll
    assert aws_model.stack_phase(30, 9, 30.0, forks=30, quota=3.0, poll_s=5.0, task_s=0.0) == 90.0
    # no quota in sight (1 alarm per stack): rounds of `forks` stacks of 30 s each
    assert aws_model.stack_phase(30, 1, 30.0, forks=10, quota=3.0, poll_s=5.0, task_s=0.0) == 90.0
    assert aws_model.stack_phase(30, 1, 30.0, forks=5, quota=3.0, poll_s=5.0, task_s=0.0) == 180.0
    # a stack seen late: 31 s of work is seen at the 35 s poll
    assert aws_model.stack_phase(1, 1, 31.0, forks=1, quota=3.0, poll_s=5.0, task_s=2.0) == 37.0


def test_more_forks_never_slow_the_stack_phase_and_the_recommendation_reaches_the_floor():
    times = [aws_model.stack_phase(200, 9, 60.0, f) for f in (1, 2, 5, 10, 20, 40, 200)]
    assert times == sorted(times, reverse=True)
    forks = aws_model.recommend_forks(200, 9, 60.0)
    best = aws_model.stack_phase(200, 9, 60.0, 200)
    assert aws_model.stack_phase(200, 9, 60.0, forks) <= 1.05 * best
    knee = aws_model.knee_forks(9, 60.0)  # about quota x stack time / alarms
    fewest = min(f for f in range(1, 201) if aws_model.stack_phase(200, 9, 60.0, f) <= 1.05 * best)
    assert forks == max(fewest, knee) and abs(forks - fewest) <= 3


def test_the_recommendation_keeps_the_quota_busy_where_the_fleet_is_small():
    # N = 30: the fewest forks within 5 % of unlimited (10) hold fewer stacks than keep the quota busy (12)
    assert aws_model.knee_forks(9, 30.0, task_s=1.92) == 12
    assert aws_model.recommend_forks(30, 9, 30.0, task_s=1.92) == 12
    assert aws_model.recommend_forks(5, 9, 30.0, task_s=1.92) == 5  # never more forks than endpoints


def test_model_of_the_readme_states_its_assumptions_floor_and_recommendation():
    result = aws_model.model(1000, 9, 60.0, forks=[5, 20])
    assert result["floor_s"] == 3000.0
    assert result["assumptions"]["quota_alarms_per_s"] == 3.0 and result["assumptions"]["stack_s"] == 60.0
    assert [r["forks"] for r in result["rows"]] == sorted(set([5, 20, result["recommended_forks"]]))
    assert all(r["run_vs_floor"] >= 1.0 for r in result["rows"])
    text = aws_model.markdown(result)
    assert "Quota floor: 1,000 x 9 alarms / 3 per s = 3,000 s (50 min)." in text
    assert "(recommended)" in text
    assert aws_model.main(["-n", "10", "--forks", "2,5", "--json"]) == 0
