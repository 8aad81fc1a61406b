"""Feeds: one subpackage per source kind turning raw signals into event records, and the store sink."""
