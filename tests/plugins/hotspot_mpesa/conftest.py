"""Fixtures of the M-Pesa tests; the rig itself is in _mpesa_rig (importable by the tests)."""

from _mpesa_rig import clock, rig, rigs

__all__ = ["clock", "rig", "rigs"]
