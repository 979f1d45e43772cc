# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.sagemaker_monitoring
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""monitor_fleet: every endpoint of the play checked, rendered and applied by one task.

Ansible's cost is per host and per task (variables gathered, a worker process started, a result sent back);
at hundreds of endpoints that is most of a run. This action runs once: it gathers each endpoint's variables
the way a task of its own would (same precedence: role defaults, inventory, play, facts, extra vars), renders
its stack in this process, and hands the whole fleet to one monitoring_fleet module run per AWS account
setting. An endpoint with bad settings fails alone, with a message naming it and the field.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections

from ansible.plugins.action import ActionBase

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.dashboard import (
    DashboardError,
    build_fleet_dashboards,
    fleet_sections,
)
from ansible_collections.mlops.sagemaker_monitoring.plugins.plugin_utils.endpoint_render import (
    PREFIX,
    RenderError,
    fleet_request,
    read_settings,
    render_endpoint,
    role_options,
    unknown_variables,
)

FLEET_MODULE = "mlops.sagemaker_monitoring.monitoring_fleet"
# AWS connection options passed through to monitoring_fleet (module_defaults for the aws group reach them).
AWS_OPTIONS = ("access_key", "secret_key", "session_token", "profile", "region", "endpoint_url", "validate_certs",
               "aws_ca_bundle", "aws_config", "debug_botocore_endpoint_logs")

ARGS = dict(
    hosts=dict(type="list", elements="str", required=True),
    argument_specs=dict(type="path", required=True),
    template=dict(type="path", required=True),
    concurrency=dict(type="int"),
    wait_timeout=dict(type="int"),
    poll_interval=dict(type="float", default=5.0),
    **dict((name, dict(type="raw")) for name in AWS_OPTIONS)
)


def usage(spec, dashboard, own_dashboard=True):
    """What the endpoint's monitoring is billed for, small enough to keep for every endpoint of a large fleet."""
    alarms = [dict((k, a[k]) for k in ("kind", "period", "metric_count") if k in a) for a in spec["alarms"]]
    if spec["composite"]:
        alarms.append({"kind": "composite"})
    metrics = sum(len((w.get("properties") or {}).get("metrics") or []) for w in dashboard["body"]["widgets"])
    return {"alarms": alarms, "dashboards": 1 if own_dashboard else 0, "dashboard_metrics": metrics}


