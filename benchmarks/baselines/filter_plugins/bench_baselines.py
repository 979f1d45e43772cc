"""Filters of the benchmark's per-alarm baseline (benchmarks/baselines/per_alarm.yml).

amazon.aws.cloudwatch_metric_alarm takes metric-math queries in snake case (``metric_stat``, ``return_data``)
and turns them back into the API's CamelCase; the collection's spec holds them as CloudFormation writes them.
"""

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict


def metric_queries_snake(queries):
    """A list of MetricDataQuery in CloudFormation/API case -> the module's ``metrics`` option."""
    return [camel_dict_to_snake_dict(query) for query in queries or []]


class FilterModule:
    def filters(self):
        return {"metric_queries_snake": metric_queries_snake}
