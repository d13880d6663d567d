"""``roots.yaml``: where each database lives on disk, and how its faces are split.

Each key is a database name (one of the registry's, :mod:`.sources.registry`: ``aflw``, ``300w``,
``300w_lp``, ``aflw2000_3d``, ``ls3d_w``, ``facewarehouse``, ``lfw74``, ``wflw`` and those of
``$LANDMARK_FUSION_DATABASES``); the value is either a folder, or a mapping
``{path: FOLDER, options: {...}, split: ...}`` whose options are passed to the database's reader
as keyword arguments and whose split declaration (:mod:`.splits`) replaces the reader's splits.
Relative folders are relative to the roots file. Without ``--roots`` the file is
``$LANDMARK_FUSION_ROOTS`` if set, else ``./roots.yaml``.

Every problem with the file -- not UTF-8, not YAML, a key given twice, an unknown database or
option, a folder that is a file -- is a :class:`RootsError` whose message names the file and the
entry; the command turns it into one line and exit status 2.
"""
from __future__ import annotations

import inspect
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .splits import SplitError, SplitPlan, SplitSpec, parse_split, resolve

ENV_VAR = "LANDMARK_FUSION_ROOTS"
ENTRY_KEYS = ("path", "options", "split")


class RootsError(ValueError):
    """A roots file that cannot be used (missing, malformed, unknown database, missing folder)."""


@dataclass(frozen=True)
class Root:
    """One database entry of a roots file.

    ``split``: the entry's split declaration; ``plan``: that declaration resolved (by
    :func:`select_sources`), which stays in the building process (it is not pickled).
    """

    name: str
    path: Path
    options: dict[str, Any] = field(default_factory=dict)
    split: SplitSpec | None = None
    plan: SplitPlan | None = field(default=None, compare=False, repr=False)
    roots_file: str = "roots"  # where the entry was declared, for messages

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["plan"] = None  # workers do not assign splits; the sets can be large
        return state


def default_roots_path() -> Path:
    """``$LANDMARK_FUSION_ROOTS`` if set, else ``./roots.yaml``."""
    env = os.environ.get(ENV_VAR)
    return Path(env) if env else Path("roots.yaml")


def _folder(value: Any, base: Path, where: str, name: str) -> Path:
    if not isinstance(value, (str, os.PathLike)) or not str(value):
        raise RootsError(f"{where}: {name}: folder must be a path string, got {value!r}")
    text = os.path.expanduser(str(value))
    if "\0" in text:
        raise RootsError(f"{where}: {name}: folder {text!r} holds a NUL character")
    path = Path(text)
    if not path.is_absolute():
        path = base / path
    return path.resolve()


def parse_roots(data: Any, base: Path, where: str = "roots") -> dict[str, Root]:
    """Validate the parsed YAML of a roots file; ``base`` resolves relative folders and files."""
    from .sources.registry import names

    known = names()
    if not isinstance(data, dict) or not data:
        raise RootsError(f"{where}: expected a mapping of database name to folder, got "
                         f"{'an empty file' if data is None else type(data).__name__}")
    roots: dict[str, Root] = {}
    splits: dict[str, Any] = {}
    for name, value in data.items():
        if not isinstance(name, str):
            raise RootsError(f"{where}: {name!r} is not a database name; known: {', '.join(known)}")
        if name not in known:
            raise RootsError(f"{where}: unknown database {name!r}; known: {', '.join(known)}")
        options: dict[str, Any] = {}
        if isinstance(value, dict):
            unknown = set(value) - set(ENTRY_KEYS)
            if "path" not in value or unknown:
                raise RootsError(f"{where}: {name}: a mapping entry needs 'path' and optional "
                                 f"'options' and 'split' only (got {sorted(map(str, value))})")
            options = value.get("options") or {}
            if not isinstance(options, dict):
                raise RootsError(f"{where}: {name}: 'options' must be a mapping")
            bad = [key for key in options if not isinstance(key, str) or not key.isidentifier()]
            if bad:
                raise RootsError(f"{where}: {name}: option names must be words, got {bad!r}")
            if "split" in value:
                splits[name] = value["split"]
            value = value["path"]
        roots[name] = Root(name, _folder(value, base, where, name), dict(options), roots_file=where)
    for name, declaration in splits.items():
        try:
            spec = parse_split(declaration, base, where, name, roots)
        except SplitError as error:
            raise RootsError(str(error)) from None
        roots[name] = replace(roots[name], split=spec)
    return roots


