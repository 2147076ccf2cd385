"""The results store: one row per measured value, in an embedded DuckDB file.

A benchmark job (one model x dataset x protocol x fraction x seed x corruption
x severity cell, or whatever unit of work the runner chooses) hands all its rows
to ``ResultsStore.add_rows(job_key, rows)``. They land in one transaction
together with the job's key, so a job is either fully stored or not at all,
and storing it twice is a no-op. A run killed at any point (kill -9) and
restarted asks ``done_jobs()`` and recomputes only the rest.

Beside the rows, the ``outcomes`` table keeps each evaluation's per-test-sample outcomes
(:class:`eokit.bench.stats.Outcomes`, schema-versioned) or the reason it could not be scored,
written in the same transaction as the job's rows; ``eokit report`` computes CIs, chance levels,
pairwise tests and "not ranked" from them without rerunning anything.

DuckDB allows one writing *process* per file. Every access therefore takes an
exclusive file lock (``<file>.lock``, released by the OS if the holder dies),
opens a short-lived connection, and closes it before releasing the lock: two
runs writing into the same store interleave whole transactions and never
corrupt it.
"""

from __future__ import annotations

import datetime as _dt
import functools
import os
import subprocess
import time
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import pandas as pd

from eokit.errors import ConfigError, EokitError

STORE_FILENAME = "results.duckdb"
EXPORT_NAMES = ("results.parquet", "results.csv")

# column -> DuckDB type, in table order
SCHEMA: dict[str, str] = {
    "suite": "VARCHAR",
    "dataset": "VARCHAR",
    "model": "VARCHAR",
    "protocol": "VARCHAR",
    "fraction": "DOUBLE",
    "seed": "BIGINT",
    "corruption": "VARCHAR",
    "severity": "INTEGER",
    "metric": "VARCHAR",
    "value": "DOUBLE",
    "job_key": "VARCHAR",
    "config_hash": "VARCHAR",
    "eokit_version": "VARCHAR",
    "git_sha": "VARCHAR",
    "time": "TIMESTAMP",
}
COLUMNS = tuple(SCHEMA)
REQUIRED = ("suite", "dataset", "model", "protocol", "metric", "value")

OUTCOMES_TABLE = "outcomes"
# per-test-sample outcomes of one evaluation (eokit.bench.stats.Outcomes), or why it has none
_CONDITION_COLUMNS = ("suite", "dataset", "model", "protocol", "fraction", "seed", "corruption", "severity")
OUTCOME_SCHEMA: dict[str, str] = {
    "job_key": "VARCHAR",
    **{c: SCHEMA[c] for c in _CONDITION_COLUMNS},  # the same condition columns as the results
    "task": "VARCHAR",
    "kind": "VARCHAR",
    "k": "INTEGER",
    "n": "INTEGER",
    "reason": "VARCHAR",
    "schema_version": "INTEGER",
    "data": "BLOB",
}
OUTCOME_COLUMNS = tuple(OUTCOME_SCHEMA)


class StoreError(EokitError, OSError):
    """The results store could not be opened or written."""


class ResultsNotFoundError(StoreError, FileNotFoundError):
    """No results at the given path."""


