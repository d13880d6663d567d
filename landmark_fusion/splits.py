"""Declared splits: the ``split:`` key of a roots.yaml entry, applied by the build to any database.

A reader gives every face a split of its own (AFLW: ``test``, 300W-LP: a hashed ``val`` share, ...).
A roots entry may replace it::

    aflw:
      path: AFLW
      split:
        default: train                  # faces no rule matches (absent: the reader's split)
        rules:                          # first match wins
          - {split: overlap, same_image_as: aflw2000_3d}
          - {split: test, hold_out: 2000, seed: 0}

or give one split to all its faces (``split: test``). A rule has exactly one of:

``file: PATH``
    a text file (relative to the roots file), one entry per line: a key, or a key and a split
    separated by white space (then the rule has no ``split``); blank lines and ``#`` comments are
    skipped. A key is a face's sample id, its image path (the id without ``#k``), its image's
    file name or that name's stem; the most specific key listed wins.
``same_image_as: DATABASE``
    the faces whose image stem (file name without folder and suffix) is also an image stem of
    another database of the roots file -- the way to keep one photo out of two splits.
``hold_out: N`` (``seed``, default 0)
    exactly ``N`` images among those no earlier rule matched, the ``N`` with the smallest
    ``sha256("<seed>:<image path>")``; all faces of an image go together.
``fraction: F`` (``seed``)
    the images whose ``sha256("<seed>:<image path>")``, read as a number in [0, 1), is below ``F``.

The sets a rule needs are fixed before the build from the item lists alone (``Source.sample_id``),
never from ``--limit``, so a split is the same on every run over the same files. Sample ids are
never changed. What was declared -- each file with its sha256, each rule with its counts -- is
recorded in the shards (attribute ``splits``, JSON) and in the build report, with the number of
faces given each split.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .roots import Root

#: what a split name may look like (the shards' ``split`` column holds it)
SPLIT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
RULE_KINDS = ("file", "same_image_as", "hold_out", "fraction")


class SplitError(ValueError):
    """A split declaration that cannot be used; the message names the roots file and the entry."""


def image_path(sample_id: str) -> str:
    """The image part of a sample id (``a/b.jpg#1`` -> ``a/b.jpg``)."""
    return sample_id.partition("#")[0]


def keys_of(sample_id: str) -> tuple[str, str, str, str]:
    """The keys a split file may name a face by, most specific first."""
    image = image_path(sample_id)
    name = PurePosixPath(image).name
    return sample_id, image, name, PurePosixPath(name).stem


def stem_of(sample_id: str) -> str:
    """The image stem of a sample id (``AFLW2000/image00002.jpg`` -> ``image00002``)."""
    return PurePosixPath(PurePosixPath(image_path(sample_id)).name).stem


def hashed_fraction(seed: int, image: str) -> float:
    """A number in [0, 1) fixed by the seed and the image path."""
    digest = hashlib.sha256(f"{seed}:{image}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0 ** 64


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _split_name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not SPLIT_NAME.match(value):
        raise SplitError(f"{where}: a split name is a word of letters, digits, '_', '.', '-' "
                         f"(at most 64), got {value!r}")
    return value


# -- declaration -----------------------------------------------------------------------------

@dataclass(frozen=True)
class SplitRule:
    """One rule of a declaration, as written (files already read and hashed)."""

    kind: str                                  # one of RULE_KINDS
    split: str | None                          # None: a two-column file names each split
    value: Any                                 # file path, database name, N or F
    seed: int = 0
    entries: Mapping[str, str] = field(default_factory=dict)  # file: key -> split
    sha256: str = ""                           # file: of its bytes
    reference: Root | None = None            # same_image_as: the other database's entry

    @property
    def target(self) -> str:
        """The split that a rule other than ``file`` assigns (the parser requires one)."""
        if self.split is None:
            raise ValueError(f"a {self.kind} rule without a split")
        return self.split

    @property
    def other(self) -> Root:
        """The database whose images a ``same_image_as`` rule matches (the parser sets it)."""
        if self.reference is None:
            raise ValueError(f"a {self.kind} rule without another database")
        return self.reference

    def describe(self) -> dict[str, Any]:
        text: dict[str, Any] = {"split": self.split} if self.split is not None else {}
        if self.kind == "file":
            text.update(file=str(self.value), sha256=self.sha256, entries=len(self.entries))
        elif self.kind == "same_image_as":
            text.update(same_image_as=self.value, root=str(self.other.path))
        else:
            text.update({self.kind: self.value, "seed": self.seed})
        return text


@dataclass(frozen=True)
class SplitSpec:
    """The ``split:`` of one roots entry."""

    database: str
    default: str | None
    rules: tuple[SplitRule, ...]
    declared_in: str

    @property
    def needs_ids(self) -> bool:
        """True if resolving needs the database's own ids (a fixed-size hold-out)."""
        return any(rule.kind == "hold_out" for rule in self.rules)


def read_split_file(path: Path, split: str | None, where: str) -> dict[str, str]:
    """``key -> split`` of a split file (see the module doc); errors name the file and line."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise SplitError(f"{where}: split file {path}: cannot be read ({error.strerror or error})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line_number = raw[: error.start].count(b"\n") + 1
        raise SplitError(f"{where}: split file {path} line {line_number}: not UTF-8 text") from None
    entries: dict[str, str] = {}
    lines: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        if split is not None:
            if len(fields) != 1:
                raise SplitError(f"{where}: split file {path} line {number}: the rule gives the split "
                                 f"({split}), so a line holds one key, got {len(fields)} fields")
            key, value = fields[0], split
        else:
            if len(fields) != 2:
                raise SplitError(f"{where}: split file {path} line {number}: expected 'key split', "
                                 f"got {len(fields)} fields (or give the rule a 'split')")
            key, value = fields[0], _split_name(fields[1], f"{where}: split file {path} line {number}")
        if key in entries and entries[key] != value:
            raise SplitError(f"{where}: split file {path} line {number}: {key} is given split "
                             f"{value} here and {entries[key]} on line {lines[key]}")
        entries[key], lines[key] = value, number
    if not entries:
        raise SplitError(f"{where}: split file {path} lists no entry")
    return entries


def _rule(data: Any, base: Path, where: str, name: str, roots: Mapping[str, Root]) -> SplitRule:
    if not isinstance(data, dict):
        raise SplitError(f"{where}: a rule is a mapping such as {{split: test, hold_out: 2000}}, "
                         f"got {data!r}")
    kinds = [k for k in RULE_KINDS if k in data]
    unknown = set(data) - set(RULE_KINDS) - {"split", "seed"}
    if len(kinds) != 1 or unknown:
        raise SplitError(f"{where}: a rule needs exactly one of {', '.join(RULE_KINDS)} "
                         f"(plus 'split' and, for hold_out / fraction, 'seed'); got {sorted(data)}")
    kind = kinds[0]
    split = _split_name(data["split"], where) if "split" in data else None
    if split is None and kind != "file":
        raise SplitError(f"{where}: a {kind} rule needs a 'split'")
    seed = data.get("seed", 0)
    if "seed" in data and (kind not in ("hold_out", "fraction") or isinstance(seed, bool)
                           or not isinstance(seed, int)):
        raise SplitError(f"{where}: 'seed' is an integer of a hold_out or fraction rule, got {seed!r}")
    value = data[kind]
    if kind == "file":
        if not isinstance(value, str) or not value:
            raise SplitError(f"{where}: 'file' must be a path, got {value!r}")
        path = Path(os.path.expanduser(value))
        path = (path if path.is_absolute() else base / path).resolve()
        if not path.is_file():
            raise SplitError(f"{where}: split file {path} "
                             + ("is a folder, expected a file" if path.is_dir() else "does not exist"))
        entries = read_split_file(path, split, where)
        return SplitRule(kind, split, path, entries=entries, sha256=file_sha256(path))
    if kind == "same_image_as":
        if value == name or value not in roots:
            raise SplitError(f"{where}: same_image_as names another database of the roots file "
                             f"({', '.join(n for n in roots if n != name) or 'none'}), got {value!r}")
        return SplitRule(kind, split, value, reference=roots[value])
    if kind == "hold_out":
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise SplitError(f"{where}: hold_out is a number of images (at least 1), got {value!r}")
        return SplitRule(kind, split, value, seed=seed)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < value < 1.0:
        raise SplitError(f"{where}: fraction is a number between 0 and 1, got {value!r}")
    return SplitRule(kind, split, float(value), seed=seed)


def parse_split(data: Any, base: Path, roots_file: str, name: str, roots: Mapping[str, Root]
                ) -> SplitSpec:
    """Validate the ``split:`` value of entry ``name`` of ``roots_file``; ``roots`` are the file's
    entries (for ``same_image_as``), ``base`` resolves relative files. Raises :class:`SplitError`."""
    where = f"{roots_file}: {name}: split"
    if isinstance(data, str):
        return SplitSpec(name, _split_name(data, where), (), roots_file)
    if not isinstance(data, dict) or not data or set(data) - {"default", "rules"}:
        raise SplitError(f"{where}: expected a split name or a mapping with 'default' and/or "
                         f"'rules', got {data!r}")
    default = _split_name(data["default"], where) if "default" in data else None
    rules = data.get("rules") or []
    if not isinstance(rules, list):
        raise SplitError(f"{where}: 'rules' must be a list of rules")
    parsed = tuple(_rule(rule, base, f"{where} rule {i + 1}", name, roots) for i, rule in enumerate(rules))
    if default is None and not parsed:
        raise SplitError(f"{where}: declares neither a default nor a rule")
    return SplitSpec(name, default, parsed, roots_file)


# -- resolution ------------------------------------------------------------------------------

def _database_ids(root: Root) -> Iterable[str]:
    """Every sample id of a database's items (rejected folders and lines left out)."""
    from .sources import get_source
    from .sources.base import Rejected

    reader = get_source(root.name)(root.path, **root.options)
    for item in reader.items():
        if not isinstance(item, Rejected):
            yield reader.sample_id(item)


@dataclass
class SplitPlan:
    """A declaration with the sets its rules need: assigns each face its split."""

    spec: SplitSpec
    members: list[frozenset[str] | None]     # per rule: stems / image paths it matches (None: file, fraction)
    counts: list[dict[str, Any]]             # per rule: what resolving found (for the record)
    matched: list[set[str]] = field(init=False)  # per rule: the file keys that matched a face

    def __post_init__(self) -> None:
        self.matched = [set() for _ in self.spec.rules]

    def split_of(self, sample_id: str, reader_split: str) -> str:
        """The split of one face (``reader_split`` where nothing was declared for it)."""
        rule = self.rule_of(sample_id)
        if rule is None:
            return self.spec.default if self.spec.default is not None else reader_split
        return rule[1]

    def rule_of(self, sample_id: str) -> tuple[int, str] | None:
        """(index of the first matching rule, its split) or None."""
        for index, (rule, members) in enumerate(zip(self.spec.rules, self.members, strict=True)):
            if rule.kind == "file":
                for key in keys_of(sample_id):
                    split = rule.entries.get(key)
                    if split is not None:
                        self.matched[index].add(key)
                        return index, split
            elif rule.kind == "same_image_as":
                if members is not None and stem_of(sample_id) in members:
                    return index, rule.target
            elif rule.kind == "hold_out":
                if members is not None and image_path(sample_id) in members:
                    return index, rule.target
            elif hashed_fraction(rule.seed, image_path(sample_id)) < rule.value:
                return index, rule.target
        return None

    def describe(self, matched: bool = True) -> dict[str, Any]:
        """The declaration and what resolving found; ``matched``: with the number of entries of
        each file that matched a face so far (for the report, after the build)."""
        rules = []
        for index, (rule, counts) in enumerate(zip(self.spec.rules, self.counts, strict=True)):
            text = {**rule.describe(), **counts}
            if rule.kind == "file" and matched:
                text["entries_matched"] = len(self.matched[index])
            rules.append(text)
        return {"declared_in": self.spec.declared_in, "default": self.spec.default
                if self.spec.default is not None else "the reader's split", "rules": rules}


def resolve(spec: SplitSpec, root: Root) -> SplitPlan:
    """Fix the sets of ``spec``'s rules for database ``root`` (reads item lists, no annotation)."""
    members: list[frozenset[str] | None] = []
    counts: list[dict[str, int]] = []
    for rule in spec.rules:
        if rule.kind == "same_image_as":
            stems = frozenset(stem_of(sample_id) for sample_id in _database_ids(rule.other))
            if not stems:
                raise SplitError(f"{spec.declared_in}: {spec.database}: split: same_image_as "
                                 f"{rule.value}: {rule.other.path} holds no image")
            members.append(stems)
            counts.append({"images_there": len(stems)})
        else:
            members.append(None)
            counts.append({})
    plan = SplitPlan(spec, members, counts)
    if spec.needs_ids:
        _resolve_hold_outs(plan, list(dict.fromkeys(image_path(i) for i in _database_ids(root))))
    return plan


def _resolve_hold_outs(plan: SplitPlan, images: list[str]) -> None:
    """Choose the images of every hold_out rule, each among the images no earlier rule took."""
    for index, rule in enumerate(plan.spec.rules):
        if rule.kind != "hold_out":
            continue
        earlier = SplitPlan(SplitSpec(plan.spec.database, None, plan.spec.rules[:index],
                                      plan.spec.declared_in), plan.members[:index], plan.counts[:index])
        # (a throw-away plan: its file matches are not the build's)
        free = [image for image in images if earlier.rule_of(image) is None]
        if len(free) < rule.value:
            raise SplitError(f"{plan.spec.declared_in}: {plan.spec.database}: split: hold_out "
                             f"{rule.value}: only {len(free)} images are left by the rules before it")
        order = np.argsort([hashed_fraction(rule.seed, image) for image in free], kind="stable")
        chosen = sorted(free[i] for i in order[: rule.value])
        plan.members[index] = frozenset(chosen)
        plan.counts[index] = {"candidates": len(free), "chosen_sha256": hashlib.sha256(
            "\n".join(chosen).encode("utf-8")).hexdigest()}


# -- application in the build ------------------------------------------------------------------

class DeclaredSplits:
    """The plans of one build: rewrites the ``split`` column of kept rows and counts splits."""

    def __init__(self, plans: Mapping[str, SplitPlan]) -> None:
        self.plans = dict(plans)
        self.counts: dict[str, Counter] = {}

    @classmethod
    def for_roots(cls, roots: Iterable[Root]) -> DeclaredSplits:
        """Every declared split of ``roots``, resolved unless already resolved."""
        plans = {}
        for root in roots:
            if root.split is not None:
                plans[root.name] = root.plan if root.plan is not None else resolve(root.split, root)
        return cls(plans)

    def describe(self, matched: bool = True) -> dict[str, Any]:
        return {name: plan.describe(matched) for name, plan in self.plans.items()}

    def attribute(self) -> str:
        """The shards' ``splits`` attribute: JSON of the declarations as resolved before the build
        (``{}`` when none was declared)."""
        return json.dumps(self.describe(matched=False), sort_keys=True)

    def record(self, report: Any) -> None:
        """Hand the declarations and the faces kept per split to the build report."""
        report.record_splits(self.describe(), self.counts)

    def apply(self, rows: Mapping[str, np.ndarray], source_names: Mapping[int, str]) -> None:
        """Give each row of a column batch its declared split (in place) and count the splits."""
        column = rows["split"]
        for i, (code, sample_id) in enumerate(zip(rows["source"].tolist(), rows["sample_id"], strict=True)):
            name = source_names[code]
            plan = self.plans.get(name)
            if plan is not None:
                column[i] = plan.split_of(str(sample_id), str(column[i]))
            self.counts.setdefault(name, Counter())[str(column[i])] += 1


__all__ = ["DeclaredSplits", "SplitError", "SplitPlan", "SplitRule", "SplitSpec", "parse_split",
           "resolve", "read_split_file"]
