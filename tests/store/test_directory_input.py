"""A campaign's coded values are checked before anything is written, in French."""

from __future__ import annotations

import pytest

from astguard.errors import InputError
from astguard.store.directory import Directory

pytestmark = pytest.mark.db


@pytest.mark.parametrize(("purpose", "mode", "policy", "message"), [
    ("vente", "manual", "rewrite", "finalité inconnue 'vente' : prospecting, service"),
    ("service", "robot", "rewrite", "mode de numérotation inconnu 'robot' : manual"),
    ("service", "manual", "hide", "politique de numéro présenté inconnue 'hide' : "),
])
async def test_an_unknown_coded_value_is_refused_in_french(db, purpose, mode, policy, message):
    d = Directory(db)
    await d.add_principal("di-acme", "ACME")
    with pytest.raises(InputError) as raised:
        await d.set_campaign("di-c", "di-acme", purpose, mode, "0162123456", cli_policy=policy)
    assert str(raised.value).startswith(message)
    assert "is not a valid" not in str(raised.value)
