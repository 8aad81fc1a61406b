"""Feeds: one subpackage per source kind (raw signals to event records), and the store sink."""
