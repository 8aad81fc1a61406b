"""The citizens' field reports page, ``/reports311/`` (its figures so far; the page is still to come).

Not ``dashboards/reports``: that package is the scheduled incident reports.
"""
