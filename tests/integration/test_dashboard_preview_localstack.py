"""The dashboard_preview module against LocalStack: real metric data (GetMetricData) and alarm states (DescribeAlarms),
synthetic data for the lines without any, and no change on a second run; and the preview playbook, which computes
each endpoint's dashboard with the role's render.yml."""

import datetime
import json
import os
import re
import shutil
import subprocess
import tempfile
import time

import pytest
import yaml

from conftest import REGION, ROOT, RECAP, ansible_env, run_playbook, template_of, unique

pytestmark = pytest.mark.integration

VARIANT = "AllTraffic"
LATENCIES = (40000.0, 55000.0, 250000.0, 60000.0)  # microseconds, one datapoint every 10 minutes


def body_for(endpoint):
    import sys

    sys.path.insert(0, os.path.join(ROOT, ".collections"))
    from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.dashboard import build_dashboard

    def alarm(metric, threshold, statistic="Average", period=300):
        return {"name": "sagemaker-monitoring_%s_%s_%s" % (endpoint, VARIANT, metric), "kind": "metric", "metric": metric,
                "scope": "variant", "variant": VARIANT, "statistic": statistic, "period": period,
                "comparison": "GreaterThanThreshold", "threshold": threshold}

    alarms = [alarm("ModelLatency", 100000, period=60), alarm("OverheadLatency", 200000, statistic="p99"),
              alarm("CPUUtilization", 80)]
    return build_dashboard(endpoint, REGION, [VARIANT], alarms, account_id="000000000000"), alarms


def write_playbook(path, body_file, dest, result_file, end_time):
    play = [{
        "name": "Preview a dashboard from CloudWatch",
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": False,
        "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"},
        "tasks": [
            {"name": "Draw the dashboard",
             "mlops.sagemaker_monitoring.dashboard_preview": {
                 "body": "{{ lookup('ansible.builtin.file', '%s') | from_json }}" % body_file,
                 "dest": dest, "name": "preview", "source": "cloudwatch", "hours": 3, "end_time": end_time,
                 "region": REGION,
                 # LocalStack answers the percentile query (OverheadLatency p99) with HTTP 500: asked twice, not
                 # eleven times, before its line is drawn from synthetic data
                 "aws_config": {"retries": {"mode": "standard", "max_attempts": 1}}},
             "register": "preview"},
            {"name": "Keep the result for the test",
             "ansible.builtin.copy": {"content": "{{ preview | to_json }}", "dest": result_file, "mode": "0644"},
             "changed_when": False},
        ],
    }]
    with open(path, "w") as f:
        yaml.safe_dump(play, f, sort_keys=False)


def run(playbook, localstack, *args):
    completed = subprocess.run([os.path.join(ROOT, ".venv", "bin", "ansible-playbook"), "-i", "localhost,", playbook]
                               + list(args), cwd=ROOT, env=ansible_env(localstack), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, universal_newlines=True, timeout=300)
    recap = dict((m.group(1), int(m.group(3))) for m in RECAP.finditer(completed.stdout))
    return completed.returncode, recap.get("localhost"), completed.stdout


