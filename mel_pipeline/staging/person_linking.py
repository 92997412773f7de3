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
   both an email and a phone joins them): each group so formed is a *cluster*.
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

How, so that ten million records cost seconds rather than minutes: only the emails and phones that
share a record without a CURP get dense integer ids (DuckDB), and the clusters are the connected
components of that graph (scipy, over int32 arrays; no Python object per record). Every other email
or phone is a cluster of its own. One aggregation over the staged table gives each email and phone
the smallest and largest CURP seen with it, which tells none, one (they are equal) and two or more
(they differ) apart without keeping sets of CURPs. Only the emails and phones that some record must
move to, or that are in conflict, are kept, and the rows whose key changes are rewritten by row id,
in row order.
"""

from __future__ import annotations

import hashlib
import inspect
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from mel_pipeline.staging.contract import Source
from mel_pipeline.staging.validation import linking_column, linking_id_pseudonym_sql, linking_id_sql
from mel_pipeline.warehouse import quote_identifier as qi

# Each statement is formatted with the staging table and the staged pseudonym columns.
# The emails and phones of records without a CURP that carry both: the nodes of the clusters' graph,
# with ids in pseudonym order, so that a cluster's smallest id is its smallest pseudonym.
GRAPH_NODES_SQL = """
CREATE OR REPLACE TEMP TABLE link_graph_nodes AS
WITH pairs AS (SELECT {first} AS first, {second} AS second FROM {table}
               WHERE {anchor} IS NULL AND {first} IS NOT NULL AND {second} IS NOT NULL)
SELECT node, (row_number() OVER (ORDER BY node) - 1)::INTEGER AS id
FROM (SELECT first AS node FROM pairs UNION SELECT second FROM pairs)"""
EDGES_SQL = """
SELECT f.id AS first, s.id AS second
FROM {table} t JOIN link_graph_nodes f ON f.node = t.{first} JOIN link_graph_nodes s ON s.node = t.{second}
WHERE t.{anchor} IS NULL"""
# Every node of the graph and its cluster's smallest pseudonym, from `link_components` (id, smallest id).
CLUSTERS_SQL = """
CREATE OR REPLACE TEMP TABLE link_clusters AS
SELECT n.node, k.node AS cluster
FROM link_components c JOIN link_graph_nodes n ON n.id = c.id JOIN link_graph_nodes k ON k.id = c.smallest"""
# Every email and phone, once: its cluster, the smallest and largest CURP seen with it, and whether it
# is the key of a record without a CURP (its email, else its phone). Kept only if it is in the graph,
# seen with two or more CURPs, or the key of such a record and seen with a CURP: every other email or
# phone is a person of its own that no record has to move to. The pseudonyms are the 128-bit numbers
# their hex digits spell (`validation.LINKING_ID_TYPE`), which keeps their order: as strings, the
# smallest and largest CURP of ten million records took 16 s, as numbers 9 s.
NODES_SQL = """
CREATE OR REPLACE TEMP TABLE link_nodes AS
WITH pairs AS (
    SELECT {first} AS node, {anchor} AS anchor, {anchor} IS NULL AS keys_a_record
    FROM {table} WHERE {first} IS NOT NULL
    UNION ALL SELECT {second}, {anchor}, {anchor} IS NULL AND {first} IS NULL
    FROM {table} WHERE {second} IS NOT NULL
),
nodes AS (SELECT node, min(anchor) AS smallest, max(anchor) AS largest, bool_or(keys_a_record) AS keys_a_record
          FROM pairs GROUP BY node)
SELECT n.node, coalesce(c.cluster, n.node) AS cluster, n.smallest, n.largest
FROM nodes n LEFT JOIN link_clusters c USING (node)
WHERE c.cluster IS NOT NULL OR n.smallest < n.largest OR (n.keys_a_record AND n.smallest IS NOT NULL)"""
# The emails and phones whose person key is not themselves, or whose cluster is a conflict. A cluster's
# CURPs are one when the smallest equals the largest, two or more when it does not.
PERSONS_SQL = """
CREATE OR REPLACE TEMP TABLE link_persons AS
WITH clusters AS (SELECT cluster, min(smallest) AS smallest, max(largest) AS largest FROM link_nodes GROUP BY cluster),
persons AS (SELECT n.node, coalesce(k.smallest < k.largest, false) AS conflict,
                   CASE WHEN k.smallest = k.largest THEN k.smallest ELSE n.cluster END AS person
            FROM link_nodes n JOIN clusters k USING (cluster))