@functools.cache
def git_sha() -> str:
    """The git commit of the eokit source tree, or 'unknown' outside a checkout."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5, check=True
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _version() -> str:
    from eokit import __version__

    return __version__


def _utcnow() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC).replace(tzinfo=None)


@dataclass
class ResultRow:
    """One measured value. ``corruption='none'`` and ``severity=0`` mean clean input."""

    suite: str
    dataset: str
    model: str
    protocol: str
    metric: str
    value: float
    fraction: float = 1.0
    seed: int = 0
    corruption: str = "none"
    severity: int = 0
    job_key: str = ""
    config_hash: str = ""
    eokit_version: str = field(default_factory=_version)
    git_sha: str = field(default_factory=git_sha)
    time: _dt.datetime = field(default_factory=_utcnow)

    @classmethod
    def coerce(cls, row: ResultRow | Mapping[str, Any], job_key: str) -> ResultRow:
        """Validate a dict (or ResultRow) into a ResultRow carrying ``job_key``."""
        d = asdict(row) if isinstance(row, ResultRow) else dict(row)
        missing = [k for k in REQUIRED if d.get(k) is None]
        if missing:
            raise ConfigError(f"result row for job {job_key!r} lacks {missing}: {d}")
        unknown = set(d) - {f.name for f in fields(cls)}
        if unknown:
            raise ConfigError(f"result row for job {job_key!r} has unknown fields {sorted(unknown)}; "
                              f"allowed {list(COLUMNS)}")
        if d.get("job_key") and d["job_key"] != job_key:
            raise ConfigError(f"row says job_key {d['job_key']!r} but was added under job {job_key!r}")
        d["job_key"] = job_key
        try:
            d["value"] = float(d["value"])
            d["fraction"] = float(d.get("fraction", 1.0))
            d["seed"] = int(d.get("seed", 0))
            d["severity"] = int(d.get("severity", 0))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"result row for job {job_key!r} has a non-numeric value: {exc} in {d}") from exc
        r = cls(**d)
        if not 0 < r.fraction <= 1:
            raise ConfigError(f"result row for job {job_key!r}: fraction {r.fraction} is not in (0, 1]")
        if (r.corruption == "none") != (r.severity == 0):
            raise ConfigError(
                f"result row for job {job_key!r}: corruption {r.corruption!r} with severity {r.severity}; "
                "clean rows have corruption='none' and severity=0, corrupted rows severity 1-5"
            )
        if isinstance(r.time, str):
            r.time = pd.Timestamp(r.time).tz_localize(None).to_pydatetime()
        elif isinstance(r.time, _dt.datetime) and r.time.tzinfo is not None:
            r.time = r.time.astimezone(_dt.UTC).replace(tzinfo=None)
        return r

    def values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, c) for c in COLUMNS)


class ResultsStore:
    """An embedded DuckDB results store at ``path`` (a ``.duckdb`` file, or a folder holding ``results.duckdb``)."""

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 600.0) -> None:
        p = Path(path)
        if p.is_dir() or (not p.suffix and not p.exists()):
            p = p / STORE_FILENAME
        self.path = p
        self.timeout = timeout
        self.path.parent.mkdir(parents=True, exist_ok=True)
        from filelock import FileLock

        self._lock = FileLock(str(self.path) + ".lock", timeout=timeout)
        with self._connect() as con:
            cols = ", ".join(f'"{c}" {t}' for c, t in SCHEMA.items())
            con.execute(f"CREATE TABLE IF NOT EXISTS results ({cols})")
            con.execute(
                "CREATE TABLE IF NOT EXISTS jobs (job_key VARCHAR PRIMARY KEY, n_rows INTEGER, time TIMESTAMP)"
            )
            ocols = ", ".join(f'"{c}" {t}' for c, t in OUTCOME_SCHEMA.items())
            con.execute(f"CREATE TABLE IF NOT EXISTS {OUTCOMES_TABLE} ({ocols})")

    def __repr__(self) -> str:
        return f"ResultsStore({str(self.path)!r})"

    @contextmanager
    def _connect(self) -> Iterator[Any]:
        """Exclusive lock + a short-lived connection (retried while another process holds the file)."""
        import duckdb
        from filelock import Timeout

        try:
            self._lock.acquire()
        except Timeout as exc:
            raise StoreError(f"results store {str(self.path)!r}: lock {self._lock.lock_file!r} held for more "
                             f"than {self.timeout:.0f} s by another process") from exc
        try:
            delay, deadline = 0.05, time.monotonic() + self.timeout
            while True:
                try:
                    con = duckdb.connect(str(self.path))
                    break
                except duckdb.IOException as exc:  # a process not using our lock holds the file
                    if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                        raise StoreError(f"cannot open results store {str(self.path)!r}: {exc}") from exc
                    time.sleep(delay)
                    delay = min(delay * 2, 1.0)
                except duckdb.Error as exc:
                    raise StoreError(f"cannot open results store {str(self.path)!r} (not a DuckDB file?): "
                                     f"{exc}") from exc
            try:
                yield con
            finally:
                con.close()
        finally:
            self._lock.release()

    # -- writing ------------------------------------------------------------
    def add_rows(self, job_key: str, rows: Iterable[ResultRow | Mapping[str, Any]]) -> bool:
        """Store a job's rows in one transaction; False (and nothing written) if the job is already stored."""
        return job_key in self.add_jobs({job_key: rows})

    def add_jobs(self, jobs: Mapping[str, Iterable[ResultRow | Mapping[str, Any]]],
                 outcomes: Mapping[str, Iterable[Mapping[str, Any]]] | None = None) -> set[str]:
        """Store several jobs through one connection, one transaction per job; returns the keys newly stored.

        Faster than one ``add_rows`` per job (a connection costs ~0.1 s); every
        job is still all-or-nothing and durable once its transaction commits.
        ``outcomes`` (``{job_key: [record]}``, records as :func:`outcome_record` makes
        them) land in the same transaction as their job's rows.
        """
        prepared = {}
        for job_key, rows in jobs.items():
            if not job_key or not isinstance(job_key, str):
                raise ConfigError(f"job_key must be a non-empty string, got {job_key!r}")
            prepared[job_key] = [ResultRow.coerce(r, job_key) for r in rows]
        extra = {k: [_outcome_values(r, k) for r in v] for k, v in (outcomes or {}).items()}
        unknown = sorted(set(extra) - set(prepared))
        if unknown:
            raise ConfigError(f"outcomes given for jobs {unknown} that are not being stored")
        written: set[str] = set()
        with self._connect() as con:
            for job_key, recs in prepared.items():
                if self._insert_job(con, job_key, recs, extra.get(job_key, [])):
                    written.add(job_key)
        return written

    @staticmethod
    def _insert_job(con: Any, job_key: str, recs: list[ResultRow], outs: Sequence[tuple[Any, ...]] = ()) -> bool:
        con.execute("BEGIN TRANSACTION")
        try:
            if con.execute("SELECT 1 FROM jobs WHERE job_key = ?", [job_key]).fetchone():
                con.execute("ROLLBACK")
                return False
            if recs:
                batch = pd.DataFrame([r.values() for r in recs], columns=list(COLUMNS))
                con.register("_eokit_rows", batch)
                con.execute(f"INSERT INTO results SELECT {', '.join(COLUMNS)} FROM _eokit_rows")
                con.unregister("_eokit_rows")
            if outs:
                marks = ", ".join("?" for _ in OUTCOME_COLUMNS)
                con.executemany(f"INSERT INTO {OUTCOMES_TABLE} VALUES ({marks})", [list(o) for o in outs])
            con.execute("INSERT INTO jobs VALUES (?, ?, ?)", [job_key, len(recs), _utcnow()])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return True

    # -- reading ------------------------------------------------------------
    def done_jobs(self) -> set[str]:
        """Keys of every stored job."""
        with self._connect() as con:
            return {r[0] for r in con.execute("SELECT job_key FROM jobs").fetchall()}

    def has(self, job_key: str) -> bool:
        with self._connect() as con:
            return con.execute("SELECT 1 FROM jobs WHERE job_key = ?", [job_key]).fetchone() is not None

    def frame(self, suite: str | None = None, job_keys: Collection[str] | None = None) -> pd.DataFrame:
        """All rows (of ``suite``, of the jobs ``job_keys`` if given) as a DataFrame with the store's columns.

        ``job_keys``: a run's plan (``Plan.job_keys``). A job's key hashes its model, dataset, protocol
        and seed configuration, so rows of an earlier configuration of the same names (a dataset whose
        band order was fixed, say) stay in the store but are not pooled with the current ones.
        """
        q = "SELECT * FROM results" + (" WHERE suite = ?" if suite is not None else "")
        q += " ORDER BY suite, dataset, model, protocol, fraction, seed, corruption, severity, metric"
        with self._connect() as con:
            df = con.execute(q, [suite] if suite is not None else []).df()
        if job_keys is not None:
            df = df[df["job_key"].isin(set(job_keys))].reset_index(drop=True)
        return _typed(df)

    def outcomes(self, suite: str | None = None, job_keys: Collection[str] | None = None) -> pd.DataFrame:
        """Stored per-sample outcomes of the current schema: one row per (job, condition).

        Columns: ``OUTCOME_COLUMNS`` less ``data`` and ``schema_version``, plus ``outcomes``
        (an :class:`eokit.bench.stats.Outcomes`, or None where ``reason`` says why there are none).
        Records of another schema version are left out: their result rows still report, with
        seed-only CIs and no pairwise tests.
        """
        from eokit.bench.stats import OUTCOMES_SCHEMA, Outcomes

        q = f"SELECT * FROM {OUTCOMES_TABLE} WHERE schema_version = ?" + (" AND suite = ?" if suite else "")
        with self._connect() as con:
            recs = con.execute(q, [OUTCOMES_SCHEMA, *([suite] if suite else [])]).fetchall()
        df = pd.DataFrame(recs, columns=list(OUTCOME_COLUMNS))
        if job_keys is not None:  # a run's plan: outcomes of earlier configurations are left out (see frame)
            df = df[df["job_key"].isin(set(job_keys))].reset_index(drop=True)
        objs = [None if blob is None else Outcomes.from_bytes(t, kd, int(k), bytes(blob))
                for t, kd, k, blob in zip(df["task"], df["kind"], df["k"], df["data"], strict=True)]
        df = df.drop(columns=["data", "schema_version"])
        df["reason"] = df["reason"].fillna("").astype(str)
        df["corruption"] = df["corruption"].fillna("none").astype(str)
        df["severity"] = pd.to_numeric(df["severity"]).fillna(0).astype("int64")
        df["seed"] = pd.to_numeric(df["seed"]).fillna(0).astype("int64")
        df["fraction"] = pd.to_numeric(df["fraction"]).astype(float)
        df["outcomes"] = pd.Series(objs, index=df.index, dtype=object)
        return df.reset_index(drop=True)

    def __len__(self) -> int:
        with self._connect() as con:
            return int(con.execute("SELECT count(*) FROM results").fetchone()[0])

    def export(self, out_dir: str | os.PathLike[str] | None = None,
               job_keys: Collection[str] | None = None) -> tuple[Path, Path]:
        """Write ``results.parquet`` and ``results.csv`` (atomically) into ``out_dir`` (default: beside the
        store): every row, or the rows of the jobs ``job_keys`` (a run's plan; see :meth:`frame`)."""
        from eokit.io import atomic_path

        out = Path(out_dir) if out_dir is not None else self.path.parent
        df = self.frame(job_keys=job_keys)
        paths = (out / EXPORT_NAMES[0], out / EXPORT_NAMES[1])
        with atomic_path(paths[0]) as tmp:
            df.to_parquet(tmp, index=False)
        with atomic_path(paths[1]) as tmp:
            df.to_csv(tmp, index=False)
        return paths


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    """Stable dtypes whatever the source (DuckDB, Parquet, CSV)."""
    df = df.reindex(columns=list(COLUMNS) + [c for c in df.columns if c not in SCHEMA])
    for c in ("fraction", "value"):
        df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
    for c in ("seed", "severity"):
        df[c] = pd.to_numeric(df[c], errors="coerce").fillna(0).astype("int64")
    for c in ("suite", "dataset", "model", "protocol", "corruption", "metric", "job_key", "config_hash",
              "eokit_version", "git_sha"):
        df[c] = df[c].astype(object).where(df[c].notna(), "").astype(str)
    df["corruption"] = df["corruption"].replace("", "none")
    df["time"] = pd.to_datetime(df["time"], errors="coerce")
    return df.reset_index(drop=True)


