"""Use cases: what astguard does, called by the telephony adapters and the surfaces.

Each service takes its store and its clock from the composition root and returns typed
results; the pure rules it applies live in astguard.policy.
"""
