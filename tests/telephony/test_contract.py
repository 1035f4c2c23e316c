"""The shipped dialplan uses exactly the names telephony/contract.py defines (issue 13, item 6),
and astguard's adapters answer on them."""

from __future__ import annotations

import re

import pytest

from astguard.install.kit import data_path, render_trunk
from astguard.telephony import contract
from astguard.telephony.fastagi import ContactsAgi, HardenedFastAGI, InboundAgi, OutboundAgi
from astguard.telephony.outbound_recording import OutboundRecordingAgi

DIALPLAN = data_path("asterisk/astguard.conf").read_text()
FEATURES = data_path("asterisk/astguard-features.conf").read_text()
SHIPPED = DIALPLAN + FEATURES


def _code(text: str) -> str:
    """The configuration without its comments (comments may name anything)."""
    return "\n".join(line.split(";", 1)[0] for line in text.splitlines())


def test_the_dialplan_uses_exactly_the_contracts_variables():
    used = set(re.findall(r"\bASTGUARD_[A-Z_]+", _code(SHIPPED) + render_trunk("trunk")))
    assert used == contract.DIALPLAN_VARIABLES


def test_the_verdict_is_cut_into_the_contracts_fields_in_order():
    cuts = re.findall(r"Set\(((?:__)?ASTGUARD_[A-Z_]+)=\$\{CUT\((\w+),(.),(\d)\)\}\)", DIALPLAN)
    assert {(variable, result, sep) for variable, result, sep, _ in cuts} == {
        (variable, contract.RESULT_VARIABLE, contract.RESULT_SEPARATOR)
        for _, variable in contract.RESULT_FIELDS}
    assert sorted((int(n), variable) for variable, _, _, n in cuts) == [
        (i, variable) for i, (_, variable) in enumerate(contract.RESULT_FIELDS, 1)]
    assert f"Set({contract.RESULT_VARIABLE}=)" in DIALPLAN  # cleared before every decision


def test_the_result_value_is_what_the_dialplan_cuts():
    value = contract.result_value(
        verdict="allow", decision_id="d-1", cause="", prompt="", destination="+33 6|12",
        reasons=["A", "B"], caller_id="+33162123456;x", token="d-1.17.ab|c;d")
    cut = dict(zip((name for name, _ in contract.RESULT_FIELDS),
                   value.split(contract.RESULT_SEPARATOR), strict=True))
    assert cut == {"verdict": "allow", "decision_id": "d-1", "cause": "", "prompt": "",
                   "destination": "+33612", "reasons": "A,B", "caller_id": "+33162123456",
                   "token": "d-1.17.abcd"}
    # The token lands where the trunk's channel inherits it, and /reuse filters it alike.
    assert dict(contract.RESULT_FIELDS)["token"] == contract.INHERITED_TOKEN_VARIABLE
    assert "FILTER(-.0-9A-Za-z,${ASTGUARD_TOKEN})" in DIALPLAN
    assert contract.NOT_TOKEN.pattern == "[^-.0-9A-Za-z]"


def test_the_arguments_travel_in_the_contracts_order_and_filters():
    (args,) = re.findall(rf"Set\({contract.ARGS_VARIABLE}=(.*)\)$", DIALPLAN, re.M)
    parts = re.findall(r"\$\{FILTER\(([^,]+),\$\{(\w+)\}\)\}", args)
    assert [variable for _, variable in parts] == ["ARG1", *contract.ARGUMENT_VARIABLES]
    assert [chars for chars, _ in parts][:3] == [contract.NUMBER_CHARS, contract.NAME_CHARS,
                                                contract.NAME_CHARS]
    assert len(contract.CALL_ARGUMENTS) == len(parts)
    # Then the contract's version: the dialplan takes the token from the verdict.
    assert args.endswith(f",{contract.DIALPLAN_CONTRACT}")
    assert contract.dialplan_contract(["n", "e", "c", "m", "d", "2"]) == 2
    assert contract.dialplan_contract(["n", "e", "c", "m", "d"]) == 1  # an older dialplan
    assert f"PJSIP_HEADER(read,{contract.CAMPAIGN_HEADER})" in DIALPLAN


