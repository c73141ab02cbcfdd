"""Near-duplicate templates and blocks: candidates by MinHash LSH, scored by rapidfuzz.

Each owner (a template or a block) has documents, one per slot (channel and
language). Documents of the same slot are hashed (MinHash of word shingles,
variables masked) and bucketed (datasketch's LSH), so only owners sharing a
bucket in some slot are compared. A compared pair scores the length-weighted
mean of rapidfuzz's normalised Indel similarity over the slots both have, and
is kept at or above the threshold, with the kind of difference between them.
"""

import difflib
import hashlib
import zlib
from collections import defaultdict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field

import numpy as np
from datasketch import MinHash, MinHashLSH
from rapidfuzz import fuzz

from inventory.text import Paragraph


class Difference:
    """How two near-duplicates differ; the values stored with a pair."""

    IDENTICAL = "identical"
    VARIABLES = "variables"
    LANGUAGE = "language"
    CHANNELS = "channels"
    PARAGRAPH = "paragraph"
    WORDING = "wording"


NUM_PERM = 64
# Below the pair threshold on purpose: a changed paragraph costs more shingles
# than characters, and LSH buckets are probabilistic.
LSH_THRESHOLD = 0.4
SHINGLE_WORDS = 3


@dataclass
class Document:
    """One owner's text in one slot (channel and language)."""

    owner: Hashable
    slot: tuple[str, str]
    paragraphs: list[Paragraph]
    masked: str = field(init=False)
    named: str = field(init=False)

    def __post_init__(self) -> None:
        self.masked = "\n".join(p.masked for p in self.paragraphs)
        self.named = "\n".join(p.named for p in self.paragraphs)


@dataclass
class Pair:
    """Two owners at or above the threshold, and how they differ."""

    left: Hashable
    right: Hashable
    similarity: float
    difference: str
    slots: dict[str, float]
    cluster: Hashable = None


def _shingles(text: str) -> np.ndarray:
    """Return 32-bit hashes of the text's word shingles (CRC-32 per word, mixed)."""
    words = text.split()
    hashes = np.fromiter(
        (zlib.crc32(word.encode()) for word in words), dtype=np.uint64, count=len(words)
    )
    if len(hashes) < SHINGLE_WORDS:
        return hashes if len(hashes) else np.zeros(1, dtype=np.uint64)
    mixed = (hashes[:-2] * np.uint64(0x9E3779B1) + hashes[1:-1]) * np.uint64(
        0x85EBCA77
    ) + hashes[2:]
    return mixed & np.uint64(0xFFFFFFFF)


def _hashed(value):
    """Return a shingle's hash as it is: `_shingles` hashed it already."""
    return value


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def candidates(documents: Iterable[Document]) -> set[tuple[Hashable, Hashable]]:
    """Return the owner pairs that share an LSH bucket in at least one slot."""
    by_slot: dict[tuple[str, str], dict[str, list[Hashable]]] = defaultdict(dict)
    masked: dict[str, str] = {}
    for document in documents:
        digest = _digest(document.masked)
        masked[digest] = document.masked
        by_slot[document.slot].setdefault(digest, []).append(document.owner)
    found: set[tuple[Hashable, Hashable]] = set()

    def pair_all(owners_a, owners_b):
        for a in owners_a:
            for b in owners_b:
                if a != b:
                    found.add((a, b) if str(a) < str(b) else (b, a))

    for texts in by_slot.values():
        # Identical texts pair at once; LSH sees one document per distinct text.
        for owners in texts.values():
            if len(owners) > 1:
                pair_all(owners, owners)
        digests = list(texts)
        if len(digests) < 2:
            continue
        hashes = MinHash.bulk(
            [_shingles(masked[digest]) for digest in digests],
            num_perm=NUM_PERM,
            hashfunc=_hashed,
        )
        lsh = MinHashLSH(threshold=LSH_THRESHOLD, num_perm=NUM_PERM)
        with lsh.insertion_session() as session:
            for digest, minhash in zip(digests, hashes, strict=True):
                session.insert(digest, minhash, check_duplication=False)
        for digest, minhash in zip(digests, hashes, strict=True):
            for other in lsh.query(minhash):
                if other > digest:
                    pair_all(texts[digest], texts[other])
    return found


