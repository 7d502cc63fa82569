"""JetStream assets of a routing domain, created or checked on every start (idempotent).

=========================  ==========================  ===========================================
asset                      name                        holds
=========================  ==========================  ===========================================
input stream (the log)     ``CCROUTE_<DOMAIN>_IN``     ``ccroute.<domain>.in.>``, file storage
                                                       (tenant wall: also sources the below)
tenant entry stream        ``..._IN_T_<tenant>``       ``entry.<tenant>.>`` (tenant wall only)
desktops' entry stream     ``..._IN_AGENTS``           ``entry._agents.>`` (tenant wall only)
decision stream            ``CCROUTE_<DOMAIN>_OUT``    ``ccroute.<domain>.out.>``
dead-letter stream         ``CCROUTE_<DOMAIN>_DLQ``    ``ccroute.<domain>.dlq.>``
KV bucket                  ``ccroute_<domain>``        projections
lease KV bucket            ``ccroute_<domain>_lease``  the writer lease (memory storage)
object store               ``ccroute_<domain>_snapshots``  engine snapshots
=========================  ==========================  ===========================================

A stream that exists is kept (its messages are the log); only settings that are safe to
change in place (duplicate window, age limit) are brought to the configured values. A
stream whose subjects differ from what the domain needs is an error: two deployments
would be sharing names.

**Under the tenant wall** (:attr:`AssetSettings.tenants` given) what tenant, desktop and
gateway accounts publish does not land in the log. JetStream's publish checks (the
``Nats-Msg-Id`` duplicate window, ``Nats-Expected-Last-Msg-Id``,
``Nats-Expected-Last-Subject-Sequence``) and the acknowledgement's sequence answer about
the stream a message lands in; were that the log, they would answer about every tenant.
Their imports map ``in.<t>.>`` to ``entry.<t>.>`` in the router's account
(:mod:`ccroute.service.accounts`), where each tenant has an *entry stream* of its own
(with a byte limit: one tenant cannot fill the shared store) and the desktops one, and
the log *sources* them (the server copies each stored message into the log, in one
order, with its payload and headers, the subject transformed back to ``in.<t>.<type>``;
it strips ``Nats-Expected-*``). The router's own publishes (ticks, tools) still land in
the log directly. The log has no duplicate window (0): a sourced message keeps its
``Nats-Msg-Id``, a sourcing stream de-duplicates by it, and two tenants may use the same
id; duplicates were already dropped by each entry stream's own window. An open log is
taken over in place (its messages and sequences stay); sources are only ever added (a
source dropped before the log copied all of it would lose inputs).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.api import (
    DiscardPolicy,
    KeyValueConfig,
    ObjectStoreConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
    StreamSource,
    SubjectTransform,
)
from nats.js.errors import BucketNotFoundError, NotFoundError

from ccroute.config import Service
from ccroute.service.lease import ensure_lease_bucket
from ccroute.service.subjects import Names

__all__ = ["AssetError", "AssetSettings", "add_tenant_entries", "ensure_assets", "entry_streams"]

log = logging.getLogger("ccroute.service.assets")


class AssetError(RuntimeError):
    """A JetStream asset exists in a shape this service cannot use."""


_SERVICE = Service()
"""The configuration file's defaults: a caller without a file gets the same streams as
``ccroute serve`` with an empty ``[service]`` table, and the two cannot drift apart."""


@dataclass(frozen=True)
class AssetSettings:
    """Stream settings; the defaults suit one server on one machine."""

    replicas: int = _SERVICE.replicas
    input_duplicate_window: float = _SERVICE.input_duplicate_window_seconds
    """Seconds a publisher's ``Nats-Msg-Id`` (the input ``id``) is remembered by the stream."""
    decision_duplicate_window: float = _SERVICE.decision_duplicate_window_seconds
    """Seconds a decision's ``Nats-Msg-Id`` is remembered: a backstop, since the fenced
    writes already refuse a decision stored before (``ccroute.service.fencing``)."""
    input_max_age: float = _SERVICE.input_max_age_seconds
    """Seconds inputs are kept (0: for ever). At 5,000 inputs/s the log grows by about
    95 GB a day (docs/service.md, "Sizing"); recovery needs only what follows the newest
    snapshot, taken every minute, so a week is kept for audits and replays."""
    decision_max_age: float = _SERVICE.decision_max_age_seconds
    """Seconds decisions are kept (0: for ever); about 165 GB a day at 5,000 inputs/s, so
    three days: enough for a consumer down over a weekend to catch up."""
    deadletter_max_age: float = 30 * 86400.0
    memory: bool = False
    """Memory storage instead of file (tests and benchmarks only: a restart loses all)."""
    tenants: tuple[str, ...] | None = None
    """Under the tenant wall: the tenants whose entry streams the log sources (every tenant
    that may publish, see the module doc). None: an open server, the log captures every
    input itself."""
    tenant_max_bytes: int = _SERVICE.input_tenant_max_bytes
    """Byte limit of each tenant's (and the agents') entry stream; a full one refuses
    that tenant's next inputs (``maximum bytes exceeded``), nothing of others."""
    entry_max_age: float = _SERVICE.input_entry_max_age_seconds
    """Seconds the entry streams keep what the log has copied long since (the log keeps
    the inputs for ``input_max_age``); also how long the log may be unable to copy."""


