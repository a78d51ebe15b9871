"""The local dashboard page of `make run`: the Grafana dashboards drawn from the run's InfluxDB, and the
pipeline view the resource dashboard gives on AWS.

    grafana.py   the dashboards as Grafana reads them (dashboards/influxdb/*.json): panels, grid,
                 units, targets, variables, time range and refresh
    templating.py  Grafana's variables and macros substituted into a panel's InfluxQL
    frames.py    InfluxDB's answer as Grafana's data frames; math expressions; transformations
    panels.py    one panel computed: its queries run, its expressions and transformations applied
    pipeline.py  the pipeline view: the run's snapshots, sampled into time series
    server.py    the page and its JSON, served on loopback while the run lasts
    page/        the page itself (HTML, JavaScript, CSS), drawn with plotly.js served locally
"""
