"""The citizens' field reports page, ``/reports311/``: the map, queues, a report's photo and history,
on-time rates (``page``), from figures computed on report records (``figures``), and the photo and
staff status routes (``routes``).

Not ``dashboards/reports``: that package is the scheduled incident reports.
"""
