"""Person linking on real staging: records sharing a CURP, email or phone are one person, across files and projects."""

from pathlib import Path

from mel_pipeline.staging.ingest import ingest_source
from mel_pipeline.warehouse import open_warehouse
from tests.test_ingest import raw_folder

HEADER = "project_code,event_id,event_date,channel,full_name,curp,phone,email,sex,state,participant_type\n"
# Ana: phone only, then CURP and the same phone, then CURP alone in another project.
# Bea: email only, then email and a phone, then that phone alone in another project.
# Cruz and Dora: two CURPs that share one phone; a later phone-only record of it cannot be told apart.
MAP_FILE = HEADER + """MAP,E1,2022-02-01,taller,Ana,,+52 55 1111 1111,,mujer,Puebla,trabajadora
MAP,E2,2022-03-01,taller,Ana,AAAA800101MDFRRR01,5255 1111-1111,,mujer,Puebla,trabajadora
MAP,E2,2022-03-01,taller,Bea,,,bea@example.org,mujer,Puebla,trabajadora
MAP,E3,2022-04-01,webinar,Bea,,+52 55 2222 2222,Bea@Example.org,mujer,Puebla,trabajadora
"""
CALLE_FILE = HEADER + """CALLE,E4,2022-05-01,taller,Bea,,+52 55 2222 2222,,mujer,Puebla,trabajadora
CALLE,E4,2022-05-01,taller,Cruz,CCCC800101HDFRRR03,+52 55 3333 3333,,hombre,Puebla,trabajador
CALLE,E4,2022-05-01,taller,Dora,DDDD800101MDFRRR04,+52 55 3333 3333,,mujer,Puebla,trabajadora
CALLE,E5,2022-06-01,webinar,Cruz o Dora,,+52 55 3333 3333,,mujer,Puebla,trabajadora
CALLE,E5,2022-06-01,webinar,Ana,AAAA800101MDFRRR01,,,mujer,Puebla,trabajadora
"""


def stage(tmp_path: Path, files: dict[str, str]):
    """Stage projects and participants from `files`; returns (people per project, people overall, conflicts, keys)."""
    settings = raw_folder(tmp_path, files)
    with open_warehouse(settings) as connection:
        ingest_source(connection, settings, "projects")
        ingest_source(connection, settings, "participants")
        per_project = dict(connection.execute(
            "SELECT project_code, count(DISTINCT person_id) FROM stg_participants GROUP BY ALL").fetchall())
        overall = connection.execute("SELECT count(DISTINCT person_id) FROM stg_participants").fetchone()[0]
        conflicts = dict(connection.execute(
            "SELECT file, linking_conflicts FROM load_audit WHERE source = 'participants'").fetchall())
        keys = connection.execute(
            "SELECT event_id, person_id FROM stg_participants ORDER BY _source_file, _row_number").fetchall()
    return per_project, overall, conflicts, keys


def test_records_sharing_any_identifier_are_one_person_and_conflicting_curps_stay_apart(tmp_path):
    per_project, overall, conflicts, keys = stage(
        tmp_path, {"participants/MAP.csv": MAP_FILE, "participants/CALLE.csv": CALLE_FILE})
    # Rows in file order: CALLE.csv (Bea, Cruz, Dora, the conflicted phone, Ana) then MAP.csv (Ana, Ana, Bea, Bea).
    person = [key for _, key in keys]
    ana, bea = person[5], person[7]
    assert person[6] == person[4] == ana
    assert person[8] == person[0] == bea
    assert len({ana, bea, person[1], person[2], person[3]}) == 5
    # MAP: Ana, Bea. CALLE: Bea, Cruz, Dora, the unresolved phone, Ana. Portfolio: five people, not nine records.
    assert per_project == {"MAP": 2, "CALLE": 5}
    assert overall == 5
    # The three CALLE rows carrying the phone seen with two CURPs.
    assert conflicts == {"participants/MAP.csv": 0, "participants/CALLE.csv": 3}


def test_removing_a_file_relinks_the_rest(tmp_path):
    stage(tmp_path, {"participants/MAP.csv": MAP_FILE, "participants/CALLE.csv": CALLE_FILE})
    (tmp_path / "raw" / "participants" / "CALLE.csv").unlink()
    per_project, overall, conflicts, keys = stage(tmp_path, {})
    assert per_project == {"MAP": 2} and overall == 2
    assert conflicts == {"participants/MAP.csv": 0}
    # Without the CALLE file Ana's phone-only record still links to her CURP record.
    assert keys[0][1] == keys[1][1]
