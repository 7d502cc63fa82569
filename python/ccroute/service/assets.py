"""JetStream assets of a routing domain, created or checked on every start (idempotent).

=========================  ==========================  ===========================================
asset                      name                        holds
=========================  ==========================  ===========================================
input stream (the log)     ``CCROUTE_<DOMAIN>_IN``     ``ccroute.<domain>.in.>``, file storage
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
)
from nats.js.errors import BucketNotFoundError, NotFoundError

from ccroute.service.lease import ensure_lease_bucket
from ccroute.service.subjects import Names

__all__ = ["AssetError", "AssetSettings", "ensure_assets"]

log = logging.getLogger("ccroute.service.assets")


class AssetError(RuntimeError):
    """A JetStream asset exists in a shape this service cannot use."""


@dataclass(frozen=True)
class AssetSettings:
    """Stream settings; the defaults suit one server on one machine."""

    replicas: int = 1
    input_duplicate_window: float = 60.0
    """Seconds a publisher's ``Nats-Msg-Id`` (the input ``id``) is remembered by the stream."""
    decision_duplicate_window: float = 60.0
    """Seconds a decision's ``Nats-Msg-Id`` is remembered (covers replay after a crash)."""
    input_max_age: float = 7 * 86400.0
    """Seconds inputs are kept (0: for ever). At 5,000 inputs/s the log grows by about
    95 GB a day (docs/service.md, "Sizing"); recovery needs only what follows the newest
    snapshot, taken every minute, so a week is kept for audits and replays."""
    decision_max_age: float = 3 * 86400.0
    """Seconds decisions are kept (0: for ever); about 165 GB a day at 5,000 inputs/s, so
    three days: enough for a consumer down over a weekend to catch up."""
    deadletter_max_age: float = 30 * 86400.0
    memory: bool = False
    """Memory storage instead of file (tests and benchmarks only: a restart loses all)."""


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
    changed = float(have.duplicate_window or 0) != float(cfg.duplicate_window or 0) or float(
        have.max_age or 0
    ) != float(cfg.max_age or 0)
    if changed:
        have.duplicate_window = cfg.duplicate_window
        have.max_age = cfg.max_age
        await js.update_stream(have)
        log.info("stream_updated name=%s", cfg.name)


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
    await _ensure_stream(
        js,
        StreamConfig(
            name=names.input_stream,
            description=f"ccroute {names.domain}: routing inputs, the event log",
            subjects=[names.input_wildcard],
            duplicate_window=s.input_duplicate_window,
            max_age=s.input_max_age,
            **common,  # type: ignore[arg-type]
        ),
        adjust,
    )
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
