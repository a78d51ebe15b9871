"""How many concurrent viewers a stack carries, and what it costs: the capacity model.

    figures.py  the measured figures it uses, read from the benchmarks' reference files
                (bench/reference/<stage>.json, written by `make bench-reference` only)
    profile.py  a viewer's traffic: the measured profile, with the stack's overrides
    limits.py   AWS's per-unit limits, each with its source
    prices.py   the price table (prices.json: list prices, its date, a source per line)
    model.py    what N viewers need of each stage in each region, beside the stack's settings
    cost.py     the monthly cost per region at list prices
    report.py   the table and the JSON of `python -m runtime.ops capacity`

The program refuses a stack whose settings cannot carry its declared peak
(``capacity.peakViewers``): ``model.shortfalls`` names the stage, the need and the setting.
"""