@pytest.mark.parametrize(("chars", "pattern"), [
    (contract.NUMBER_CHARS, contract.NOT_NUMBER), (contract.NAME_CHARS, contract.NOT_NAME)])
def test_astguard_filters_as_the_dialplan_filters(chars, pattern):
    assert pattern.pattern == f"[^{chars.replace('0123456789', '0-9')}]"


def test_stasis_entries_and_agi_routes():
    assert set(re.findall(rf"Stasis\({contract.DEFAULT_APP},(\w+)", DIALPLAN)) == \
        set(contract.ENTRIES)
    assert set(re.findall(r"AGI\(agi://127\.0\.0\.1:4573/([-\w]+)", SHIPPED)) == \
        set(contract.AGI_ROUTES)
    assert f"[{contract.PREDIAL_CONTEXT}]" in DIALPLAN
    assert f"U({contract.OUTBOUND_RECORD_CONTEXT}^" in DIALPLAN


async def test_the_fastagi_server_answers_on_every_route_of_the_contract():
    app = HardenedFastAGI(read_timeout=1.0)
    OutboundAgi(None, None).install(app)  # type: ignore[arg-type]
    ContactsAgi(None, None).install(app)  # type: ignore[arg-type]
    InboundAgi(None).install(app)  # type: ignore[arg-type]
    OutboundRecordingAgi(None, None, None).install(app)  # type: ignore[arg-type]
    assert sorted(app._route) == sorted(contract.AGI_ROUTES)


def test_in_call_features():
    assert re.findall(r"^([-\w]+) =>", FEATURES, re.M) == list(contract.FEATURES)
    assert f"Set(DYNAMIC_FEATURES={contract.PRESENT_FEATURES})" in DIALPLAN
    assert contract.OUTBOUND_AGENT_FEATURES.split("#") == list(contract.FEATURES)


def test_inherited_variables():
    assert contract.INHERITED_TOKEN_VARIABLE == "__" + contract.TOKEN_VARIABLE
    assert contract.INHERITED_INBOUND_CALL_VARIABLE == "__" + contract.INBOUND_CALL_VARIABLE


def test_codes_astguard_does_not_answer_are_kept_where_kept_codes_reads_them():
    """[astguard-feature] and [astguard-code] fall back on [astguard-keep-code], which writes
    the contract's family and fields through [astguard-keep-store] (issue 14)."""
    code = _code(SHIPPED)
    for kind in ("refusal", "opposition"):
        assert f"Gosub({contract.FEATURE_CONTEXT},s,1({kind}))" in code
    assert code.count(f"Gosub({contract.KEEP_CODE_CONTEXT},s,1(") == 2
    assert f"@{contract.KEEP_STORE_CONTEXT},app,Hangup" in code
    (written,) = re.findall(r"Set\(DB\(([-\w]+)/\$\{EXTEN\}\)=(.*)\)$", code, re.M)
    assert written[0] == contract.KEPT_CODES_FAMILY
    assert f"DB_EXISTS({contract.KEPT_CODES_FAMILY}/" in code
    # The value: the version, the extension's fields after the epoch, then the epoch.
    assert written[1] == (f"{contract.KEPT_CODE_VERSION}|${{REPLACE(ASTGUARD_KEPT,*,|)}}|"
                          "${CUT(EXTEN,*,1)}")
    (key,) = re.findall(r"Set\(ASTGUARD_KEPT=(\$\{EPOCH\}\*.*)\)$", code, re.M)
    assert [f.strip("${}") for f in key.split("*")] == ["EPOCH", "ARG1", "ARG2", "ARG3",
                                                        "ARG4"]
    assert contract.KEPT_CODE_FIELDS == ("version", "kind", "decision_id", "endpoint", "days",
                                         "epoch")
