"""FastAGI over panoramisk 1.4, hardened.

panoramisk's own reader loops on `reader.read()` until it sees a blank line: on a connection that
closes early, read() returns b"" forever and the loop spins, stalling every other call; on a
silent one it waits forever. It also wraps sync handlers with asyncio.coroutine, which Python
3.11 no longer has. Here the request is read with a deadline and a size limit, every command
reply too, and sync handlers are accepted.

Only peers in ASTGUARD_AGI_ALLOWED_PEERS (loopback by default) are served, at most
ASTGUARD_AGI_MAX_CONNECTIONS at once; others are closed at once, logged and counted
(astguard_agi_refused_total). A request acts only on its own call (agi_binding.py).

Dialplan: AGI(agi://127.0.0.1:4573/outbound,${EXTEN},${ASTGUARD_ENDPOINT},${ASTGUARD_CAMPAIGN},
${ASTGUARD_DIAL_MODE},${ASTGUARD_DEPARTMENT}) sets ASTGUARD_RESULT as the Stasis application
does; a hangup handler calls /outcome with the decision id and the dial result.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
import ipaddress
import logging
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from panoramisk.fast_agi import Application, Request
from panoramisk.utils import parse_agi_result

from astguard.app.contacts import ContactService
from astguard.app.gate import Gate
from astguard.errors import InputError, StoreUnavailable, TelephonyError
from astguard.metrics import Metrics
from astguard.settings import DEFAULT_AGI_PEERS, IpNetwork
from astguard.values import Outcome
from astguard.telephony.agi_binding import (
    AgiRefused,
    ChannelBinding,
    check_bridged_to,
    check_endpoint,
)
from astguard.telephony import contract
from astguard.telephony.call_token import CallTokens, TokenCheck
from astguard.telephony.stasis import NOT_HANDED_OFF
from astguard.telephony.verdict import call_from_args, call_token, result_variable

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 16 * 1024


class AgiProtocolError(TelephonyError):
    pass


class TimedRequest(Request):  # type: ignore[misc]
    """panoramisk's Request with a deadline on every reply and EOF detection."""

    def __init__(self, *args: Any, timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.timeout = timeout

    async def _read_result(self) -> dict[str, Any]:
        try:
            line = await asyncio.wait_for(self.reader.readline(), self.timeout)
        except asyncio.TimeoutError:
            raise AgiProtocolError("no reply from Asterisk in time") from None
        if not line:
            raise AgiProtocolError("connection closed by Asterisk")
        return dict(parse_agi_result(line.decode(self.encoding, errors="replace").rstrip("\n")))

    @property
    def args(self) -> list[str]:
        numbered = sorted(
            (int(k.removeprefix("agi_arg_")), v) for k, v in self.headers.items()
            if k.startswith("agi_arg_") and k.removeprefix("agi_arg_").isdigit()
        )
        return [v for _, v in numbered]

    async def set_variable(self, name: str, value: str) -> None:
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        result = await self.send_command(f'SET VARIABLE {name} "{escaped}"')
        if result.get("status_code") != 200:
            raise AgiProtocolError(f"SET VARIABLE {name} refused: {result}")


Handler = Callable[[TimedRequest], Awaitable[None] | None]


class HardenedFastAGI(Application):  # type: ignore[misc]
    def __init__(self, read_timeout: float = 5.0, *,
                 allowed_peers: tuple[IpNetwork, ...] = DEFAULT_AGI_PEERS,
                 max_connections: int = 256, metrics: Metrics | None = None) -> None:
        super().__init__(loop=asyncio.get_running_loop())
        self.read_timeout = read_timeout
        self.bad_requests = 0
        self.allowed_peers = allowed_peers
        self.max_connections = max_connections
        self.active = 0
        self.refused: Counter[str] = Counter()  # why connections were closed unserved
        self._metrics = metrics

    def _refuse(self, reason: str, message: str, *args: Any) -> None:
        self.refused[reason] += 1
        if self._metrics is not None:
            self._metrics.agi_refusal(reason)
        log.warning(message, *args)

    def peer_allowed(self, peer: Any) -> bool:
        try:
            address = ipaddress.ip_address(peer[0])
        except (TypeError, ValueError, IndexError):
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        return any(address in network for network in self.allowed_peers)

    def add_route(self, path: str, endpoint: Handler) -> None:
        if not callable(endpoint):
            raise TypeError(f"FastAGI route {path!r}: handler is not callable")
        if path in self._route:
            raise ValueError(f"FastAGI route {path!r} exists already")
        self._route[path] = endpoint  # sync or async: both accepted (see _run)

    async def handler(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        if not self.peer_allowed(peer):
            self._refuse("peer", "FastAGI connection from %r refused: not in "
                         "ASTGUARD_AGI_ALLOWED_PEERS", peer)
            writer.close()
            return
        if self.active >= self.max_connections:
            # Closed unserved: Asterisk's AGI() fails and the dialplan refuses (fail closed).
            self._refuse("busy", "FastAGI connection from %r refused: %d connections open "
                         "(ASTGUARD_AGI_MAX_CONNECTIONS)", peer, self.active)
            writer.close()
            return
        self.active += 1
        try:
            headers = await self._read_headers(reader)
            script = headers.get("agi_network_script")
            route = self._route.get(script) if script else None
            if route is None:
                log.error("FastAGI from %r: no route for %r", peer, script)
                return
            request = TimedRequest(app=self, headers=headers, reader=reader, writer=writer,
                                   encoding=self.default_encoding, timeout=self.read_timeout)
            result = route(request)
            if inspect.isawaitable(result):
                await result
        except AgiRefused as exc:
            self._refuse("binding", "FastAGI request from %r refused: %s", peer, exc)
        except (AgiProtocolError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                ConnectionError, UnicodeDecodeError) as exc:
            self.bad_requests += 1
            log.warning("FastAGI from %r dropped: %s: %s", peer, type(exc).__name__, exc)
        except Exception:
            log.exception("FastAGI handler failed for %r", peer)
        finally:
            self.active -= 1
            writer.close()

    async def _read_headers(self, reader: asyncio.StreamReader) -> OrderedDict[str, str]:
        try:
            raw = await asyncio.wait_for(reader.readuntil(b"\n\n"), self.read_timeout)
        except asyncio.TimeoutError:
            raise AgiProtocolError("request not complete in time") from None
        if len(raw) > MAX_REQUEST_BYTES:
            raise AgiProtocolError("request too large")
        headers: OrderedDict[str, str] = OrderedDict()
        for line in raw.decode(self.default_encoding).splitlines():
            key, sep, value = line.partition(": ")
            if sep and key.startswith("agi_"):
                headers[key] = value
        return headers


_REUSABLE = 10_000  # allows remembered for a failover's /reuse (tokens live 300 s anyway)


class OutboundAgi:
    """The FastAGI routes: /outbound decides, /outcome attaches a call's result."""

    def __init__(self, gate: Gate, binding: ChannelBinding | None = None,
                 tokens: CallTokens | None = None) -> None:
        self._gate = gate
        self._binding = binding  # None: outcomes are not checked against the decision's channel
        self._tokens = tokens
        # The verdicts of the allows this process issued a token for, by decision id: what
        # /reuse answers (never what the channel's variables say).
        self._allowed: OrderedDict[str, str] = OrderedDict()

    def install(self, app: HardenedFastAGI) -> None:
        app.add_route(contract.ROUTE_OUTBOUND, self.outbound)
        app.add_route(contract.ROUTE_OUTCOME, self.outcome)
        app.add_route(contract.ROUTE_REUSE, self.reuse)

    async def outbound(self, request: TimedRequest) -> None:
        headers = request.headers
        call = call_from_args(
            request.args, source="agi", caller_id=headers.get("agi_callerid"),
            channel_id=headers.get("agi_uniqueid"), fallback_exten=headers.get("agi_extension"),
            channel_name=headers.get("agi_channel"),
        )
        decided = await self._gate.check(call, record=True)
        token = call_token(self._tokens, decided)
        result = result_variable(decided, token)  # the verdict and its token, in one variable
        if token and contract.dialplan_contract(request.args) < contract.DIALPLAN_CONTRACT:
            # An older dialplan does not take the token from the result: set it first, on its
            # own (a verdict without its token would be hung up at the trunk).
            try:
                await request.set_variable(contract.INHERITED_TOKEN_VARIABLE, token)
            except Exception:
                # No verdict then: the dialplan refuses the call, which never reaches the
                # trunk nor the hangup handler that reports an allowed call's outcome.
                await self._gate.outcome(decided.decision_id, Outcome.not_dialled(
                    NOT_HANDED_OFF, dt.datetime.now(dt.UTC)))
                raise
        if token:
            self._allowed[decided.decision_id] = result
            while len(self._allowed) > _REUSABLE:
                self._allowed.popitem(last=False)
        await request.set_variable(contract.RESULT_VARIABLE, result)
        log.info("agi %s %s -> %s", decided.verdict.decision.value, call.dialled,
                 ",".join(decided.verdict.codes),
                 extra={"decision_id": decided.decision_id,
                        "decision": decided.verdict.decision.value,
                        "recorded": decided.recorded, "spooled": decided.spooled})

    async def reuse(self, request: TimedRequest) -> None:
        """A trunk failover (FreePBX's hook runs again for the route's next trunk): re-use the
        decision on this channel, one call being one decision and one attempt (R-D6), only if
        the channel's token is one astguard signed for this very number, still fresh, naming an
        allow this process made; then answer the verdict as recorded (caller ID and destination
        included). Otherwise ASTGUARD_REUSED stays unset and the dialplan decides anew."""
        token, asked = (request.args + ["", ""])[:2]
        check = (self._tokens.verify(token, asked) if self._tokens is not None
                 else TokenCheck(False, None, "aucun secret de jeton"))
        result = self._allowed.get(check.decision_id or "") if check.valid else None
        if result is None:
            log.warning("agi reuse refused for %s (%s): decided anew", asked,
                        check.problem or "décision inconnue de ce nœud")
            return
        await request.set_variable(contract.RESULT_VARIABLE, result)
        await request.set_variable(contract.REUSED_VARIABLE, "1")
        log.info("agi reuse of decision %s for %s", check.decision_id, asked)

    async def outcome(self, request: TimedRequest) -> None:
        args = request.args + [""] * 4
        decision_id, dial_status, cause, answered_seconds = args[:4]
        if not decision_id:
            raise AgiProtocolError("/outcome without a decision id")
        if self._binding is not None:
            await self._binding.decision_on_channel(decision_id,
                                                    request.headers.get("agi_uniqueid", ""))
        answered = dial_status == "ANSWER"
        duration = _number(answered_seconds) if answered else None
        await self._gate.outcome(decision_id, Outcome(
            answered=answered, dial_status=dial_status or None,
            hangup_cause=int(cause) if cause.isdigit() else None, hangup_cause_text=None,
            duration_s=duration, ended_at=dt.datetime.now(dt.UTC),
        ))


_CONFIRMATION = {"refusal": "enregistre-refus", "opposition": "enregistre-opposition",
                 "suspension": "enregistre-suspension"}
_FAILED_PROMPT = "enregistrement-impossible"


class ContactsAgi:
    """Agents' codes: /feature during a call (features.conf; plays the confirmation itself, the
    channel is up), /code right after one (sets ASTGUARD_CODE_PROMPT for the dialplan)."""

    def __init__(self, contacts: ContactService, binding: ChannelBinding) -> None:
        self._contacts = contacts
        self._binding = binding

    def install(self, app: HardenedFastAGI) -> None:
        app.add_route(contract.ROUTE_FEATURE, self.feature)
        app.add_route(contract.ROUTE_CODE, self.code)

    async def feature(self, request: TimedRequest) -> None:
        kind = (request.args or [""])[0]
        reply = await request.send_command(f"GET VARIABLE {contract.DECISION_ID_VARIABLE}")
        decision_id = _variable_value(reply)
        prompt = _FAILED_PROMPT
        if decision_id:  # the agent's own call only
            await self._binding.decision_on_channel(decision_id,
                                                    request.headers.get("agi_uniqueid", ""))
        if kind in ("refusal", "opposition") and decision_id:
            try:
                await self._contacts.record_for_decision(decision_id, kind, source="dtmf")
                prompt = _CONFIRMATION[kind]
            except InputError as exc:
                log.warning("in-call %s for %s not recorded: %s", kind, decision_id, exc)
            except StoreUnavailable as exc:
                # Neither PostgreSQL nor the spool could take it: leave the prompt variable
                # unset so that [astguard-feature] keeps the code in the Asterisk database.
                log.error("in-call %s for %s not recorded, left to the dialplan: %s", kind,
                          decision_id, exc)
                return
        # Set before playing: once set, the dialplan keeps no copy of the code.
        await request.set_variable(contract.CODE_PROMPT_VARIABLE, prompt)
        await request.send_command(f'STREAM FILE astguard/{prompt} ""')

    async def code(self, request: TimedRequest) -> None:
        args = request.args + [""] * 3
        kind, endpoint, days = args[:3]
        check_endpoint(endpoint, request.headers.get("agi_channel", ""))  # its own last call
        prompt = _FAILED_PROMPT
        if kind in _CONFIRMATION and endpoint:
            try:
                await self._contacts.record_for_last_call(
                    endpoint, kind, source="short-code",
                    days=int(days) if days.isdigit() else None)
                prompt = _CONFIRMATION[kind]
            except InputError as exc:
                log.warning("short code %s from %s not recorded: %s", kind, endpoint, exc)
            except StoreUnavailable as exc:
                # Neither PostgreSQL nor the spool: [astguard-code] keeps it in AstDB.
                log.error("short code %s from %s not recorded, left to the dialplan: %s", kind,
                          endpoint, exc)
                return
        await request.set_variable(contract.CODE_PROMPT_VARIABLE, prompt)


class InboundAgi:
    """/objection: the agent's feature code during an inbound call (features.conf)."""

    def __init__(self, inbound: Any) -> None:
        self._inbound = inbound

    def install(self, app: HardenedFastAGI) -> None:
        app.add_route(contract.ROUTE_OBJECTION, self.objection)

    async def objection(self, request: TimedRequest) -> None:
        reply = await request.send_command(f"GET VARIABLE {contract.INBOUND_CALL_VARIABLE}")
        call_id = _variable_value(reply)
        stopped = False
        if call_id:  # only from a channel bridged to the recorded one
            peers = _variable_value(await request.send_command("GET VARIABLE BRIDGEPEER"))
            check_bridged_to(self._inbound.recorded_channel(call_id), peers)
            try:
                stopped = await self._inbound.objection_by_agent(call_id)
            except StoreUnavailable as exc:
                log.error("agent's objection on %s not recorded: %s", call_id, exc)
        prompt = "enregistrement-arrete" if stopped else _FAILED_PROMPT
        await request.send_command(f'STREAM FILE astguard/{prompt} ""')


def _variable_value(reply: dict[str, Any]) -> str:
    # "200 result=1 (value)" parses to {"result": ("1", "value")}; result=0: not set.
    result = reply.get("result")
    if isinstance(result, tuple) and result and result[0] == "1":
        return result[1]
    return ""


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


async def serve_fastagi(app: HardenedFastAGI, host: str, port: int) -> asyncio.Server:
    return await asyncio.start_server(app.handler, host, port, limit=MAX_REQUEST_BYTES)