def split_protocol(df: pd.DataFrame | None, protocol: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the other rows, ``protocol``'s rows) of a results frame: side protocols (SR in the loop, missing
    modality) have their own tables and stay out of the leaderboard."""
    if df is None:
        return pd.DataFrame(), pd.DataFrame()
    if df.empty or "protocol" not in df.columns:
        return df, df.iloc[0:0]
    mine = df["protocol"] == protocol
    return df[~mine], df[mine]


def outcome_record(row: Mapping[str, Any], outcomes: Any = None, reason: str = "") -> dict[str, Any]:
    """An outcomes-table record for the evaluation that made result row ``row`` (its keys
    suite, dataset, model, protocol, fraction, seed, corruption, severity): ``outcomes`` (an
    :class:`eokit.bench.stats.Outcomes`) or, when the evaluation could not be scored, ``reason``."""
    rec = {k: row.get(k) for k in ("suite", "dataset", "model", "protocol", "fraction", "seed",
                                   "corruption", "severity")}
    rec.update(task=getattr(outcomes, "task", str(row.get("task", ""))), kind=getattr(outcomes, "kind", ""),
               k=int(getattr(outcomes, "k", 0)), n=int(getattr(outcomes, "n", 0)), reason=reason,
               data=None if outcomes is None else outcomes.to_bytes())
    return rec


def _outcome_values(rec: Mapping[str, Any], job_key: str) -> tuple[Any, ...]:
    from eokit.bench.stats import OUTCOMES_SCHEMA

    d = dict(rec, job_key=job_key, schema_version=OUTCOMES_SCHEMA)
    missing = [c for c in OUTCOME_COLUMNS if c not in d]
    if missing:
        raise ConfigError(f"outcome record for job {job_key!r} lacks {missing}; make it with outcome_record()")
    d["corruption"] = d["corruption"] or "none"
    d["severity"] = int(d["severity"] or 0)
    return tuple(d[c] for c in OUTCOME_COLUMNS)


def load_outcomes(path: str | os.PathLike[str], suite: str | None = None) -> pd.DataFrame | None:
    """The stored outcomes beside results at ``path`` (a results folder or ``.duckdb``), or None
    when there is no store there (exported ``.parquet``/``.csv`` files carry no outcomes)."""
    p = Path(path)
    if p.is_dir():
        p = p / STORE_FILENAME
    if p.suffix.lower() not in (".duckdb", ".db"):
        p = p.parent / STORE_FILENAME
    if not p.exists():
        return None
    return ResultsStore(p).outcomes(suite)


def load_results(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Rows from a results folder, a ``.duckdb`` store, or an exported ``.parquet``/``.csv`` file."""
    p = Path(path)
    if p.is_dir():
        for name in (STORE_FILENAME, *EXPORT_NAMES):
            if (p / name).exists():
                return load_results(p / name)
        raise ResultsNotFoundError(
            f"no results in folder {str(p)!r}: expected {STORE_FILENAME}, {EXPORT_NAMES[0]} or {EXPORT_NAMES[1]} "
            "(run `eokit bench` to produce them)"
        )
    if not p.exists():
        raise ResultsNotFoundError(f"results {str(p)!r} do not exist (give a results folder, .duckdb, .parquet or .csv)")
    suffix = p.suffix.lower()
    if suffix in (".duckdb", ".db"):
        return ResultsStore(p).frame()
    if suffix == ".parquet":
        return _typed(pd.read_parquet(p))
    if suffix == ".csv":
        return _typed(pd.read_csv(p))
    raise ConfigError(f"cannot read results from {str(p)!r}: use a results folder, .duckdb, .parquet or .csv")
