"""One person, one pseudonym: link a person-level source's records into a person key across all its files.

Staging is incremental per file; people are not. A woman registered by phone alone at one event and
by CURP and phone at a later one, possibly in another project's file, is one person. So after the
files of a linking source (`Source.linking`) are staged, this pass runs over the whole source and
rewrites its pseudonym column (`person_id`) to the linked person key. It runs whenever one of the
source's files was staged, restaged or removed since the last pass (`relink_needed`); a change to
the rule below changes the contract version (`RULE_FINGERPRINT`), so every file is restaged and linked.

The rule, over the keyed pseudonyms of each identifier (`curp_id`, `email_id`, `phone_id`, staged by
the validation query; the raw identifiers are never stored):

1. A record with a CURP is the person of that CURP. Two different CURPs are two people, whatever
   phones or emails they share.
2. Records without a CURP are linked through a shared email or phone, transitively (a record with
   both an email and a phone joins them): each group so formed is a *cluster*, found as connected
   components by min-label propagation in SQL.
3. A cluster whose emails and phones appear on records of exactly one CURP is that CURP's person.
   One that appears with no CURP is a person of its own. One that appears with two or more CURPs is
   a **conflict**: which of them it is cannot be told, so it is kept apart from all of them as a
   person of its own, and the CURP records keep their CURPs.
4. A record with none of CURP, email or phone is identified by its name alone, as before; a name
   links no other record (names are not unique).

The person key is the CURP's pseudonym, or else the smallest pseudonym among the cluster's emails
and phones: a pseudonym too, never an identifier, and like every pseudonym it stays out of the marts.
Each file's rows that touch a conflict (their email or phone belongs to a cluster seen with two or
more CURPs) are counted in `load_audit.linking_conflicts`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import duckdb

from mel_pipeline.contract import Source
from mel_pipeline.validation import linking_column
from mel_pipeline.warehouse import quote_identifier as qi

# Each statement is formatted with the staging table and the staged pseudonym columns.
RECORDS_SQL = """
CREATE OR REPLACE TEMP TABLE link_records AS
SELECT DISTINCT {anchor} AS anchor, {first} AS first, {second} AS second FROM {table}
WHERE coalesce({anchor}, {first}, {second}) IS NOT NULL"""
# The email-phone pairs of records without a CURP, both ways round: the edges of the clusters' graph.
EDGES_SQL = """
CREATE OR REPLACE TEMP TABLE link_edges AS
WITH pairs AS (SELECT DISTINCT first, second FROM link_records
               WHERE anchor IS NULL AND first IS NOT NULL AND second IS NOT NULL)
SELECT first AS node, second AS neighbour FROM pairs UNION ALL SELECT second, first FROM pairs"""
START_LABELS_SQL = """
CREATE OR REPLACE TEMP TABLE link_labels AS SELECT DISTINCT node, node AS label FROM link_edges"""
# One round of propagation: every node takes the smallest label among its own, its neighbours' and
# its label's label (the jump makes long chains converge in about log2(length) rounds).
NEXT_LABELS_SQL = """
CREATE OR REPLACE TEMP TABLE link_next AS
SELECT l.node, least(l.label, min(n.label), min(j.label)) AS label
FROM link_labels l JOIN link_edges e ON e.node = l.node JOIN link_labels n ON n.node = e.neighbour
     JOIN link_labels j ON j.node = l.label
GROUP BY l.node, l.label"""
CHANGED_SQL = "SELECT count(*) FROM link_next n JOIN link_labels l USING (node) WHERE n.label <> l.label"
# Every email and phone: its cluster, the cluster's person key, and whether the cluster is a conflict.
PERSONS_SQL = """
CREATE OR REPLACE TEMP TABLE link_persons AS
WITH nodes AS (SELECT first AS node FROM link_records WHERE first IS NOT NULL
               UNION SELECT second FROM link_records WHERE second IS NOT NULL),
