"""Static checks of the collection that need no AWS: ansible-lint (production profile), the rendered
CloudFormation templates through cfn-lint, and the plugin documentation through ansible-doc."""

import glob
import json
import os
import subprocess

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV_BIN = os.path.join(ROOT, ".venv", "bin")
COLLECTION = "mlops.sagemaker_monitoring"
REGION = "us-east-1"


def plugins(kind):
    return sorted(os.path.splitext(os.path.basename(path))[0]
                  for path in glob.glob(os.path.join(ROOT, "plugins", kind, "*.py"))
                  if not os.path.basename(path).startswith("_"))


MODULES = plugins("modules")
FILTERS = plugins("filter")

pytestmark = pytest.mark.integration


def tool(name):
    return os.path.join(VENV_BIN, name)


def tool_env(**extra):
    """The environment of a child tool: the repository's ansible.cfg, the venv first on PATH, no colours,
    and no AWS connection settings at all (none of these checks may reach AWS)."""
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith("AWS_"))
    env.update({
        "PATH": VENV_BIN + os.pathsep + env.get("PATH", ""),
        "ANSIBLE_CONFIG": os.path.join(ROOT, "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "NO_COLOR": "1",
    })
    env.update(extra)
    return env


def run(command, timeout=300, merge_stderr=True, **env):
    return subprocess.run(command, cwd=ROOT, env=tool_env(**env), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
                          universal_newlines=True, timeout=timeout)


# --- ansible-lint -------------------------------------------------------------------------------------------

def test_ansible_lint_production_profile():
    result = run([tool("ansible-lint"), "--offline", "--profile", "production", "--nocolor"])
    assert result.returncode == 0, result.stdout
    assert "Profile 'production' was required, and it passed" in result.stdout, result.stdout


# --- rendered templates through cfn-lint ----------------------------------------------------------------------

USER_TOPICS = {"critical": "arn:aws:sns:%s:123456789012:pager" % REGION,
               "warning": "arn:aws:sns:%s:123456789012:chat" % REGION}


def write_inventory(path):
    """One endpoint with three variants, OK notifications and percentile statistics; one on the user's topics."""
    os.makedirs(path)
    hosts = {
        "all": {
            "vars": {"ansible_connection": "local"},
            "hosts": {
                "triple-variant": {
                    "endpoint_monitoring_variants": [
                        {"name": "blue", "instance_type": "ml.g4dn.xlarge"},
                        {"name": "green", "instance_type": "ml.g4dn.2xlarge"},
                        {"name": "canary", "instance_type": "ml.g4dn.xlarge"}],
                    "endpoint_monitoring_ok_actions": True,
                    "endpoint_monitoring_endpoint_metrics": {
                        "ModelLatency": {"statistic": "p95", "threshold": 400},
                        "OverheadLatency": {"statistic": "p99.9"},
                    },
                    "endpoint_monitoring_tags": {"team": "lint"},
                },
                # topic mode existing: the alarms notify the user's topics, the stack holds none
                "on-user-topics": {
                    "endpoint_monitoring_variants": [{"name": "AllTraffic", "instance_type": "ml.m5.xlarge"}],
                    "endpoint_monitoring_topic_mode": "existing",
                    "endpoint_monitoring_topic_arns": USER_TOPICS,
                    "endpoint_monitoring_notify": "both",
                },
            },
        },
    }
    with open(os.path.join(path, "hosts.yml"), "w") as f:
        yaml.safe_dump(hosts, f, sort_keys=False)
    return path


# What SageMaker says of the example inventory's endpoints that it lists by name only (as scripts/demo.py creates
# them): rendering needs no AWS call, so these come from a second inventory source instead of SageMaker.
EXAMPLE_FACTS = {
    "product-recs": {"endpoint_monitoring_variants": [{"name": "AllTraffic", "instance_type": "ml.c5.2xlarge"}]},
    "fraud-scoring": {"endpoint_monitoring_variants": [{"name": "AllTraffic", "instance_type": "ml.g4dn.xlarge"}]},
}
NAMED_ONLY = sorted(EXAMPLE_FACTS)


def write_example_facts(path):
    os.makedirs(path)
    with open(os.path.join(path, "hosts.yml"), "w") as f:
        yaml.safe_dump({"all": {"hosts": EXAMPLE_FACTS}}, f, sort_keys=False)
    return path


def render_command(inventories, render_dir):
    command = [tool("ansible-playbook")]
    for inventory in inventories:
        command += ["-i", inventory]
    return command + [os.path.join(ROOT, "playbooks", "render_templates.yml"), "-e", "render_dir=%s" % render_dir]


def render(render_dir, fact_cache, *inventories):
    # A fact cache of the test's own: facts a monitoring run of this checkout cached (make demo) do not count.
    result = run(render_command(inventories, render_dir), AWS_REGION=REGION, ANSIBLE_CACHE_PLUGIN_CONNECTION=fact_cache)
    assert result.returncode == 0, result.stdout
    return result


def load(path):
    with open(path) as f:
        return json.load(f)


def alarms_of(template):
    return dict((r["Properties"]["AlarmName"], r["Properties"]) for r in template["Resources"].values()
                if r["Type"] == "AWS::CloudWatch::Alarm")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """Templates of the example inventory and of the three-variant inventory, in one directory."""
    render_dir = str(tmp_path_factory.mktemp("rendered"))
    fact_cache = str(tmp_path_factory.mktemp("fact-cache"))
    render(render_dir, fact_cache, os.path.join(ROOT, "examples", "inventory"),
           write_example_facts(str(tmp_path_factory.mktemp("inventory") / "example-facts")))
    render(render_dir, fact_cache, write_inventory(str(tmp_path_factory.mktemp("inventory") / "three-variants")))
    return render_dir


def test_render_refuses_endpoints_only_sagemaker_can_describe(tmp_path):
    """The example inventory alone: two endpoints are names only, and rendering calls no AWS (no fact cache
    either), so those two fail with a message naming them; the endpoint the inventory describes is rendered."""
    render_dir = str(tmp_path / "rendered")
    result = run(render_command([os.path.join(ROOT, "examples", "inventory")], render_dir), AWS_REGION=REGION,
                 ANSIBLE_CACHE_PLUGIN_CONNECTION=str(tmp_path / "empty-fact-cache"))
    assert result.returncode != 0, result.stdout
    for endpoint in NAMED_ONLY:
        assert ("endpoint \"%s\": endpoint_monitoring_variants: the inventory does not say what the endpoint is"
                % endpoint) in " ".join(result.stdout.split()), result.stdout
    assert os.listdir(render_dir) == ["sagemaker-monitoring-similar-items.json"]


def test_render_writes_one_template_per_endpoint(rendered):
    expected = ["sagemaker-monitoring-%s.json" % e for e in
                ("fraud-scoring", "on-user-topics", "product-recs", "similar-items", "triple-variant")]
    assert sorted(os.listdir(rendered)) == expected
    for name in expected:
        template = load(os.path.join(rendered, name))
        assert template["AWSTemplateFormatVersion"] == "2010-09-09"
        own_topic = name != "sagemaker-monitoring-on-user-topics.json"
        assert set(template["Outputs"]) >= {"DashboardUrl", "AlarmNames"} | ({"TopicArn"} if own_topic else set())
        assert ("AlarmTopic" in template["Resources"]) is own_topic
        assert sorted(template["Outputs"]["AlarmNames"]["Value"].split(",")) == sorted(alarms_of(template))


def test_render_three_variants_ok_actions_and_percentiles(rendered):
    template = load(os.path.join(rendered, "sagemaker-monitoring-triple-variant.json"))
    alarms = alarms_of(template)
    # On GPU instances: every variant-level metric of a real-time endpoint but Invocations (off by default).
    assert len(alarms) == 3 * 10
    for variant in ("blue", "green", "canary"):
        latency = alarms["sagemaker-monitoring_triple-variant_%s_ModelLatency" % variant]
        assert latency["ExtendedStatistic"] == "p95"
        assert "Statistic" not in latency
        assert latency["Threshold"] == 400000
        assert latency["Dimensions"] == [{"Name": "EndpointName", "Value": "triple-variant"},
                                         {"Name": "VariantName", "Value": variant}]
        assert alarms["sagemaker-monitoring_triple-variant_%s_OverheadLatency" % variant]["ExtendedStatistic"] == "p99.9"
        assert alarms["sagemaker-monitoring_triple-variant_%s_CPUUtilization" % variant]["Statistic"] == "Average"
        # 80 % per vCPU: 4 vCPUs on ml.g4dn.xlarge, 8 on ml.g4dn.2xlarge
        assert alarms["sagemaker-monitoring_triple-variant_%s_CPUUtilization" % variant]["Threshold"] == 80 * (8 if variant == "green" else 4)
        assert alarms["sagemaker-monitoring_triple-variant_%s_Invocation5XXErrors" % variant]["Metrics"][2]["Expression"].startswith("IF(")
    for alarm in alarms.values():
        assert alarm["OKActions"] == [{"Ref": "AlarmTopic"}]
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    # Without ok_actions (the example inventory), alarms notify on ALARM only.
    example = alarms_of(load(os.path.join(rendered, "sagemaker-monitoring-product-recs.json")))
    assert example and all(a["OKActions"] == [] and a["AlarmActions"] == [{"Ref": "AlarmTopic"}]
                           for a in example.values())


def test_render_on_user_topics_notifies_the_topic_of_each_alarms_severity(rendered):
    template = load(os.path.join(rendered, "sagemaker-monitoring-on-user-topics.json"))
    alarms = [r["Properties"] for r in template["Resources"].values()
              if r["Type"] in ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm")]
    severities = set()
    for alarm in alarms:
        severity = alarm["AlarmDescription"][1:].split("]", 1)[0]
        severities.add(severity)
        assert alarm["AlarmActions"] == [USER_TOPICS[severity]], alarm["AlarmName"]
    assert severities == {"critical", "warning"}


def test_rendered_templates_pass_cfn_lint(rendered):
    templates = sorted(glob.glob(os.path.join(rendered, "*.json")))
    assert len(templates) == 5
    result = run([tool("cfn-lint"), "--regions", REGION, "--"] + templates)
    assert result.returncode == 0, result.stdout


# --- plugin documentation ----------------------------------------------------------------------------------

def test_modules_are_found():
    # Guard for the parametrisation below: it lists plugins/modules itself, so new modules are covered too.
    assert set(MODULES) >= {"monitoring_prepare", "monitoring_plan", "monitoring_stack_diff", "monitoring_prune",
                            "fleet_dashboards", "sagemaker_dashboard", "sns_subscriptions", "dashboard_preview",
                            "alarm_backtest"}
    assert FILTERS == ["monitoring_cost", "monitoring_results", "rollout_summary", "shared_topics_outcome"]
    # the engine the role replaced is gone
    assert not set(MODULES) & {"monitoring_fleet", "monitor_fleet", "monitoring_spec", "monitoring_stack_plan",
                               "monitoring_result", "render_monitoring"}


@pytest.mark.parametrize("plugin_type,name", [("module", m) for m in MODULES] + [("filter", f) for f in FILTERS]
                         + [("role", "endpoint_monitoring")])
def test_ansible_doc_renders(plugin_type, name):
    fqcn = "%s.%s" % (COLLECTION, name)
    result = run([tool("ansible-doc"), "-t", plugin_type, fqcn], timeout=120)
    assert result.returncode == 0, result.stdout
    assert fqcn in result.stdout, result.stdout
    assert "[ERROR]" not in result.stdout and "[WARNING]" not in result.stdout, result.stdout
    # The JSON form carries the parsed documentation: options and, for modules, examples and return values.
    result = run([tool("ansible-doc"), "-t", plugin_type, "--json", fqcn], timeout=120, merge_stderr=False)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)[fqcn]
    if plugin_type == "role":
        assert doc["entry_points"]["main"]["options"]
    else:
        assert doc["doc"]["short_description"]
        assert doc["doc"]["options"]
        assert doc["examples"]
        assert doc["return"]