def _one_paragraph_apart(left: Document, right: Document) -> bool:
    opcodes = [
        op
        for op in difflib.SequenceMatcher(
            None,
            [p.masked for p in left.paragraphs],
            [p.masked for p in right.paragraphs],
            autojunk=False,
        ).get_opcodes()
        if op[0] != "equal"
    ]
    return (
        len(opcodes) == 1
        and max(opcodes[0][2] - opcodes[0][1], opcodes[0][4] - opcodes[0][3]) <= 1
    )


def difference_of(left: dict, right: dict) -> str:
    """Return how two owners' documents (slot → Document) differ."""
    shared = sorted(set(left) & set(right))
    differing = [slot for slot in shared if left[slot].masked != right[slot].masked]
    if differing:
        if all(_one_paragraph_apart(left[s], right[s]) for s in differing):
            return Difference.PARAGRAPH
        return Difference.WORDING
    if set(left) != set(right):
        channels_equal = {s[0] for s in left} == {s[0] for s in right}
        return Difference.LANGUAGE if channels_equal else Difference.CHANNELS
    if any(left[slot].named != right[slot].named for slot in shared):
        return Difference.VARIABLES
    return Difference.IDENTICAL


def score(
    left: dict, right: dict, threshold: float = 0.0
) -> tuple[float, dict[str, float]] | None:
    """Return the length-weighted similarity (0–1) over shared slots, and per slot.

    Return None as soon as the pair cannot reach `threshold`: slots are scored
    longest first, each with the lowest ratio that could still make it, so a
    hopeless comparison stops early (rapidfuzz's score_cutoff).
    """
    weights = {}
    for slot in set(left) & set(right):
        weights[slot] = max(len(left[slot].masked), len(right[slot].masked), 1)
    total = sum(weights.values())
    if not total:
        return None
    needed = threshold * total
    remaining = total
    weighted = 0.0
    slots = {}
    for slot in sorted(weights, key=lambda s: (-weights[s], s)):
        a, b = left[slot].masked, right[slot].masked
        weight = weights[slot]
        remaining -= weight
        floor = (needed - weighted - remaining) / weight - 1e-9
        if a == b:
            ratio = 1.0
        else:
            cutoff = max(0.0, min(floor, 1.0)) * 100
            ratio = fuzz.ratio(a, b, score_cutoff=cutoff) / 100
        if ratio < floor:
            return None
        weighted += ratio * weight
        slots["/".join(slot)] = round(ratio, 4)
    return weighted / total, dict(sorted(slots.items()))


def clusters_assign(pairs: list[Pair]) -> None:
    """Give every pair the cluster of connected owners it belongs to."""
    parent: dict[Hashable, Hashable] = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for pair in pairs:
        a, b = find(pair.left), find(pair.right)
        if a != b:
            parent[max(a, b, key=str)] = min(a, b, key=str)
    for pair in pairs:
        pair.cluster = find(pair.left)


def pairs_find(documents: list[Document], *, threshold: float = 0.8) -> list[Pair]:
    """Return the owner pairs at or above `threshold`, with their clusters."""
    by_owner: dict[Hashable, dict[tuple[str, str], Document]] = defaultdict(dict)
    for document in documents:
        by_owner[document.owner][document.slot] = document
    found = candidates(documents)
    pairs = []
    for left, right in sorted(found, key=str):
        scored = score(by_owner[left], by_owner[right], threshold)
        if scored is not None and scored[0] >= threshold:
            similarity, slots = scored
            pairs.append(
                Pair(
                    left=left,
                    right=right,
                    similarity=round(similarity, 4),
                    difference=difference_of(by_owner[left], by_owner[right]),
                    slots=slots,
                )
            )
    clusters_assign(pairs)
    return pairs
