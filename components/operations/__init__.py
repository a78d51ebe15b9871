"""Operations: what watches the stages and what they cost, above the stages themselves.

signals.py       what each stage's alarms watch (metric, dimensions, missing data)
watch.py         the names and ARN parts CloudWatch knows a region's stages by
alerting.py      a region's alarms, topic and composite alarm
stack_health.py  the stack-wide composite, and the secondary region's state relayed
dashboards.py    the resource dashboard, stage by stage in data-path order
budgets.py       the budget, cost anomaly monitor and cost dashboard
"""