def test_preview_from_cloudwatch_draws_real_data_and_alarm_states_and_is_idempotent(localstack, tmp_path, request):
    endpoint = unique("preview")
    body, alarms = body_for(endpoint)
    cloudwatch = localstack.client("cloudwatch")
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    dimensions = [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": VARIANT}]
    cloudwatch.put_metric_data(Namespace="AWS/SageMaker", MetricData=[
        {"MetricName": "ModelLatency", "Dimensions": dimensions, "Value": value, "Unit": "Microseconds",
         "Timestamp": now - datetime.timedelta(minutes=10 * (len(LATENCIES) - i))}
        for i, value in enumerate(LATENCIES)])
    # An alarm whose state stays put: a one-day period is not evaluated while the test runs.
    latency_alarm = alarms[0]["name"]
    cloudwatch.put_metric_alarm(AlarmName=latency_alarm, Namespace="AWS/SageMaker", MetricName="ModelLatency",
                                Dimensions=dimensions, Statistic="Average", Period=86400, EvaluationPeriods=1,
                                Threshold=100000, ComparisonOperator="GreaterThanThreshold", ActionsEnabled=False)
    time.sleep(2)
    cloudwatch.set_alarm_state(AlarmName=latency_alarm, StateValue="ALARM", StateReason="test")

    # The window ends at the next 5 minutes, given explicitly so that both runs draw the same window.
    end = datetime.datetime.fromtimestamp(-(-int(now.timestamp()) // 300) * 300, tz=datetime.timezone.utc)
    end_time = end.strftime("%Y-%m-%dT%H:%M:%SZ")
    body_file, result_file = str(tmp_path / "body.json"), str(tmp_path / "result.json")
    # Not under pytest's directory: the module's results hide every occurrence of the local servers' credential
    # ("test") as a secret, paths included.
    dest = os.path.join(tempfile.mkdtemp(prefix="preview-"), "out")
    request.addfinalizer(lambda: shutil.rmtree(os.path.dirname(dest), ignore_errors=True))
    with open(body_file, "w") as f:
        json.dump(body, f)
    playbook = str(tmp_path / "preview.yml")
    write_playbook(playbook, body_file, dest, result_file, end_time)

    rc, changed, output = run(playbook, localstack, "--check")
    assert rc == 0, output
    assert changed == 1 and not os.path.exists(os.path.join(dest, "preview.png")), output

    rc, changed, output = run(playbook, localstack)
    assert rc == 0 and changed == 1, output
    with open(result_file) as f:
        result = json.load(f)
    png, html = os.path.join(dest, "preview.png"), os.path.join(dest, "preview.html")
    assert (result["png"], result["html"]) == (png, html)
    with open(png, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    from PIL import Image

    assert Image.open(png).size == (result["width"], result["height"]) == (1440, result["height"])
    assert result["end_time"] == end_time
    # ModelLatency has data; the lines without any are drawn from synthetic data.
    assert "%s: ModelLatency (Average)" % VARIANT not in " ".join(result["synthetic_lines"])
    assert any("CPUUtilization" in line for line in result["synthetic_lines"])
    assert len(result["synthetic_lines"]) == result["lines"] - 1
    assert result["alarm_states"][latency_alarm] == "ALARM"
    assert result["alarm_states"][alarms[2]["name"]] == "INSUFFICIENT_DATA"  # no such alarm
    with open(html, encoding="utf-8") as f:
        page = f.read()
    assert "ModelLatency (Average) (EndpointName=%s, VariantName=%s) - %d datapoints" % (
        endpoint, VARIANT, len(LATENCIES)) in page
    assert "%s: ALARM" % latency_alarm in page

    before = os.stat(png).st_mtime_ns
    rc, changed, output = run(playbook, localstack)
    assert rc == 0 and changed == 0, output
    assert os.stat(png).st_mtime_ns == before
    rc, changed, output = run(playbook, localstack, "--check")
    assert rc == 0 and changed == 0, output


def test_preview_playbook_draws_the_dashboards_a_run_deploys_from_the_facts_it_cached(localstack, moto, inventory,
                                                                                       tmp_path, request):
    """playbooks/preview_dashboards.yml (the role's render.yml, no AWS call to compute anything) with CloudWatch as
    the source: an endpoint the inventory describes is drawn with its real data and its deployed alarms' states; an
    endpoint the inventory names only is left out, with a message, until a monitoring run has read it from SageMaker
    (moto), then drawn from the facts that run kept in Ansible's fact cache (a GPU instance: GPU graphs)."""
    described = inventory.add("fleet", unique("drawn"))
    named = inventory.add("fleet", unique("named"), endpoint_monitoring_variants=[],
                          endpoint_monitoring_instance_type="")
    # moto lacks ListInferenceComponents (an HTML 500): one retry, then the run warns and takes none.
    inventory.group_vars("all", {"endpoint_monitoring_aws_config": {"retries": {"mode": "standard", "max_attempts": 2}}})
    sagemaker = moto.client("sagemaker")
    sagemaker.create_model(ModelName=named, ExecutionRoleArn="arn:aws:iam::123456789012:role/sagemaker",
                           PrimaryContainer={"Image": "123456789012.dkr.ecr.%s.amazonaws.com/x:1" % REGION})
    sagemaker.create_endpoint_config(EndpointConfigName=named, ProductionVariants=[{
        "VariantName": VARIANT, "ModelName": named, "InstanceType": "ml.g4dn.xlarge", "InitialInstanceCount": 1}])
    sagemaker.create_endpoint(EndpointName=named, EndpointConfigName=named)
    env = ansible_env(localstack, sagemaker=moto, fact_cache=str(tmp_path / "facts"))
    # Not under pytest's directory: results hide the local servers' credential ("test"), paths included.
    dest = tempfile.mkdtemp(prefix="preview-")
    request.addfinalizer(lambda: shutil.rmtree(dest, ignore_errors=True))

    def preview():
        return run_playbook(localstack, inventory, "preview_dashboards.yml", "-e", "preview_source=cloudwatch",
                            "-e", "preview_dir=%s" % dest, env=env)

    refused = preview()
    assert refused.rc == 0 and refused.failed(named) == 0 and refused.failed(described) == 0, refused.output
    assert ('Left out: endpoint "%s": endpoint_monitoring_variants: the inventory does not say what the endpoint is, '
            'and no monitoring run has read it from SageMaker yet' % named) in " ".join(refused.output.split())
    assert sorted(os.listdir(dest)) == [described + ".html", described + ".png"]

    monitored = run_playbook(localstack, inventory, env=env)
    assert monitored.rc == 0, monitored.output
    latency_alarm = "sagemaker-monitoring_%s_%s_ModelLatency" % (described, VARIANT)
    cloudwatch = localstack.client("cloudwatch")
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    cloudwatch.put_metric_data(Namespace="AWS/SageMaker", MetricData=[
        {"MetricName": "ModelLatency", "Value": value, "Unit": "Microseconds",
         "Dimensions": [{"Name": "EndpointName", "Value": described}, {"Name": "VariantName", "Value": VARIANT}],
         "Timestamp": now - datetime.timedelta(minutes=10 * (len(LATENCIES) - i))} for i, value in enumerate(LATENCIES)])
    cloudwatch.set_alarm_state(AlarmName=latency_alarm, StateValue="ALARM", StateReason="preview test")

    drawn = preview()
    assert drawn.rc == 0, drawn.output
    pages = {}
    for endpoint in (described, named):
        with open(os.path.join(dest, endpoint + ".png"), "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
        with open(os.path.join(dest, endpoint + ".html"), encoding="utf-8") as f:
            pages[endpoint] = f.read()
    assert "ModelLatency (Average) (EndpointName=%s, VariantName=%s) - %d datapoints" % (
        described, VARIANT, len(LATENCIES)) in pages[described]
    assert "%s: ALARM" % latency_alarm in pages[described]
    # the dashboard drawn is the one deployed: as many widgets as the stack's dashboard
    body = template_of(localstack.client("cloudformation"), "sagemaker-monitoring-" + described)["Resources"][
        "Dashboard"]["Properties"]["DashboardBody"]
    widgets = len(json.loads(body["Fn::Sub"] if isinstance(body, dict) else body)["widgets"])
    assert re.search(r"%s\.png \(%d widgets," % (re.escape(described), widgets), " ".join(drawn.output.split())), \
        drawn.output
    assert "GPUUtilization" in pages[named] and "GPUUtilization" not in pages[described]


def test_preview_playbook_on_the_example_inventory_needs_no_aws_settings(tmp_path):
    """As a newcomer runs it, `env -i PATH=... HOME=<empty> ansible-playbook playbooks/preview_dashboards.yml`: no
    AWS_* variable, no ~/.aws, the repository's ansible.cfg and example inventory, nothing listening. Synthetic data
    is the default; the region is a label (the endpoints set none: preview_region); the endpoint the inventory
    describes is drawn, those it names only are left out with a message (no monitoring run has read them)."""
    home = tmp_path / "home"
    home.mkdir()
    dest = tmp_path / "preview"
    env = {"PATH": os.path.join(ROOT, ".venv", "bin") + os.pathsep + "/usr/bin:/bin", "HOME": str(home),
           # the checkout's own fact cache may hold endpoints a former demo run read: not this test's
           "ANSIBLE_CACHE_PLUGIN_CONNECTION": str(tmp_path / "facts"), "ANSIBLE_NOCOLOR": "1"}
    completed = subprocess.run([os.path.join(ROOT, ".venv", "bin", "ansible-playbook"),
                                os.path.join(ROOT, "playbooks", "preview_dashboards.yml"),
                                "-e", "preview_dir=%s" % dest],
                               cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               universal_newlines=True, timeout=600)
    output = completed.stdout
    recap = dict((m.group(1), int(m.group(5))) for m in RECAP.finditer(output))
    assert completed.returncode == 0, output
    assert recap == {"similar-items": 0, "product-recs": 0, "fraud-scoring": 0}, output
    assert sorted(os.listdir(str(dest))) == ["similar-items.html", "similar-items.png"], output
    for named in ("product-recs", "fraud-scoring"):
        assert 'Left out: endpoint "%s": endpoint_monitoring_variants' % named in " ".join(output.split()), output
    from PIL import Image

    image = Image.open(str(dest / "similar-items.png"))
    assert image.size[0] == 1440 and image.size[1] > 400
    with open(str(dest / "similar-items.html"), encoding="utf-8") as f:
        page = f.read()
    assert "SageMaker endpoint similar-items (us-east-1)" in page  # the label region
    assert "Synthetic data" in page