def fleet_entry(spec):
    return dict((k, spec[k]) for k in ("endpoint", "region", "variants", "alarms", "endpoint_metrics", "components"))


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def _host_variables(self, task_vars):
        """Yields (host name, variables) for each host, as the host's own task in this place would see them."""
        variable_manager = self._task.get_variable_manager()
        play = self._task.get_play()
        inventory = variable_manager._inventory  # no public accessor; the strategy uses the same object
        hosts_in_play = task_vars.get("ansible_play_hosts")
        hosts_all = task_vars.get("ansible_play_hosts_all")
        for name in self._task.args["hosts"]:
            host = inventory.get_host(name)
            if host is None:
                yield name, None
                continue
            yield name, variable_manager.get_vars(play=play, host=host, task=self._task, _hosts=hosts_in_play,
                                                  _hosts_all=hosts_all)

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=ARGS)
        options = role_options(args["argument_specs"])

        per_host = collections.OrderedDict()
        renders = {}
        groups = collections.OrderedDict()  # (profile, endpoint_url) -> requests
        boards = collections.OrderedDict()  # (profile, endpoint_url) -> {(region, name): {"sections", "drop"}}
        concurrency, wait_timeout = [], []
        for host, variables in self._host_variables(task_vars):
            if variables is None:
                per_host[host] = {"endpoint": host, "status": "failed", "error": "host %r is not in the inventory" % host}
                continue
            self._templar.available_variables = variables
            try:
                settings = read_settings(self._templar.template, variables, options)
                rendered = None
                if settings[PREFIX + "state"] == "present":
                    rendered = render_endpoint(settings, unknown_variables(variables, options), args["template"],
                                               parse=False)
            except RenderError as e:
                per_host[host] = {"endpoint": e.endpoint if e.endpoint != "?" else host, "status": "failed",
                                  "error": str(e)}
                continue
            endpoint = settings[PREFIX + "endpoint_name"]
            request = fleet_request(settings, rendered)
            if endpoint in renders:
                per_host[host] = {"endpoint": endpoint, "status": "failed", "error": "endpoint %r: "
                                  "endpoint_monitoring_endpoint_name: also the endpoint of host %r"
                                  % (endpoint, renders[endpoint]["host"])}
                continue
            mode = settings[PREFIX + "dashboard"]
            renders[endpoint] = {"host": host}
            if rendered:
                renders[endpoint].update(usage=usage(rendered["spec"], rendered["dashboard"], mode != "fleet"),
                                         fleet_entry=fleet_entry(rendered["spec"]))
            per_host[host] = None
            concurrency.append(settings[PREFIX + "concurrency"])
            wait_timeout.append(settings[PREFIX + "wait_timeout"])
            key = (settings[PREFIX + "aws_profile"], settings[PREFIX + "aws_endpoint_url"])
            groups.setdefault(key, []).append(request)
            board = boards.setdefault(key, collections.OrderedDict()).setdefault(
                (request["region"], "%s-%s" % (settings[PREFIX + "fleet_dashboard_name"], request["region"])),
                {"sections": [], "drop": []})
            if rendered and mode in ("fleet", "both"):
                try:
                    board["sections"].extend(fleet_sections([renders[endpoint]["fleet_entry"]]))
                except DashboardError as e:
                    per_host[host] = {"endpoint": endpoint, "status": "failed", "error": "endpoint %r: "
                                      "endpoint_monitoring_dashboard: %s" % (endpoint, e)}
                    groups[key].pop()
                    continue
            else:
                board["drop"].append(endpoint)
        self._templar.available_variables = task_vars

        endpoints = {}
        dashboards = {}
        diffs = []
        warnings = []
        for (profile, endpoint_url), requests in groups.items():
            module_args = dict((k, args[k]) for k in AWS_OPTIONS if args.get(k) not in (None, ""))
            if profile:
                module_args["profile"] = profile
            if endpoint_url:
                module_args["endpoint_url"] = endpoint_url
            module_args.setdefault("region", requests[0]["region"])
            # The endpoints share one run: the most careful concurrency and the longest wait any of them asks for.
            module_args.update(endpoints=requests, concurrency=args["concurrency"] or min(concurrency),
                               wait_timeout=args["wait_timeout"] or max(wait_timeout),
                               poll_interval=args["poll_interval"], fleet_dashboards=[
                                   {"region": region, "name": name, "sections": board["sections"],
                                    "drop": board["drop"]}
                                   for (region, name), board in boards.get((profile, endpoint_url), {}).items()])
            applied = self._execute_module(module_name=FLEET_MODULE, module_args=module_args, task_vars=task_vars)
            warnings.extend(applied.get("warnings") or [])
            if applied.get("failed") and not applied.get("endpoints"):
                # A crash of the module (a bug) says why in its last traceback line; keep it in every message.
                detail = (applied.get("exception") or applied.get("module_stderr") or "").strip().splitlines()
                message = "%s%s" % (applied.get("msg") or "monitoring_fleet failed",
                                    ": %s" % detail[-1] if detail else "")
                for request in requests:
                    endpoints[request["endpoint"]] = {
                        "endpoint": request["endpoint"], "region": request["region"],
                        "stack_name": request["stack_name"], "status": "failed",
                        "error": "endpoint %r: %s" % (request["endpoint"], message)}
                continue
            endpoints.update(applied.get("endpoints") or {})
            dashboards.update(applied.get("fleet_dashboards") or {})
            if (applied.get("diff") or {}).get("prepared"):
                diffs.append(applied["diff"]["prepared"])

        endpoint_of_host = dict((r["host"], e) for e, r in renders.items())
        for host, outcome in per_host.items():
            if outcome is None:
                endpoint = endpoint_of_host[host]
                outcome = dict(endpoints.get(endpoint) or {"endpoint": endpoint, "status": "failed",
                                                           "error": "endpoint %r: no result" % endpoint})
            outcome["check_mode"] = bool(self._play_context.check_mode)
            per_host[host] = outcome

        priced = [r for r in renders.values() if "usage" in r]
        try:
            layout = [dict((k, d[k]) for k in ("name", "endpoints", "widgets", "metrics"))
                      for d in build_fleet_dashboards([r["fleet_entry"] for r in priced])]
        except DashboardError as e:
            layout = None
            warnings.append("no fleet dashboard layout to price: %s" % e)
        result.update(changed=any(r["status"] == "changed" for r in per_host.values()), hosts=dict(per_host),
                      check_mode=bool(self._play_context.check_mode),
                      usage=dict((endpoint, r["usage"]) for endpoint, r in renders.items() if "usage" in r),
                      fleet_dashboard_layout=layout, fleet_dashboards=dashboards)
        for name, board in sorted(dashboards.items()):
            if board.get("status") == "failed":
                warnings.append(board["error"])
        if diffs:
            result["diff"] = {"prepared": "\n".join(diffs)}
        if warnings:
            result["warnings"] = warnings
        return result
