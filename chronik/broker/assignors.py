"""Server-side partition assignors of the consumer group protocol (KIP-848).

An assignor is a pure function: the members' subscriptions (member id ->
topic names), the partition count of each topic and the previous target
assignment in, the new target assignment (member id -> topic -> partitions)
out. `group.remote.assignor` on the client picks one by name; the broker's
`group.consumer.assignors` lists those it offers, the first is the default.

    uniform  (Kafka's default) balanced and sticky: a member keeps the
             partitions it had while the counts stay within one of each
             other; new or freed partitions go to the least loaded member
             that subscribes to their topic.
    range    per topic, the members subscribed to it in member-id order get
             contiguous ranges; the first (partitions % members) one more.
"""

from __future__ import annotations

from collections.abc import Callable

Assignment = dict[str, dict[str, set[int]]]  # member id -> topic -> partitions
Assignor = Callable[[dict[str, set[str]], dict[str, int], Assignment], Assignment]


def uniform(subscriptions: dict[str, set[str]], partitions: dict[str, int], previous: Assignment) -> Assignment:
    members = sorted(subscriptions)
    out: Assignment = {m: {} for m in members}
    if not members:
        return out
    owner: dict[tuple[str, int], str] = {}
    count = dict.fromkeys(members, 0)

    def give(m: str, tp: tuple[str, int]) -> None:
        out[m].setdefault(tp[0], set()).add(tp[1])
        owner[tp] = m
        count[m] += 1

    def take(m: str, tp: tuple[str, int]) -> None:
        ps = out[m][tp[0]]
        ps.discard(tp[1])
        if not ps:
            del out[m][tp[0]]
        del owner[tp]
        count[m] -= 1

    # 1. Stickiness: keep what each member had, if it still subscribes and the partition exists.
    for m in members:
        for topic, ps in sorted((previous.get(m) or {}).items()):
            if topic in subscriptions[m]:
                for p in sorted(ps):
                    if p < partitions.get(topic, 0) and (topic, p) not in owner:
                        give(m, (topic, p))
    eligible: dict[str, list[str]] = {}
    for topic in sorted({t for subs in subscriptions.values() for t in subs}):
        eligible[topic] = [m for m in members if topic in subscriptions[m]]
    # 2. Unowned partitions go to the least loaded eligible member (topics with fewer candidates first).
    for topic in sorted(eligible, key=lambda t: (len(eligible[t]), t)):
        for p in range(partitions.get(topic, 0)):
            if (topic, p) not in owner:
                give(min(eligible[topic], key=lambda m: (count[m], m)), (topic, p))
    # 3. Balance: one partition at a time from the most loaded member that can give one to a
    # less loaded eligible member (by two or more), so nothing moves that need not.
    while True:
        for m in sorted(members, key=lambda m: (-count[m], m)):
            move = None
            for topic in sorted(out[m]):
                target = min(eligible[topic], key=lambda x: (count[x], x))
                if count[target] < count[m] - 1:
                    move = (topic, max(out[m][topic])), target
                    break
            if move is not None:
                take(m, move[0])
                give(move[1], move[0])
                break
        else:
            break
    return out


def range_(subscriptions: dict[str, set[str]], partitions: dict[str, int], previous: Assignment) -> Assignment:
    out: Assignment = {m: {} for m in subscriptions}
    for topic in sorted({t for subs in subscriptions.values() for t in subs}):
        n = partitions.get(topic, 0)
        subs = sorted(m for m, s in subscriptions.items() if topic in s)
        if not subs or not n:
            continue
        per, extra = divmod(n, len(subs))
        start = 0
        for i, m in enumerate(subs):
            size = per + (1 if i < extra else 0)
            if size:
                out[m][topic] = set(range(start, start + size))
            start += size
    return out


ASSIGNORS: dict[str, Assignor] = {"uniform": uniform, "range": range_}
