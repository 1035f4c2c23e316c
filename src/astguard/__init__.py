"""astguard: a compliance guard for Asterisk call centres in France."""

__version__ = "0.1.0"
