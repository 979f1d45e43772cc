"""The docs' table of default alarms, made from the catalog (test_readme checks that
docs/docsite/rst/metrics_and_thresholds.rst holds it): an RST csv-table, one line per metric."""

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils import catalog

PUBLISHED_BY = [
    ("real-time", {"type": "realtime"}, {"gpus": 0}),
    ("GPU", {"type": "realtime"}, {"gpus": 1}),
    ("serverless", {"type": "serverless"}, {"serverless": {"provisioned_concurrency": 0}}),
    ("provisioned", {"type": "serverless"}, {"serverless": {"provisioned_concurrency": 1}}),
    ("async", {"type": "async"}, {"gpus": 0}),
    ("multi-model", {"type": "realtime", "multi_model": True}, {"gpus": 0}),
    ("components", {"type": "realtime", "inference_components": ["c"]}, {"gpus": 0}),
]


def _published(metric):
    names = [label for label, endpoint, variant in PUBLISHED_BY
             if metric.published(dict({"multi_model": False, "inference_components": []}, **endpoint), variant)]
    if names[:2] == ["real-time", "GPU"] and "GPU" in names:
        names.remove("GPU")
    if "serverless" in names and "provisioned" in names:
        names.remove("provisioned")
    return ", ".join(names)


HEADER = ("metric", "published by", "statistic", "alarm when", "period x evaluations", "missing data")


def _csv(cells):
    return ", ".join('"%s"' % str(cell).replace('"', '""') for cell in cells)


def rows():
    lines = [".. csv-table::", "   :header: " + _csv(HEADER), ""]
    for metric in catalog.METRICS.values():
        d = metric.defaults
        units = catalog.SCALE_UNITS.get(metric.scale, "")
        when = "%s %s%s" % (catalog.COMPARISONS[d["comparison"]], d["threshold"], " " + units if units else "")
        if metric.scale == catalog.SCALE_ERROR_RATE:
            when += " (at least %d requests)" % d["min_invocations"]
        if d["datapoints_to_alarm"] != d["evaluation_periods"]:
            when += ", %d of %d" % (d["datapoints_to_alarm"], d["evaluation_periods"])
        if not d["enabled"]:
            when += ", off by default"
        stat = "rate (metric math)" if metric.scale == catalog.SCALE_ERROR_RATE else d["statistic"]
        scope = {"endpoint": " (per endpoint)", "component": " (per component)"}.get(metric.dims, "")
        lines.append("   " + _csv((metric.name + scope, _published(metric), stat, when,
                                      "%d s x %d" % (d["period"], d["evaluation_periods"]), d["treat_missing_data"])))
    return lines
