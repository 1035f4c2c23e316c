"""Use cases: what surfaces and telephony adapters call; each holds the clock and the store."""