clusters AS (SELECT n.node, coalesce(l.label, n.node) AS cluster FROM nodes n LEFT JOIN link_labels l USING (node)),
anchored AS (
    SELECT c.cluster, r.anchor FROM link_records r JOIN clusters c ON c.node = r.first WHERE r.anchor IS NOT NULL
    UNION SELECT c.cluster, r.anchor FROM link_records r JOIN clusters c ON c.node = r.second WHERE r.anchor IS NOT NULL
),
anchors AS (SELECT cluster, count(*) AS anchors, min(anchor) AS anchor FROM anchored GROUP BY cluster)
SELECT c.node, CASE WHEN a.anchors = 1 THEN a.anchor ELSE c.cluster END AS person_id,
       coalesce(a.anchors, 0) >= 2 AS conflict
FROM clusters c LEFT JOIN anchors a USING (cluster)"""
# Records with a CURP already carry its pseudonym, and name-only records their name's: only the others move.
UPDATE_SQL = """
UPDATE {table} SET {person} = p.person_id FROM link_persons p
WHERE {table}.{anchor} IS NULL AND p.node = coalesce({table}.{first}, {table}.{second})
  AND {table}.{person} IS DISTINCT FROM p.person_id"""
CONFLICTS_SQL = """
WITH conflicted AS (SELECT node FROM link_persons WHERE conflict)
SELECT _source_file, count(*) FILTER (WHERE {first} IN (SELECT node FROM conflicted)
                                        OR {second} IN (SELECT node FROM conflicted))
FROM {table} GROUP BY _source_file"""
LINKING_STATEMENTS = (RECORDS_SQL, EDGES_SQL, START_LABELS_SQL, NEXT_LABELS_SQL, CHANGED_SQL, PERSONS_SQL,
                      UPDATE_SQL, CONFLICTS_SQL)
# Part of the participants' contract version: a change to the rule relinks every record.
RULE_FINGERPRINT = hashlib.sha256("\n".join(LINKING_STATEMENTS).encode()).hexdigest()[:16]
TEMPORARY_TABLES = ("link_records", "link_edges", "link_labels", "link_next", "link_persons")


@dataclass(frozen=True)
class LinkingResult:
    """What one linking pass found and did."""

    records_moved: int  # staged rows whose person key changed
    rounds: int  # label-propagation rounds until the clusters were stable
    conflicts: dict[str, int]  # file -> rows touching a cluster seen with two or more CURPs


def relink_needed(connection: duckdb.DuckDBPyConnection, source: Source) -> bool:
    """Whether a file of the source was staged since the last pass (its `linking_conflicts` is not set yet)."""
    return bool(connection.execute(
        "SELECT count(*) FROM load_audit WHERE source = ? AND linking_conflicts IS NULL", [source.name]).fetchone()[0])


def link_people(connection: duckdb.DuckDBPyConnection, source: Source) -> LinkingResult:
    """Rewrite the source's person keys by the rule above and record each file's conflicts, in one transaction."""
    linking = source.linking
    names = {"table": qi(f"stg_{source.name}"), "person": qi(source.pseudonym[0]),
             "anchor": qi(linking_column(linking.anchor)),
             "first": qi(linking_column(linking.shared[0])), "second": qi(linking_column(linking.shared[1]))}
    connection.execute("BEGIN TRANSACTION")
    try:
        for statement in (RECORDS_SQL, EDGES_SQL, START_LABELS_SQL):
            connection.execute(statement.format(**names))
        rounds = 0
        while True:
            rounds += 1
            connection.execute(NEXT_LABELS_SQL)
            changed = connection.execute(CHANGED_SQL).fetchone()[0]
            connection.execute("DROP TABLE link_labels")
            connection.execute("ALTER TABLE link_next RENAME TO link_labels")
            if not changed:
                break
        connection.execute(PERSONS_SQL)
        moved = connection.execute(UPDATE_SQL.format(**names)).fetchone()[0]
        conflicts = dict(connection.execute(CONFLICTS_SQL.format(**names)).fetchall())
        connection.execute("UPDATE load_audit SET linking_conflicts = 0 WHERE source = ?", [source.name])
        conflicted_files = [[count, source.name, file] for file, count in conflicts.items() if count]
        if conflicted_files:
            connection.executemany("UPDATE load_audit SET linking_conflicts = ? WHERE source = ? AND file = ?",
                                   conflicted_files)
        for table in TEMPORARY_TABLES:
            connection.execute(f"DROP TABLE IF EXISTS {table}")
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    return LinkingResult(moved, rounds, conflicts)
