"""`ccoperator plan -f PATH`: the ClientCredentialClients of manifest files, folders and stdin.

As `kubectl apply -f` reads them: a file, the YAML and JSON files of a folder (not its
sub-folders), or `-` for stdin; each may hold many documents (`---`) and `kind: List`s, so
`kustomize build | ccoperator plan -f -` works. Objects of other kinds are skipped with a note.
Nothing read here is ever printed but kinds, namespaces and names: a stream can hold Secrets.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import yaml

from ..api.clients import API_VERSION, GROUP, KIND
from .common import CommandError

SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class Manifest:
    source: str  # the file (or "stdin") and document number, for messages
    namespace: str
    name: str
    body: dict[str, Any]


@dataclass
class Loaded:
    manifests: list[Manifest] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was skipped, and why

    @property
    def namespaces(self) -> list[str]:
        return sorted({m.namespace for m in self.manifests})


def load(paths: Sequence[str], stdin: TextIO, default_namespace: str) -> Loaded:
    """Every ClientCredentialClient of `paths`, its namespace filled in (`default_namespace`
    where the manifest names none). Raises CommandError for a path that cannot be read, a
    document that is not YAML or not an object, and a resource declared twice."""
    loaded = Loaded()
    seen: dict[tuple[str, str], str] = {}
    if sum(path == "-" for path in paths) > 1:
        raise CommandError("-f -: stdin can be read only once")
    for source, text in _texts(paths, stdin):
        for number, document in enumerate(_documents(source, text), start=1):
            where = f"{source} (document {number})" if number > 1 else source
            for obj in _objects(where, document):
                manifest = _manifest(where, obj, default_namespace, loaded.notes)
                if manifest is None:
                    continue
                key = (manifest.namespace, manifest.name)
                if key in seen:
                    raise CommandError(f"ClientCredentialClient {key[0]}/{key[1]} is declared "
                                       f"twice: {seen[key]} and {where}")
                seen[key] = where
                loaded.manifests.append(manifest)
    return loaded


def _texts(paths: Sequence[str], stdin: TextIO) -> Iterator[tuple[str, str]]:
    for path in paths:
        if path == "-":
            yield "stdin", stdin.read()
            continue
        target = Path(path)
        if target.is_dir():
            files = sorted(p for p in target.iterdir() if p.is_file() and p.suffix in SUFFIXES)
        elif target.exists():
            files = [target]
        else:
            raise CommandError(f"-f {path}: no such file or folder")
        for file in files:
            try:
                yield str(file), file.read_text()
            except (OSError, UnicodeDecodeError) as exc:
                raise CommandError(f"-f {file}: cannot be read ({exc})") from None


def _documents(source: str, text: str) -> list[Any]:
    try:
        return [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as exc:
        # The problem and where, never the text around it (a stream may hold a Secret).
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise CommandError(f"{source} is not YAML{at}: {problem}") from None


def _objects(where: str, document: Any) -> Iterator[dict[str, Any]]:
    if not isinstance(document, dict):
        raise CommandError(f"{where}: not a Kubernetes object (a YAML "
                           f"{type(document).__name__}, expected a mapping)")
    items = document.get("items")
    if str(document.get("kind") or "").endswith("List") and isinstance(items, list):
        for item in items:
            yield from _objects(where, item)
        return
    yield document


def _manifest(where: str, obj: dict[str, Any], default_namespace: str,
              notes: list[str]) -> Manifest | None:
    kind, api_version = str(obj.get("kind") or ""), str(obj.get("apiVersion") or "")
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    assert isinstance(meta, dict)
    shown = "/".join(str(p) for p in (meta.get("namespace"), meta.get("name")) if p)
    if kind != KIND or api_version.partition("/")[0] != GROUP:
        notes.append(f"skipped {kind or 'an object without kind'} {shown or '(no name)'} "
                     f"({where}): plan shows ClientCredentialClients only")
        return None
    if api_version != API_VERSION:
        notes.append(f"skipped ClientCredentialClient {shown} ({where}): apiVersion "
                     f"{api_version} is not served; {API_VERSION} is")
        return None
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        raise CommandError(f"{where}: a ClientCredentialClient without metadata.name "
                           "(generateName cannot be planned)")
    namespace = str(meta.get("namespace") or default_namespace)
    body = {**obj, "metadata": {**meta, "namespace": namespace}}
    return Manifest(where, namespace, name, body)
