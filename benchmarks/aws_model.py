#!/usr/bin/env python3
"""How long a fleet rollout takes on real AWS, and how many forks to run it with: an analytic model.

    .venv/bin/python benchmarks/aws_model.py                      # N = 1,000, the assumptions below
    .venv/bin/python benchmarks/aws_model.py -n 1000 --alarms 11 --stack-seconds 60 --forks 5,10,16,20,30

No machine here reaches AWS, and the emulators finish a stack in a fraction of a second, so the rollout time on
AWS is computed, from these assumptions (each one a parameter; see ../shared/aws-limits.md for the sources):

  stack_s    a stack operation takes this long on AWS when nothing is throttled (not published: 60 s assumed; the
             SNS topic policy alone retries every 5 s while CloudWatch's principal is not found)
  alarms     alarms per stack: each is one PutMetricAlarm / PutCompositeAlarm that CloudFormation makes on our
             behalf (9 for the benchmark's endpoint, ml.m5.xlarge with the default alarm set: 8 metric alarms and
             the composite health alarm; aws-limits.md's example has 11)
  quota      PutMetricAlarm and PutCompositeAlarm: 3 per second per region (CloudWatch's default quota), taken as
             one budget with no burst. CloudFormation retries a throttled alarm, so the stack takes longer and no
             error reaches the user
  forks      Ansible forks: the role's `amazon.aws.cloudformation` task holds one stack per fork until the stack
             is done
  poll_s     amazon.aws.cloudformation looks at the stack every 5 s (its wait loop), so it sees the end up to 5 s
             late
  task_s     seconds per endpoint in the stack task outside CloudFormation's own time (module start-up, its
             DescribeStacks and CreateStack calls, its exit), measured on the emulator
  before_s   seconds before the first stack write: the role's tasks before the stack task run for every endpoint
             first (Ansible's linear strategy), measured on the emulator per endpoint
  after_s    seconds after the last stack: the confirmation listing and the summary

The region's alarm budget is a queue served at `quota` alarms a second, first come first served. A stack written
at time w with a alarms ends at max(w + stack_s, the release of its last alarm); the fork sees it at its next
poll. The model simulates that queue exactly (the same rules the real-clock benchmark's proxy applies,
tests/support/aws_proxy.py StackClock), and gives:

  floor      alarms / quota: N x alarms / 3 s. No schedule is faster, however parallel;
  T(forks)   the time of the stack phase and of the whole run at each number of forks;
  forks      the recommendation: the fewest forks whose stack phase is within 5 % of what unlimited forks give.
             About quota x (stack_s + poll_s / 2 + task_s) / alarms stacks in flight keep the budget busy; more
             forks only hold more stacks waiting for alarm slots (and poll CloudFormation more often, whose API
             rates are not published: field reports see throttling at 10 parallel stack updates, retried).
"""

import argparse
import json
import math
import sys

DEFAULTS = {
    "endpoints": 1000,
    "alarms": 9,
    "stack_s": 60.0,
    "quota": 3.0,
    "poll_s": 5.0,
    "task_s": 1.5,
    "before_per_endpoint_s": 0.2,
    "after_s": 5.0,
}
FORKS_SHOWN = (5, 10, 16, 20, 30, 50)
WITHIN = 1.05  # the recommended forks reach this share of the unlimited-forks stack phase


def floor_seconds(endpoints, alarms, quota=3.0):
    """The quota floor: every alarm of the fleet through a region's PutMetricAlarm budget."""
    return endpoints * alarms / float(quota)


def stack_phase(endpoints, alarms, stack_s, forks, quota=3.0, poll_s=5.0, task_s=1.5):
    """Seconds from the first stack task to the last stack seen done, with `forks` stacks at most in flight.

    Each fork: task_s / 2 to start the module and write the stack; the stack ends at max(write + stack_s, its
    last alarm released by the region's queue); the module sees it at its first poll at or after the end (polls
    at write + 0, poll_s, 2 poll_s, ...), then task_s / 2 to report; then the fork takes the next endpoint."""
    free = [0.0] * max(1, min(forks, endpoints))  # when each fork is free again
    budget = 0.0  # when the alarms booked so far are all released
    last = 0.0
    for _ in range(endpoints):
        i = min(range(len(free)), key=free.__getitem__)
        written = free[i] + task_s / 2.0
        budget = max(budget, written) + alarms / float(quota)
        ready = max(written + stack_s, budget)
        seen = written + (math.ceil((ready - written) / poll_s - 1e-9) * poll_s if poll_s else ready - written)
        free[i] = seen + task_s / 2.0
        last = max(last, free[i])
    return last


def run_seconds(endpoints, alarms, stack_s, forks, quota=3.0, poll_s=5.0, task_s=1.5, before_per_endpoint_s=0.2,
                after_s=5.0):
    """The whole run: the tasks before the stack task (every endpoint), the stack phase, the confirmation."""
    return (endpoints * before_per_endpoint_s + stack_phase(endpoints, alarms, stack_s, forks, quota, poll_s, task_s)
            + after_s)


def recommend_forks(endpoints, alarms, stack_s, quota=3.0, poll_s=5.0, task_s=1.5, within=WITHIN):
    """The fewest forks whose stack phase is within `within` of unlimited forks' (one fork per endpoint), and never
    fewer than keep the alarm quota busy (knee_forks): near the knee, the model's fixed task time hides the idle
    quota that a busy controller's slower module starts add between one stack and the next (measured: forks 10
    at N = 30, 5 % over the model's stack phase)."""
    best = stack_phase(endpoints, alarms, stack_s, endpoints, quota, poll_s, task_s)
    low, high = 1, endpoints
    while low < high:  # the stack phase does not grow with forks: bisect
        middle = (low + high) // 2
        if stack_phase(endpoints, alarms, stack_s, middle, quota, poll_s, task_s) <= within * best:
            high = middle
        else:
            low = middle + 1
    return min(endpoints, max(low, knee_forks(alarms, stack_s, quota, poll_s, task_s)))


