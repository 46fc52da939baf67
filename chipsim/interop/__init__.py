"""Interoperability with other simulators (Brian2 cross-validation comes in a later issue)."""
