"""Several sender numbers: who they are (labels, never IDs) and which one a recipient hears from.

`IBOT_INSTANCE_ID="shop=ID1,promo=ID2"` (or bare IDs, labelled `#1`, `#2`, ...); `IBOT_TOKEN`, when
set, lists their tokens in the same order (one token serves all). A recipient is given to a
sender by rendezvous hashing of their JID against each sender's stable identity: the same person
hears from the same number in every campaign, adding a sender moves only its own share, and when
a sender is retired its recipients spread over the others by the same rule.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from campaign.client import check_credential
from campaign.errors import InputError

LABEL = re.compile(r"^[A-Za-z0-9][\w.-]{0,31}$")


def _id_like(text: str) -> bool:
    """Long and mixing letters with digits: what generated IDs look like, not names people pick."""
    return (len(text) >= 16 and any(c.isdigit() for c in text)
            and any(c.isalpha() for c in text))


@dataclass(frozen=True)
class Sender:
    """One WhatsApp number. `key` is its stable identity on this computer (a keyed digest)."""

    label: str
    instance_id: str = field(repr=False)
    token: str = field(repr=False)
    key: str = ""


def parse_senders(instance_ids: str | None, tokens: str | None) -> list[Sender]:
    """The configured senders, in order. Errors name positions and labels, never the values."""
    if not instance_ids:
        return []
    parts = [p.strip() for p in instance_ids.split(",")]
    if any(not p for p in parts):
        raise InputError("IBOT_INSTANCE_ID has an empty entry: list senders as ID,ID or "
                         "LABEL=ID,LABEL=ID with no empty item between commas.")
    senders = [_entry(n, part) for n, part in enumerate(parts, 1)]
    _check_distinct(senders)
    token_list = _tokens(tokens, len(senders))
    out = []
    for i, (label, iid) in enumerate(senders):
        token = token_list[i if len(token_list) > 1 else 0] if token_list else iid
        check_credential(f"IBOT_INSTANCE_ID ({label})", iid)
        check_credential(f"IBOT_TOKEN ({label})", token)
        out.append(Sender(label, iid, token))
    return out


def _entry(n: int, part: str) -> tuple[str, str]:
    """One IBOT_INSTANCE_ID entry (the n-th): (label, instance ID)."""
    label, sep, value = part.partition("=")
    label, value = label.strip(), value.strip()
    # "abc==" is an ID with base64 padding, not a label: a label is followed by the ID itself.
    # Only the first '=' splits, so an ID holding '=' is written after a label (main=Ab=c);
    # a left side that reads like an ID itself (16+ characters, letters and digits) is not
    # taken for a label (issue 19: "Ab12...=x" was split and the run failed as Invalid token).
    labelled = sep and not value.startswith("=") and not _id_like(label)
    if labelled and not LABEL.match(label):
        raise InputError(
            f"IBOT_INSTANCE_ID entry {n}: a sender label is 1-32 letters, digits, '_', '.' or "
            "'-', starting with a letter or digit (e.g. shop=ID), and senders are separated "
            "by commas."
        )
    if labelled and not value:
        raise InputError(f"IBOT_INSTANCE_ID entry {n} ({label}=) has no instance ID after "
                         "the '='.")
    return (label, value) if labelled else (f"#{n}", part)


def _check_distinct(senders: list[tuple[str, str]]) -> None:
    for n, (label, iid) in enumerate(senders, 1):
        if any(ch.isspace() for ch in iid):
            raise InputError(
                f"IBOT_INSTANCE_ID entry {n} ({label}) has a space in its instance ID; instance "
                "IDs have none. Separate senders with commas: shop=ID1,promo=ID2."
            )
    labels = [label for label, _ in senders]
    for label in labels:
        if labels.count(label) > 1:
            raise InputError(f"IBOT_INSTANCE_ID names the sender '{label}' twice; labels must differ.")
    ids = [iid for _, iid in senders]
    if len(set(ids)) < len(ids):
        raise InputError("IBOT_INSTANCE_ID lists the same instance twice; each sender once.")


def _tokens(tokens: str | None, senders: int) -> list[str]:
    """IBOT_TOKEN as a list: one per sender, one for all, or none (each ID is its own token)."""
    token_list = [t.strip() for t in tokens.split(",")] if tokens else []
    if any(not t or any(ch.isspace() for ch in t) for t in token_list):
        raise InputError(
            "IBOT_TOKEN has an empty entry or a space in a token: list one token per sender, "
            "comma-separated, in IBOT_INSTANCE_ID's order (or one token for all, or none)."
        )
    if token_list and len(token_list) not in (1, senders):
        raise InputError(
            f"IBOT_TOKEN lists {len(token_list)} tokens for {senders} senders in "
            "IBOT_INSTANCE_ID: give one token per sender, in the same order, one token for all, "
            "or none (each Instance ID is then its own token)."
        )
    return token_list


def choose(senders: Sequence[Sender], wanted: Iterable[str]) -> list[Sender]:
    """`--sender LABEL` (repeatable): only these, in the configured order."""
    wanted = list(wanted)
    if not wanted:
        return list(senders)
    labels = [s.label for s in senders]
    unknown = [w for w in wanted if w not in labels]
    if unknown:
        # An instance ID typed by mistake is not echoed back.
        secret = any(w in (s.instance_id, s.token) for w in unknown for s in senders)
        shown = "" if secret or not LABEL.match(unknown[0].lstrip("#")) else f" {unknown[0]}"
        raise InputError(
            f"--sender{shown}: no such sender{' (it takes a label, not an instance ID)' if secret else ''}."
            f" Configured: {', '.join(labels)} (labels come from IBOT_INSTANCE_ID, e.g. "
            "shop=ID1,promo=ID2; unlabelled ones are #1, #2)."
        )
    return [s for s in senders if s.label in wanted]


# How far over its even share a sender may be loaded before a recipient goes to their next choice.
LOAD_SLACK = 0.05


def _weight(key: str, jid: str) -> bytes:
    return hashlib.sha256(f"{key}\x1f{jid}".encode()).digest()


def ranking(jid: str, keys: Sequence[str]) -> list[int]:
    """Rendezvous hashing: sender indexes from the recipient's first choice to their last."""
    return sorted(range(len(keys)), key=lambda i: _weight(keys[i], jid), reverse=True)


def assign(jid: str, keys: Sequence[str]) -> int:
    """The recipient's first choice: the same sender in every campaign, whatever the list."""
    return ranking(jid, keys)[0]


def assign_all(jids: Sequence[str], keys: Sequence[str], *, loads: Sequence[int] | None = None,
               slack: float = LOAD_SLACK) -> list[int]:
    """Rendezvous hashing with bounded loads: each recipient gets their first choice unless that
    sender already holds its even share plus `slack`; then their next choice.

    Plain rendezvous hashing is sticky but lumpy (with 16 senders one gets a third more than
    another, and the campaign lasts as long as its busiest number); the bound keeps every sender
    within a few percent of the others while almost everyone keeps their first choice. Recipients
    are placed in the order of a hash of their JID, so the outcome does not depend on row order.
    `loads`: what each sender holds already (a retired sender's rows being handed over).
    """
    held = list(loads) if loads is not None else [0] * len(keys)
    cap = max(1, -(-(len(jids) + sum(held)) * (1 + slack) // len(keys)))
    out = [0] * len(jids)
    order = sorted(range(len(jids)), key=lambda i: hashlib.sha256(jids[i].encode()).digest())
    for i in order:
        choices = ranking(jids[i], keys)
        pick = next((c for c in choices if held[c] < cap), choices[0])
        held[pick] += 1
        out[i] = pick
    return out