SELECT node, person, conflict FROM persons WHERE conflict OR person <> node"""
# Records with a CURP already carry its pseudonym, and name-only records their name's: only the others
# move, to the key of their email (else their phone), which is that email or phone unless listed above.
# Keys are compared as numbers; only the rows that move get their key written out in hex.
MOVES_SQL = """
CREATE OR REPLACE TEMP TABLE link_moves AS
WITH contacts AS (SELECT rowid AS row_id, {person} AS person, coalesce({first}, {second}) AS node FROM {table}
                  WHERE {anchor} IS NULL AND coalesce({first}, {second}) IS NOT NULL)
SELECT c.row_id, {moved_key} AS person_id FROM contacts c LEFT JOIN link_persons p USING (node)
WHERE {person_number} IS DISTINCT FROM coalesce(p.person, c.node) ORDER BY c.row_id"""
# Joined on the row id, in row order, the update writes each row group once. Joined on the pseudonyms
# (or on a subquery, which DuckDB turns into that join) it wrote rows in hash order: 96,000 rows of a
# million took 15 to 60 s, against 0.4 s here.
UPDATE_SQL = """
UPDATE {table} SET {person} = m.person_id FROM link_moves m WHERE {table}.rowid = m.row_id"""
CONFLICTS_SQL = """
WITH conflicted AS (SELECT node FROM link_persons WHERE conflict)
SELECT _source_file, count(*) FILTER (WHERE {first} IN (SELECT node FROM conflicted)
                                        OR {second} IN (SELECT node FROM conflicted))
FROM {table} GROUP BY _source_file"""
TEMPORARY_TABLES = ("link_graph_nodes", "link_clusters", "link_nodes", "link_persons", "link_moves")
COMPONENTS_VIEW = "link_components"


@dataclass(frozen=True)
class LinkingResult:
    """What one linking pass found and did."""

    records_moved: int  # staged rows whose person key changed
    graph_nodes: int  # emails and phones shared by a record without a CURP, the nodes of the clusters' graph
    conflicts: dict[str, int]  # file -> rows touching a cluster seen with two or more CURPs


def smallest_id_in_component(node_count: int, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """For each node id 0..node_count-1, the smallest id of its connected component over the edges (first, second)."""
    graph = coo_matrix((np.ones(len(first), dtype=np.int8), (first, second)), shape=(node_count, node_count))
    _, labels = connected_components(graph, directed=False)
    # np.unique's indices are first occurrences, and ids are in increasing order: each component's smallest id.
    _, smallest = np.unique(labels, return_index=True)
    return smallest[labels].astype(np.int32)


LINKING_STATEMENTS = (GRAPH_NODES_SQL, EDGES_SQL, CLUSTERS_SQL, NODES_SQL, PERSONS_SQL, MOVES_SQL, UPDATE_SQL,
                      CONFLICTS_SQL)
# Part of the participants' contract version: a change to the rule relinks every record.
RULE_FINGERPRINT = hashlib.sha256("\n".join((*LINKING_STATEMENTS, inspect.getsource(smallest_id_in_component)))
                                  .encode()).hexdigest()[:16]


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
    names.update(person_number=linking_id_sql("c.person"), moved_key=linking_id_pseudonym_sql("coalesce(p.person, c.node)"))
    connection.execute("BEGIN TRANSACTION")
    try:
        connection.execute(GRAPH_NODES_SQL.format(**names))
        node_count = connection.execute("SELECT count(*) FROM link_graph_nodes").fetchone()[0]
        edges = connection.execute(EDGES_SQL.format(**names)).fetchnumpy()
        smallest = smallest_id_in_component(node_count, edges["first"], edges["second"])
        connection.register(COMPONENTS_VIEW,
                            pa.table({"id": np.arange(node_count, dtype=np.int32), "smallest": smallest}))
        for statement in (CLUSTERS_SQL, NODES_SQL, PERSONS_SQL, MOVES_SQL):
            connection.execute(statement.format(**names))
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
    finally:
        connection.unregister(COMPONENTS_VIEW)
    return LinkingResult(moved, node_count, conflicts)