async def _ensure_stream(js: JetStreamContext, cfg: StreamConfig, adjust: bool = True) -> None:
    assert cfg.name is not None
    try:
        info = await js.stream_info(cfg.name)
    except NotFoundError:
        await js.add_stream(cfg)
        log.info("stream_created name=%s subjects=%s", cfg.name, ",".join(cfg.subjects or []))
        return
    have = info.config
    if sorted(have.subjects or []) != sorted(cfg.subjects or []):
        raise AssetError(
            f"stream {cfg.name} exists with subjects {have.subjects}, expected {cfg.subjects}"
        )
    if not adjust:
        return
    changed = (
        float(have.duplicate_window or 0) != float(cfg.duplicate_window or 0)
        or float(have.max_age or 0) != float(cfg.max_age or 0)
        or (cfg.max_bytes is not None and (have.max_bytes or -1) != cfg.max_bytes)
    )
    if changed:
        have.duplicate_window = cfg.duplicate_window
        have.max_age = cfg.max_age
        if cfg.max_bytes is not None:
            have.max_bytes = cfg.max_bytes
        await js.update_stream(have)
        log.info("stream_updated name=%s", cfg.name)


def _log_config(names: Names, s: AssetSettings, common: dict[str, object]) -> StreamConfig:
    return StreamConfig(
        name=names.input_stream,
        description=f"ccroute {names.domain}: routing inputs, the event log",
        subjects=[names.input_wildcard],
        duplicate_window=s.input_duplicate_window,
        max_age=s.input_max_age,
        **common,  # type: ignore[arg-type]
    )


async def _ensure_open_log(
    js: JetStreamContext,
    names: Names,
    s: AssetSettings,
    common: dict[str, object],
    adjust: bool,
) -> None:
    """The log capturing every input itself (an open server, no accounts)."""
    try:
        have = (await js.stream_info(names.input_stream)).config
    except NotFoundError:
        have = None
    if have is not None and have.sources:
        # Walled before: the entry streams hold the inputs now; capturing ``in.>`` again
        # would overlap them. Keep the sourcing log as it is (a tool such as ``ccroute
        # project`` connects without knowing the tenants).
        return
    await _ensure_stream(js, _log_config(names, s, common), adjust)


def entry_streams(names: Names, tenants: tuple[str, ...]) -> dict[str, str]:
    """Entry stream name -> the input wildcard whose publishes it takes, under the wall
    (it captures ``names.entry_of(wildcard)``; the log sources it back as ``wildcard``)."""
    out = {names.tenant_entry_stream(t): names.tenant_inputs(t) for t in sorted(set(tenants))}
    out[names.agent_entry_stream] = names.agent_inputs_wildcard
    return out


def _source(names: Names, stream: str, wildcard: str) -> StreamSource:
    # opt_start_seq=1: a source the log holds nothing of yet is copied from its first
    # message (without it, a log whose first messages expired would start a new source
    # at the log's last time, skipping what the source stored before that).
    return StreamSource(
        name=stream,
        opt_start_seq=1,
        subject_transforms=[SubjectTransform(src=names.entry_of(wildcard), dest=wildcard)],
    )


