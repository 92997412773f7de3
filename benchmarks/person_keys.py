"""Person linking for the benchmark's floor and pandas baseline, written apart from the pipeline's SQL.

The same rule as `mel_pipeline.staging.person_linking` (read its docstring): a record with a CURP is that
CURP's person; records without one are joined through shared emails and phones into clusters
(connected components); a cluster seen with exactly one CURP is that CURP's person, with none a
person of its own, with two or more a conflict kept apart; a record with no CURP, email or phone
keeps its name's pseudonym. Counting people from these keys must give the pipeline's figures
exactly, which is what the benchmark's "same outputs" check compares.

The pipeline finds its components with scipy too, but everything around them (which records make
the graph, the CURPs of a cluster, which key each record gets) is its own DuckDB SQL. This module
repeats the rule in pandas on purpose and shares no code with it, so that the check stays an
independent one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


def linked_person_keys(records: pd.DataFrame) -> pd.Series:
    """The person key of every record, from its columns curp_id, email_id, phone_id and person_id."""
    contact = records["email_id"].combine_first(records["phone_id"])
    unanchored = records["curp_id"].isna() & contact.notna()
    nodes = pd.concat([records.loc[unanchored, "email_id"], records.loc[unanchored, "phone_id"]]).dropna().unique()
    ids = pd.Series(np.arange(len(nodes)), index=nodes)
    pairs = records.loc[unanchored, ["email_id", "phone_id"]].dropna()
    rows, columns = ids[pairs["email_id"]].to_numpy(), ids[pairs["phone_id"]].to_numpy()
    graph = coo_matrix((np.ones(len(rows)), (rows, columns)), shape=(len(nodes), len(nodes)))
    _, labels = connected_components(graph, directed=False)
    cluster = pd.Series(labels, index=nodes)

    anchored = records[records["curp_id"].notna()]
    seen = pd.concat([anchored[["email_id", "curp_id"]].set_axis(["node", "curp"], axis=1),
                      anchored[["phone_id", "curp_id"]].set_axis(["node", "curp"], axis=1)]).dropna()
    seen = seen[seen["node"].isin(cluster.index)]
    seen["cluster"] = cluster[seen["node"]].to_numpy()
    curps = seen.drop_duplicates(["cluster", "curp"]).groupby("cluster")["curp"]
    single = curps.first()[curps.size() == 1]

    # A cluster's own key, like the pipeline's, is the smallest pseudonym among its emails and phones.
    smallest = pd.Series(cluster.index, index=cluster.to_numpy()).groupby(level=0).min()
    record_cluster = cluster.reindex(contact[unanchored]).to_numpy()
    keys = records["curp_id"].combine_first(records["person_id"]).astype("object")
    keys[unanchored] = [single.get(label, smallest[label]) for label in record_cluster]
    return keys
