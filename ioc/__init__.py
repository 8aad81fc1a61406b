"""Core of the Intelligent Operations Centre: settings, event records, the bus and the store.

The core knows nothing of feeds, rules, alerts or pages (see DESIGN.md).
"""

__version__ = "0.1.0"