async def _ensure_walled_log(
    js: JetStreamContext,
    names: Names,
    s: AssetSettings,
    common: dict[str, object],
    adjust: bool,
) -> None:
    """The log capturing the router's own publishes and sourcing one entry stream per
    tenant and the desktops'. The entry streams exist before the log sources them (a
    source that does not exist yet is retried by the server only after a while: a
    tenant's first inputs would wait for it)."""
    assert s.tenants is not None
    entries = entry_streams(names, s.tenants)
    # Under the log's age limit: an entry stream keeping inputs longer than the log could,
    # after the log's copies expired, be copied again (a source the log no longer has a
    # record of starts from its first message).
    age = min(s.entry_max_age, s.input_max_age) if s.input_max_age > 0 else s.entry_max_age
    limited = {**common, "discard": DiscardPolicy.NEW}
    for stream, wildcard in entries.items():
        await _ensure_stream(
            js,
            StreamConfig(
                name=stream,
                description=f"ccroute {names.domain}: inputs of {wildcard}, sourced by the log",
                subjects=[names.entry_of(wildcard)],
                duplicate_window=min(s.input_duplicate_window, age),
                max_age=age,
                max_bytes=s.tenant_max_bytes,
                **limited,  # type: ignore[arg-type]
            ),
            adjust,
        )
    try:
        have: StreamConfig | None = (await js.stream_info(names.input_stream)).config
    except NotFoundError:
        have = None
    if have is None:
        cfg = _log_config(names, s, common)
        cfg.duplicate_window = 0  # none: two tenants may use one id (see module doc)
        cfg.sources = [_source(names, e, w) for e, w in entries.items()]
        await js.add_stream(cfg)
        log.info("stream_created name=%s sources=%d", names.input_stream, len(entries))
        return
    if sorted(have.subjects or []) != [names.input_wildcard]:
        raise AssetError(
            f"stream {names.input_stream} exists with subjects {have.subjects}, "
            f"expected {[names.input_wildcard]}"
        )
    sourced = {src.name for src in have.sources or []}
    missing = [_source(names, e, w) for e, w in entries.items() if e not in sourced]
    retain = adjust and float(have.max_age or 0) != float(s.input_max_age)
    if missing or float(have.duplicate_window or 0) != 0 or retain:
        # Sources are only ever added: one dropped before the log copied all of it would
        # lose inputs. An open log taken over keeps its messages and sequences.
        have.duplicate_window = 0
        have.sources = [*(have.sources or []), *missing]
        if adjust:
            have.max_age = s.input_max_age
        await js.update_stream(have)
        log.info("stream_updated name=%s sources_added=%d", names.input_stream, len(missing))


async def add_tenant_entries(js: JetStreamContext, names: Names, tenants: tuple[str, ...]) -> bool:
    """Give ``tenants`` their entry streams and have the log source them, on a log that is
    sourced already (the tenant wall); False, changing nothing, if it is not.

    ``ccroute creds issue`` calls this (as the admin) for a tenant new to the accounts, so
    its stream is there before its first input. What exists is left as the service set it;
    new streams get the log's storage and the default limits (``ccroute serve`` brings them
    to the configured ones at its next start)."""
    try:
        log_cfg = (await js.stream_info(names.input_stream)).config
    except NotFoundError:
        return False
    if not log_cfg.sources:
        return False
    settings = AssetSettings(
        replicas=log_cfg.num_replicas or 1,
        memory=log_cfg.storage == StorageType.MEMORY,
        tenants=tenants,
        input_max_age=float(log_cfg.max_age or 0),
    )
    await ensure_assets(js, names, settings, adjust=False)
    return True


async def ensure_assets(
    js: JetStreamContext,
    names: Names,
    settings: AssetSettings | None = None,
    *,
    adjust: bool = True,
) -> None:
    """Create the domain's streams, KV bucket and object store, or check they fit.

    With ``adjust`` (the service), streams that exist get the settings' duplicate window
    and age limit; without it (tools such as ``ccroute project``) they are left as the
    service set them: a tool's defaults must not shorten a deployment's retention."""
    s = settings or AssetSettings()
    storage = StorageType.MEMORY if s.memory else StorageType.FILE
    common = {
        "retention": RetentionPolicy.LIMITS,
        "discard": DiscardPolicy.OLD,
        "storage": storage,
        "num_replicas": s.replicas,
        "allow_direct": True,
    }
    if s.tenants is None:
        await _ensure_open_log(js, names, s, common, adjust)
    else:
        await _ensure_walled_log(js, names, s, common, adjust)
    await _ensure_stream(
        js,
        StreamConfig(
            name=names.decision_stream,
            description=f"ccroute {names.domain}: routing decisions",
            subjects=[names.decision_wildcard],
            duplicate_window=s.decision_duplicate_window,
            max_age=s.decision_max_age,
            **common,  # type: ignore[arg-type]
        ),
        adjust,
    )
    await _ensure_stream(
        js,
        StreamConfig(
            name=names.deadletter_stream,
            description=f"ccroute {names.domain}: inputs that failed to decode or validate",
            subjects=[names.deadletter_wildcard],
            duplicate_window=120.0,
            max_age=s.deadletter_max_age,
            **common,  # type: ignore[arg-type]
        ),
        adjust,
    )
    try:
        await js.key_value(names.kv_bucket)
    except BucketNotFoundError:
        await js.create_key_value(
            KeyValueConfig(
                bucket=names.kv_bucket,
                description=f"ccroute {names.domain}: projections and the writer lease",
                history=1,
                storage=storage,
                replicas=s.replicas,
                direct=True,
            )
        )
        log.info("kv_created bucket=%s", names.kv_bucket)
    await ensure_lease_bucket(js, names, s.replicas)
    try:
        await js.object_store(names.snapshot_bucket)
    except BucketNotFoundError:
        await js.create_object_store(
            names.snapshot_bucket,
            config=ObjectStoreConfig(
                description=f"ccroute {names.domain}: engine snapshots",
                storage=storage,
                replicas=s.replicas,
            ),
        )
        log.info("object_store_created bucket=%s", names.snapshot_bucket)
