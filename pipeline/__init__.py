"""Claim-and-stance classification of foreign-policy statements, sentence by sentence."""

__version__ = "0.1.0"