def knee_forks(alarms, stack_s, quota=3.0, poll_s=5.0, task_s=1.5):
    """Stacks in flight that keep the alarm budget busy: quota x (time a fork holds a stack) / alarms."""
    return int(math.ceil(quota * (stack_s + poll_s / 2.0 + task_s) / float(alarms)))


def model(endpoints=DEFAULTS["endpoints"], alarms=DEFAULTS["alarms"], stack_s=DEFAULTS["stack_s"],
          quota=DEFAULTS["quota"], poll_s=DEFAULTS["poll_s"], task_s=DEFAULTS["task_s"],
          before_per_endpoint_s=DEFAULTS["before_per_endpoint_s"], after_s=DEFAULTS["after_s"], forks=FORKS_SHOWN):
    """Everything the README shows: assumptions, floor, times per forks, recommendation."""
    recommended = recommend_forks(endpoints, alarms, stack_s, quota, poll_s, task_s)
    shown = sorted(set(list(forks) + [recommended]))
    floor = floor_seconds(endpoints, alarms, quota)
    rows = []
    for f in shown:
        phase = stack_phase(endpoints, alarms, stack_s, f, quota, poll_s, task_s)
        total = run_seconds(endpoints, alarms, stack_s, f, quota, poll_s, task_s, before_per_endpoint_s, after_s)
        rows.append({"forks": f, "stack_phase_s": round(phase, 1), "run_s": round(total, 1),
                     "run_vs_floor": round(total / floor, 3) if floor else None,
                     "stack_phase_vs_floor": round(phase / floor, 3) if floor else None})
    return {
        "assumptions": {"endpoints": endpoints, "alarms_per_stack": alarms, "stack_s": stack_s,
                        "quota_alarms_per_s": quota, "poll_s": poll_s, "task_s": task_s,
                        "before_per_endpoint_s": before_per_endpoint_s, "after_s": after_s},
        "floor_s": round(floor, 1),
        "knee_forks": knee_forks(alarms, stack_s, quota, poll_s, task_s),
        "recommended_forks": recommended,
        "rows": rows,
    }


def minutes(seconds):
    return "%.0f min" % (seconds / 60.0) if seconds >= 600 else "%.0f s" % seconds


def markdown(result):
    a = result["assumptions"]
    lines = [
        "Rollout of N = {n:,} endpoints on AWS (model): {alarms} alarms per stack, a stack {stack:g} s when nothing "
        "is throttled, PutMetricAlarm {quota:g}/s per region, the stack task polling every {poll:g} s and "
        "{task:g} s of its own per endpoint, {before:g} s per endpoint before the first stack write, {after:g} s "
        "after the last.".format(n=a["endpoints"], alarms=a["alarms_per_stack"], stack=a["stack_s"],
                                  quota=a["quota_alarms_per_s"], poll=a["poll_s"], task=a["task_s"],
                                  before=a["before_per_endpoint_s"], after=a["after_s"]),
        "",
        "Quota floor: {n:,} x {alarms} alarms / {quota:g} per s = {floor:,.0f} s ({m}).".format(
            n=a["endpoints"], alarms=a["alarms_per_stack"], quota=a["quota_alarms_per_s"], floor=result["floor_s"],
            m=minutes(result["floor_s"])),
        "",
        "| forks | stack phase | whole run | whole run / floor |",
        "|---:|---:|---:|---:|",
    ]
    for row in result["rows"]:
        mark = " (recommended)" if row["forks"] == result["recommended_forks"] else ""
        lines.append("| %d%s | %s | %s | %.2f |" % (row["forks"], mark, minutes(row["stack_phase_s"]),
                                                    minutes(row["run_s"]), row["run_vs_floor"]))
    lines += ["", "Recommended forks: %d (the fewest within 5 %% of unlimited forks, and not fewer than the %d "
                  "stacks in flight that keep the alarm quota busy: quota x (stack time + half a poll + task time) "
                  "/ alarms)."
              % (result["recommended_forks"], result["knee_forks"])]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoints", "-n", type=int, default=DEFAULTS["endpoints"])
    parser.add_argument("--alarms", type=int, default=DEFAULTS["alarms"], help="alarms per stack")
    parser.add_argument("--stack-seconds", type=float, default=DEFAULTS["stack_s"])
    parser.add_argument("--quota", type=float, default=DEFAULTS["quota"], help="PutMetricAlarm per second per region")
    parser.add_argument("--poll-seconds", type=float, default=DEFAULTS["poll_s"])
    parser.add_argument("--task-seconds", type=float, default=DEFAULTS["task_s"])
    parser.add_argument("--before-per-endpoint", type=float, default=DEFAULTS["before_per_endpoint_s"])
    parser.add_argument("--after-seconds", type=float, default=DEFAULTS["after_s"])
    parser.add_argument("--forks", default=",".join(str(f) for f in FORKS_SHOWN), help="forks to show")
    parser.add_argument("--json", action="store_true", help="print JSON instead of markdown")
    args = parser.parse_args(argv)
    result = model(args.endpoints, args.alarms, args.stack_seconds, args.quota, args.poll_seconds, args.task_seconds,
                   args.before_per_endpoint, args.after_seconds, [int(f) for f in args.forks.split(",") if f])
    print(json.dumps(result, indent=2) if args.json else markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
