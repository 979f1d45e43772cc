# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.sagemaker_monitoring
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading metric history from CloudWatch, shared by the dashboard preview and the alarm backtest."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def metric_data_pages(client, queries, start, end):
    """Every answer (page) of one GetMetricData request, oldest datapoints first.

    A hand-written loop rather than boto3's paginator, so each call goes through the client's retry
    decorator (aws_retry=True) like every other call of the collection.
    """
    token = None
    while True:
        kwargs = dict(MetricDataQueries=queries, StartTime=start, EndTime=end, ScanBy="TimestampAscending")
        if token:
            kwargs["NextToken"] = token
        answer = client.get_metric_data(aws_retry=True, **kwargs)
        yield answer
        token = answer.get("NextToken")
        if not token:
            return
