"""Scheduled incident reports for managers: shift handover, daily, weekly, and one incident on demand.

``settings`` (the ``[reports]`` section), ``periods`` (which period a job covers), ``figures`` (what
the store says of a period), ``render`` (HTML with charts as SVG, in Vietnamese or English), ``pdf``
(the same page printed by headless Chromium), ``archive`` (reports kept in the store, one per
kind, period and language), ``jobs`` (apscheduler jobs that claim a period, so two schedulers make
one report, and catch up on periods missed while down) and ``page`` (the ``/reports/`` list).
"""