def _unique_key_loader():
    """A ``yaml.SafeLoader`` that refuses a key given twice in one mapping (``safe_load`` keeps
    the last one silently, so a second ``aflw:`` entry would hide the first)."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def mapping(loader: Loader, node: yaml.MappingNode, deep: bool = False) -> dict:
        loader.flatten_mapping(node)
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            try:
                first = seen.setdefault(key, line)
            except TypeError:
                continue  # an unhashable key: construct_mapping reports it
            if first != line:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} given twice (first on line {first})", key_node.start_mark)
        return loader.construct_mapping(node, deep)

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    return Loader


def load_roots(path: str | os.PathLike | None = None) -> dict[str, Root]:
    """Read and validate a roots file (default: :func:`default_roots_path`)."""
    import yaml

    path = Path(path) if path is not None else default_roots_path()
    if path.is_dir():
        raise RootsError(f"roots file {path} is a folder, expected a YAML file")
    if not path.is_file():
        raise RootsError(f"roots file {path} not found (pass --roots or set ${ENV_VAR})")
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise RootsError(f"{path}: cannot be read ({error.strerror or error})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise RootsError(f"{path}: not UTF-8 text (byte {raw[error.start:error.start + 1]!r} "
                         f"on line {line}); save the file as UTF-8") from None
    try:
        data = yaml.load(text, Loader=_unique_key_loader())  # a SafeLoader: no objects built
    except yaml.YAMLError as error:
        raise RootsError(f"{path}: not valid YAML ({error})") from None
    return parse_roots(data, path.resolve().parent, str(path))


def check_reader(root: Root) -> None:
    """Construct the reader of ``root`` once, so that a misspelt option or a bad option value is
    a :class:`RootsError` now rather than a rejected database later. A root whose layout the
    reader does not know is no error here: the build names it and goes on."""
    from .sources import get_source

    where = root.roots_file
    reader = get_source(root.name)
    parameters = inspect.signature(reader.__init__).parameters
    known = [p for p in parameters if p not in ("self", "root")]
    unknown = [key for key in root.options if key not in known]
    if unknown:
        raise RootsError(f"{where}: {root.name}: unknown option {', '.join(map(repr, unknown))}; "
                         f"the {root.name} reader takes {', '.join(known) or 'no options'}")
    try:
        reader(root.path, **root.options)
    except (TypeError, ValueError) as error:
        raise RootsError(f"{where}: {root.name}: options: {error}") from None


def _check_folder(root: Root, role: str = "") -> None:
    if root.path.is_dir():
        return
    what = f"{root.roots_file}: {root.name}{role}: folder {root.path}"
    if root.path.exists():
        raise RootsError(f"{what} is a file, expected a folder")
    raise RootsError(f"{what} does not exist")


def select_sources(roots: dict[str, Root], spec: str) -> list[Root]:
    """``all`` (every database in the roots file, in file order) or a comma list of names.

    The selected folders (and those a split declaration refers to) must exist; each selected
    reader is constructed once to check its options; declared splits are resolved.
    """
    spec = spec.strip()
    if spec == "all":
        chosen = list(roots)
    else:
        chosen = [name.strip() for name in spec.split(",") if name.strip()]
        if not chosen:
            raise RootsError("--sources: empty list")
        missing = [name for name in chosen if name not in roots]
        if missing:
            raise RootsError(f"--sources: {', '.join(missing)} not in the roots file "
                             f"(it has: {', '.join(roots)})")
        if len(set(chosen)) != len(chosen):
            raise RootsError("--sources: a database is named twice")
    selected = []
    for name in chosen:
        root = roots[name]
        _check_folder(root)
        check_reader(root)
        if root.split is not None:
            for rule in root.split.rules:
                if rule.reference is not None:
                    _check_folder(rule.reference, f" (named by the split of {name})")
                    check_reader(rule.reference)
            try:
                root = replace(root, plan=resolve(root.split, root))
            except SplitError as error:
                raise RootsError(str(error)) from None
        selected.append(root)
    return selected
