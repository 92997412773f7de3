"""The data contract: one pandera schema per raw source, the single source of truth for validation.

Each schema declares its columns (logical kind, whether a value is required, allowed codes and
ranges), its key, its cross-field rules and, in pandera metadata, what the readers and the DuckDB
validator need beyond pandera's vocabulary: the folder under `data/raw/`, the accepted formats,
Spanish column aliases, the controlled vocabulary a code column is normalised against, and which
columns are direct identifiers to be pseudonymised at ingest.

`mel_pipeline.staging.validation` compiles these schemas into DuckDB SQL; the test suite checks that
pandera's own pandas backend reaches the same verdicts on the fixtures. `docs/data-contract.md`
is generated from this module (`mel contract`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Callable

import pandas as pd
import pandera.pandas as pa
from pandera.extensions import register_check_method

from mel_pipeline.reference import codes

KINDS = ("text", "code", "integer", "number", "date", "datetime", "boolean", "identifier")
_PANDAS_DTYPES = {
    "text": str,
    "code": str,
    "identifier": str,
    "integer": "Int64",
    "number": "Float64",
    "date": "datetime64[ns]",
    "datetime": "datetime64[ns]",
    "boolean": "boolean",
}
COMPARISONS = {"<=": "__le__", "<": "__lt__", ">=": "__ge__", ">": "__gt__"}

CURP_PATTERN = r"^[A-Z]{4}[0-9]{6}[HMX][A-Z]{5}[A-Z0-9][0-9]$"
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
PHONE_PATTERN = r"^\+?[0-9 ()-]{8,20}$"
PROJECT_CODE_PATTERN = r"^[A-Z0-9][A-Z0-9-]{1,31}$"
EARLIEST_DATE = pd.Timestamp("2015-01-01")
DEFAULT_REPORT_DUE_DAYS = 30
THEME_LIST_PATTERN = r"^(awareness|capacity|enforcement|compliance|cla)(;(awareness|capacity|enforcement|compliance|cla))*$"
SERIES_CODE_PATTERN = r"^[a-z0-9_]{3,64}$"
# What to tell a grantee instead of a regular expression.
PATTERN_HINTS = {
    CURP_PATTERN: "a CURP (18 characters: 4 letters, 6 digits of birth date, H/M/X, 5 letters, 1 letter or digit, 1 digit)",
    EMAIL_PATTERN: "an email address",
    PHONE_PATTERN: "a phone number (8 to 20 digits, spaces, +, - or brackets)",
    PROJECT_CODE_PATTERN: "a project code (capital letters, digits and '-', e.g. CALLE)",
    codes.INDICATOR_CODE_PATTERN: "an indicator code such as AWR-01",
    THEME_LIST_PATTERN: "theme codes separated by ';' (awareness;capacity;enforcement;compliance;cla)",
    SERIES_CODE_PATTERN: "a series code in lower case with '_' (e.g. rrm_days_to_resolution)",
}


@register_check_method(statistics=["left", "operator", "right"], supported_types=pd.DataFrame)
def column_compare(frame: pd.DataFrame, *, left: str, operator: str, right: str) -> pd.Series:
    """Row rule `left <operator> right`; a row where either side is missing passes."""
    outcome = getattr(frame[left], COMPARISONS[operator])(frame[right])
    return outcome.fillna(True).astype(bool) | frame[left].isna() | frame[right].isna()


@register_check_method(statistics=["columns"], supported_types=pd.DataFrame)
def any_present(frame: pd.DataFrame, *, columns: list[str]) -> pd.Series:
    """Row rule: at least one of `columns` holds a value."""
    return frame[columns].notna().any(axis=1)


@register_check_method(supported_types=pd.Series)
def whole_number(series: pd.Series) -> pd.Series:
    """Column rule: a count takes no fraction; a missing value passes."""
    return (series.isna() | (series == series.round())).astype(bool)


def column(
    name: str,
    kind: str,
    *,
    required: bool = True,
    optional_column: bool = False,
    aliases: tuple[str, ...] = (),
    vocabulary: dict[str, list[str]] | None = None,
    checks: tuple[pa.Check, ...] = (),
    description: str = "",
    default: str | None = None,
    case: str | None = None,
    counts_selections: bool = False,
    number_format: str | None = None,
) -> pa.Column:
    """A pandera column carrying the reader metadata this project needs.

    `required` means a value is needed in every row; `optional_column` means the column may be
    absent from the file (it is then read as empty, or as `default`). `case` ('upper' or 'lower')
    folds free codes; `counts_selections` lets an integer column take a survey's space-separated
    select-multiple answer and count the options chosen. `number_format='decimal_point'` says the
    column's numbers are written with a decimal point and comma thousands separators (xsd:decimal, Mexican
    public statistics), so "1,430" is read as 1430; without it such a number is ambiguous (see
    `raw.tabular.AMBIGUOUS_NUMBER`).
    """
    assert kind in KINDS, kind
    all_checks = list(checks)
    if vocabulary is not None:
        all_checks.insert(0, pa.Check.isin(sorted(vocabulary)))
    return pa.Column(
        _PANDAS_DTYPES[kind],
        name=name,
        nullable=not required,
        checks=all_checks,
        description=description,
        metadata={
            "kind": kind,
            "aliases": list(aliases),
            "vocabulary": vocabulary,
            "optional_column": optional_column,
            "default": default,
            "case": case,
            "counts_selections": counts_selections,
            "number_format": number_format,
        },
    )


def period_columns(as_of: dt.date) -> list[pa.Column]:
    """Reporting period start and end, shared by indicator reports and targets."""
    return [
        column("period_start", "date", aliases=("periodo_inicio", "inicio_periodo", "fecha_inicio_periodo"),
               checks=(pa.Check.ge(EARLIEST_DATE),), description="First day of the reporting period."),
        column("period_end", "date", aliases=("periodo_fin", "fin_periodo", "fecha_fin_periodo"),
               checks=(pa.Check.le(pd.Timestamp(as_of)),),
               description="Last day of the reporting period; not after the run's as-of date."),
    ]


def project_code_column(description: str = "Project code, as in the portfolio register.") -> pa.Column:
    """The project code every grantee record carries."""
    return column("project_code", "code", aliases=("proyecto", "codigo_proyecto", "clave_proyecto", "project"), case="upper",
                  checks=(pa.Check.str_matches(PROJECT_CODE_PATTERN),), description=description)




def disaggregation_columns() -> list[pa.Column]:
    """The disaggregation columns of an indicator table; a blank cell means the total."""
    return [
        column(name, "code", optional_column=True, default="total", aliases=(alias,), vocabulary=vocabulary,
               description=f"Disaggregation by {name.replace('_', ' ')}; blank or 'total' for the total.")
        for name, (alias, vocabulary) in codes.DISAGGREGATIONS.items()
    ]


def frame(columns: list[pa.Column], checks: list[pa.Check] | None = None) -> pa.DataFrameSchema:
    """A schema from an ordered list of columns and its row rules."""
    return pa.DataFrameSchema({col.name: col for col in columns}, checks=checks)


@dataclass(frozen=True)
class Reference:
    """A cross-source rule: values of `column` must be keys of a register in the warehouse."""

    column: str
    table: str
    key: str
    register: str
    asset: str
    where: str | None = None  # a fixed SQL filter on the register, written here, never from data


PROJECT_REFERENCE = Reference("project_code", "stg_projects", "project_code", "projects register", "stg_projects")
GRANTEE_INDICATOR_REFERENCE = Reference("indicator_code", "indicator_catalog", "code",
                                        "indicator catalogue (indicators grantees report)", "indicator_catalog",
                                        where="reported_by_grantees")
INDICATOR_REFERENCE = Reference("indicator_code", "indicator_catalog", "code", "indicator catalogue",
                                "indicator_catalog")


@dataclass(frozen=True)
class PersonLinking:
    """Which identifiers of a person-level source link its records into one person (`person_linking`).

    Each is pseudonymised on its own into a staged `<identifier>_id` column. Records that share any
    of them are one person, except that two different values of `anchor` (a CURP belongs to one
    person only) are never merged, however many phones or emails they share.
    """

    anchor: str
    shared: tuple[str, ...]

    @property
    def identifiers(self) -> tuple[str, ...]:
        """Every linking identifier, the anchor first."""
        return (self.anchor, *self.shared)


@dataclass(frozen=True)
class Source:
    """A raw source: its folder, formats, pandera schema and what the validator needs beyond it."""

    name: str
    description: str
    formats: tuple[str, ...]
    build_schema: Callable[[dt.date], pa.DataFrameSchema]
    key: tuple[str, ...] = ()
    references: tuple[Reference, ...] = ()
    within_project_dates: tuple[str, ...] = ()
    rates_need_parts: bool = False  # a percent indicator's row must give numerator and denominator
    pseudonym: tuple[str, tuple[str, ...]] | None = None  # (output column, identifier columns by precedence)
    linking: PersonLinking | None = None  # identifiers whose shared values make records one person
    reader: str = "table"

    def schema(self, as_of: dt.date) -> pa.DataFrameSchema:
        """The pandera schema of this source for a run as of `as_of`."""
        schema = self.build_schema(as_of)
        return pa.DataFrameSchema(
            columns=schema.columns, checks=schema.checks, unique=list(self.key) or None, name=self.name,
            description=self.description, report_duplicates="all",
        )


def _projects(as_of: dt.date) -> pa.DataFrameSchema:
    return frame([
        column("project_code", "code", aliases=("codigo_proyecto", "clave_proyecto", "proyecto"), case="upper",
               checks=(pa.Check.str_matches(PROJECT_CODE_PATTERN),),
               description="Short upper-case code that every grantee record uses."),
        column("title", "text", aliases=("titulo", "nombre_proyecto"), checks=(pa.Check.str_length(3, 300),)),
        column("short_name", "text", required=False, optional_column=True, aliases=("nombre_corto", "siglas")),
        column("grantee", "text", aliases=("beneficiario", "organizacion", "implementador")),
        column("start_date", "date", aliases=("fecha_inicio", "inicio"), checks=(pa.Check.ge(EARLIEST_DATE),)),
        column("end_date", "date", aliases=("fecha_fin", "fin", "fecha_termino")),
        column("budget_usd", "number", required=False, optional_column=True,
               aliases=("presupuesto_usd", "presupuesto", "monto_usd"), checks=(pa.Check.ge(0),)),
        column("themes", "text", aliases=("temas",),
               checks=(pa.Check.str_matches(THEME_LIST_PATTERN),),
               description="Semicolon-separated theme codes: awareness;capacity;enforcement;compliance;cla."),
        column("report_due_days", "integer", required=False, optional_column=True, default=str(DEFAULT_REPORT_DUE_DAYS),
               aliases=("dias_entrega",), checks=(pa.Check.in_range(0, 365),),
               description="Days after a period's end within which its report is due (default 30)."),
        column("source_url", "text", required=False, optional_column=True, aliases=("fuente",)),
    ], checks=[pa.Check.column_compare(left="start_date", operator="<=", right="end_date")])


def _indicator_reports(as_of: dt.date) -> pa.DataFrameSchema:
    return frame([
        project_code_column(),
        column("indicator_code", "code", aliases=("codigo_indicador", "indicador", "clave_indicador"),
               case="upper", checks=(pa.Check.str_matches(codes.INDICATOR_CODE_PATTERN),)),
        *period_columns(as_of),
        *disaggregation_columns(),
        column("numerator", "number", required=False, optional_column=True, aliases=("numerador",),
               checks=(pa.Check.ge(0), pa.Check.whole_number())),
        column("denominator", "number", required=False, optional_column=True, aliases=("denominador",),
               checks=(pa.Check.ge(0), pa.Check.whole_number())),
        column("value", "number", required=False, optional_column=True, aliases=("valor", "total", "resultado"),
               checks=(pa.Check.ge(0),)),
        column("submitted_on", "date", required=False, optional_column=True,
               aliases=("fecha_entrega", "fecha_envio", "fecha_reporte"),
               checks=(pa.Check.le(pd.Timestamp(as_of)),), description="Date the grantee submitted the report."),
        column("notes", "text", required=False, optional_column=True, aliases=("notas", "observaciones", "comentarios")),
    ], checks=[
        pa.Check.column_compare(left="period_start", operator="<", right="period_end"),
        pa.Check.column_compare(left="numerator", operator="<=", right="denominator"),
        pa.Check.column_compare(left="submitted_on", operator=">=", right="period_end"),
        pa.Check.any_present(columns=["value", "numerator"]),
    ])


def _targets(as_of: dt.date) -> pa.DataFrameSchema:
    return frame([
        project_code_column(),
        column("indicator_code", "code", aliases=("codigo_indicador", "indicador"),
               case="upper", checks=(pa.Check.str_matches(codes.INDICATOR_CODE_PATTERN),)),
        column("period_start", "date", aliases=("periodo_inicio",), checks=(pa.Check.ge(EARLIEST_DATE),)),
        column("period_end", "date", aliases=("periodo_fin",)),
        column("baseline", "number", required=False, optional_column=True, aliases=("linea_base",)),
        column("target", "number", aliases=("meta",), checks=(pa.Check.ge(0),)),
        column("notes", "text", required=False, optional_column=True, aliases=("notas",)),
    ], checks=[pa.Check.column_compare(left="period_start", operator="<", right="period_end")])


def _participants(as_of: dt.date) -> pa.DataFrameSchema:
    return frame([
        project_code_column(),
        column("event_id", "text", aliases=("evento", "id_evento", "clave_evento"), checks=(pa.Check.str_length(1, 64),)),
        column("event_date", "date", aliases=("fecha_evento", "fecha"),
               checks=(pa.Check.ge(EARLIEST_DATE), pa.Check.le(pd.Timestamp(as_of)))),
        column("channel", "code", aliases=("canal", "modalidad"), vocabulary=codes.CHANNELS),
        column("full_name", "identifier", required=False, optional_column=True,
               aliases=("nombre", "nombre_completo", "participante")),
        column("curp", "identifier", required=False, optional_column=True,
               checks=(pa.Check.str_matches(CURP_PATTERN),)),
        column("phone", "identifier", required=False, optional_column=True, aliases=("telefono", "celular"),
               checks=(pa.Check.str_matches(PHONE_PATTERN),)),
        column("email", "identifier", required=False, optional_column=True, aliases=("correo", "correo_electronico"),
               checks=(pa.Check.str_matches(EMAIL_PATTERN),)),
        column("sex", "code", aliases=("sexo",), vocabulary={k: v for k, v in codes.SEX.items() if k != "total"}),
        column("age", "integer", required=False, optional_column=True, aliases=("edad",), checks=(pa.Check.in_range(14, 100),)),
        column("state", "code", aliases=("estado", "entidad"), vocabulary=codes.STATES),
        column("participant_type", "code", aliases=("tipo_participante", "perfil"),
               vocabulary={k: v for k, v in codes.PARTICIPANT_TYPES.items() if k != "total"}),
        column("pre_score", "number", required=False, optional_column=True, aliases=("puntaje_pre", "pre_test", "prueba_inicial"),
               checks=(pa.Check.in_range(0, 100),)),
        column("post_score", "number", required=False, optional_column=True, aliases=("puntaje_post", "post_test", "prueba_final"),
               checks=(pa.Check.in_range(0, 100),)),
    ], checks=[pa.Check.any_present(columns=["curp", "email", "phone", "full_name"])])


def _outcomes(as_of: dt.date) -> pa.DataFrameSchema:
    return frame([
        column("outcome_id", "text", aliases=("id_alcance", "clave_alcance"), checks=(pa.Check.str_length(1, 64),)),
        project_code_column(),
        column("theme", "code", aliases=("tema",), vocabulary=codes.THEMES),
        column("description", "text", aliases=("descripcion", "alcance", "outcome"), checks=(pa.Check.str_length(10, 4000),)),
        column("social_actor", "text", aliases=("actor_social", "actor")),
        column("actor_type", "code", aliases=("tipo_actor",), vocabulary=codes.ACTOR_TYPES),
        column("change_agent", "text", required=False, optional_column=True, aliases=("agente_cambio",)),
        column("outcome_date", "date", aliases=("fecha_alcance", "fecha"),
               checks=(pa.Check.ge(EARLIEST_DATE), pa.Check.le(pd.Timestamp(as_of)))),
        column("state", "code", aliases=("estado", "lugar"), vocabulary=codes.STATE_OR_TOTAL),
        column("significance", "code", aliases=("significancia", "importancia"), vocabulary=codes.SIGNIFICANCE),
        column("contribution", "code", aliases=("contribucion",), vocabulary=codes.CONTRIBUTION),
        column("polarity", "code", aliases=("polaridad", "positivo_negativo"), vocabulary=codes.POLARITY),
        column("intention", "code", aliases=("intencion", "previsto"), vocabulary=codes.INTENTION),
        column("source", "text", required=False, optional_column=True, aliases=("fuente",)),
        column("substantiator", "text", required=False, optional_column=True, aliases=("verificador", "sustanciador")),
        column("substantiation", "code", aliases=("sustanciacion", "verificacion"), vocabulary=codes.SUBSTANTIATION),
    ])


def _msc_stories(as_of: dt.date) -> pa.DataFrameSchema:
    return frame([
        column("story_id", "text", aliases=("id_historia", "clave_historia"), checks=(pa.Check.str_length(1, 64),)),
        project_code_column(),
        column("domain", "code", aliases=("dominio", "dominio_cambio"), vocabulary=codes.THEMES),
        column("story_date", "date", aliases=("fecha_historia", "fecha"),
               checks=(pa.Check.ge(EARLIEST_DATE), pa.Check.le(pd.Timestamp(as_of)))),
        column("storyteller_type", "code", aliases=("tipo_narrador",), vocabulary=codes.MSC_STORYTELLER_TYPES),
        column("storyteller_sex", "code", aliases=("sexo_narrador", "sexo"),
               vocabulary={k: v for k, v in codes.SEX.items() if k != "total"}),
        column("collector", "text", required=False, optional_column=True, aliases=("recolector", "entrevistador")),
        column("title", "text", aliases=("titulo",)),
        column("story", "text", aliases=("historia", "relato"), checks=(pa.Check.str_length(20, 20000),)),
        column("why_significant", "text", aliases=("por_que_significativo", "significancia")),
        column("selection_level", "code", aliases=("nivel_seleccion",), vocabulary=codes.MSC_SELECTION_LEVELS),
        column("selection_reason", "text", required=False, optional_column=True, aliases=("razon_seleccion",)),
        column("feedback_given", "boolean", required=False, optional_column=True, aliases=("retroalimentacion_dada",)),
    ])


def _feedback(as_of: dt.date) -> pa.DataFrameSchema:
    score = (pa.Check.in_range(1, 5),)
    return frame([
        column("submission_id", "text", aliases=("uuid", "instanceid", "meta instanceid", "id_respuesta")),
        column("submitted_at", "datetime", aliases=("submission time", "submissiondate", "fecha_envio", "end"),
               description="When the answer was submitted, in Mexico City local time (America/Mexico_City): Kobo's "
                           "_submission_time and ODK's SubmissionDate, written in UTC, are converted on reading; "
                           "the semester is that of this local date.",
               checks=(pa.Check.le(pd.Timestamp(as_of) + pd.Timedelta(days=1)),)),
        project_code_column(),
        column("stakeholder_group", "code", aliases=("grupo_actor", "tipo_actor", "sector"), vocabulary=codes.STAKEHOLDER_GROUPS),
        column("state", "code", aliases=("estado", "entidad"), vocabulary=codes.STATES),
        column("sex", "code", required=False, optional_column=True, aliases=("sexo",),
               vocabulary={k: v for k, v in codes.SEX.items() if k != "total"}),
        column("plant_code", "text", required=False, optional_column=True, aliases=("planta", "centro_trabajo")),
        column("respondent_name", "identifier", required=False, optional_column=True, aliases=("nombre", "nombre_contacto")),
        column("respondent_phone", "identifier", required=False, optional_column=True, aliases=("telefono", "telefono_contacto"),
               checks=(pa.Check.str_matches(PHONE_PATTERN),)),
        column("rights_known", "integer", required=False, aliases=("derechos_conocidos",), counts_selections=True, checks=(pa.Check.in_range(0, 5),),
               description="How many of the five reform rights the respondent could name (select-multiple counted)."),
        column("enforcement_improved", "integer", required=False, aliases=("mejora_inspeccion", "mejora_aplicacion"), checks=score,
               description="1-5: labor-law enforcement has improved in the last year."),
        column("coercion_observed", "integer", required=False, aliases=("coercion_observada", "coercion"), checks=score,
               description="1-5: coercion of workers was observed (e.g. around votes)."),
        column("employer_compliance", "integer", required=False, aliases=("cumplimiento_empleador",), checks=score,
               description="1-5: the employer complies with the labor reform."),
        column("training_useful", "integer", required=False, optional_column=True, aliases=("capacitacion_util",), checks=score),
        column("comment", "text", required=False, optional_column=True, aliases=("comentario", "comentarios")),
    ])


def _sentinel(as_of: dt.date) -> pa.DataFrameSchema:
    return frame([
        column("series_code", "code", aliases=("serie", "codigo_serie"), case="lower", checks=(pa.Check.str_matches(SERIES_CODE_PATTERN),)),
        column("observed_on", "date", aliases=("date", "fecha", "fecha_observacion"),
               checks=(pa.Check.ge(pd.Timestamp("2000-01-01")), pa.Check.le(pd.Timestamp(as_of)))),
        column("geography", "code", aliases=("geografia", "estado"), vocabulary=codes.STATE_OR_TOTAL),
        column("value", "number", aliases=("valor",), number_format="decimal_point",
               description="The observation, written as Mexico's public statistics write it: 1,430.5."),
        column("unit", "text", required=False, optional_column=True, aliases=("unidad",)),
        column("label", "text", required=False, optional_column=True, aliases=("etiqueta", "caso")),
        column("source", "text", aliases=("fuente", "source_url")),
        column("sector", "text", required=False, optional_column=True, aliases=("sector_economico", "industria"),
               description="The economic sector an observation belongs to (e.g. an RRM case's 'automotive parts'); "
                           "blank for series that cover every sector."),
    ])


def _iati(as_of: dt.date) -> pa.DataFrameSchema:
    return frame([
        column("iati_identifier", "text", required=False),
        column("result_index", "integer", checks=(pa.Check.ge(1),)),
        column("result_type", "code", required=False, vocabulary={"1": ["output"], "2": ["outcome"], "3": ["impact"], "9": ["other"]}),
        column("result_title", "text", required=False),
        column("aggregation_status", "boolean", required=False),
        column("indicator_index", "integer", checks=(pa.Check.ge(1),)),
        column("indicator_ref", "text", required=False),
        column("indicator_title", "text", required=False),
        column("measure", "code", vocabulary={"1": ["unit"], "2": ["percentage"], "3": ["nominal"], "4": ["ordinal"], "5": ["qualitative"]}),
        column("ascending", "boolean", required=False),
        column("element", "code", vocabulary=codes.IATI_ROW_TYPES),
        column("period_start", "date", required=False),
        column("period_end", "date", required=False),
        column("value_text", "text", required=False),
        column("value", "number", required=False, number_format="decimal_point",
               description="The number @value means: thousands separators (50,000) and decimal commas (12254,1) "
                           "read; empty when @value is no number (2015:<3%), which value_text keeps."),
        column("disaggregation", "text", description="Dimensions as 'name=value' joined by ';', or 'total'."),
    ], checks=[pa.Check.column_compare(left="period_start", operator="<=", right="period_end")])


def _cla_log(as_of: dt.date) -> pa.DataFrameSchema:
    return frame([
        column("entry_id", "text", aliases=("id_registro", "folio")),
        project_code_column(),
        column("entry_type", "code", aliases=("tipo_registro", "tipo"), vocabulary=codes.CLA_ENTRY_TYPES),
        column("entry_date", "date", aliases=("fecha_registro", "fecha"),
               checks=(pa.Check.ge(EARLIEST_DATE), pa.Check.le(pd.Timestamp(as_of)))),
        column("stakeholder_group", "code", required=False, optional_column=True, aliases=("grupo_actor",),
               vocabulary=codes.STAKEHOLDER_GROUPS),
        column("theme", "code", required=False, optional_column=True, aliases=("tema",), vocabulary=codes.THEMES),
        column("description", "text", aliases=("descripcion",)),
        column("evidence_type", "code", required=False, optional_column=True, aliases=("tipo_evidencia",),
               vocabulary=codes.EVIDENCE_TYPES),
        column("step_kind", "code", required=False, optional_column=True, aliases=("tipo_paso",), vocabulary=codes.STEP_KINDS),
        column("status", "code", aliases=("estatus", "estado_registro"), vocabulary=codes.CLA_STATUSES),
        column("service_window_days", "integer", required=False, optional_column=True, default="30",
               aliases=("plazo_dias",), checks=(pa.Check.in_range(1, 365),)),
        column("resolved_on", "date", required=False, optional_column=True,
               aliases=("fecha_respuesta", "fecha_implementacion", "fecha_cierre"), checks=(pa.Check.le(pd.Timestamp(as_of)),)),
    ], checks=[pa.Check.column_compare(left="entry_date", operator="<=", right="resolved_on")])


SOURCES: dict[str, Source] = {
    source.name: source
    for source in [
        Source("projects", "The portfolio register: one row per funded project.", ("csv", "xlsx"), _projects,
               key=("project_code",)),
        Source("indicator_reports", "Grantees' periodic indicator tables: one row per indicator, period and disaggregation.",
               ("csv", "xlsx"), _indicator_reports,
               key=("project_code", "indicator_code", "period_start", "period_end", *codes.DISAGGREGATIONS),
               references=(PROJECT_REFERENCE, GRANTEE_INDICATOR_REFERENCE),
               within_project_dates=("period_start", "period_end"), rates_need_parts=True),
        Source("targets", "Baselines and targets per project, indicator and period.", ("csv", "xlsx"), _targets,
               key=("project_code", "indicator_code", "period_start", "period_end"),
               references=(PROJECT_REFERENCE, INDICATOR_REFERENCE)),
        Source("participants", "Person-level attendance at trainings and outreach, with pre/post test scores.",
               ("csv", "xlsx"), _participants,
               key=("project_code", "event_id", "person_id"),
               references=(PROJECT_REFERENCE,),
               within_project_dates=("event_date",),
               pseudonym=("person_id", ("curp", "email", "phone", "full_name")),
               linking=PersonLinking(anchor="curp", shared=("email", "phone"))),
        Source("outcomes", "Outcome-harvest records.", ("csv", "xlsx"), _outcomes, key=("outcome_id",),
               references=(PROJECT_REFERENCE,)),
        Source("msc_stories", "Most Significant Change stories and how far each was selected.", ("csv", "xlsx"),
               _msc_stories, key=("story_id",), references=(PROJECT_REFERENCE,)),
        Source("feedback", "Stakeholder-feedback survey exports from KoboToolbox or ODK Central.", ("csv", "xlsx"),
               _feedback, key=("submission_id",), references=(PROJECT_REFERENCE,),
               pseudonym=("respondent_id", ("respondent_phone", "respondent_name")), reader="survey"),
        Source("sentinel", "Context series tied to critical assumptions.", ("csv", "xlsx"), _sentinel,
               key=("series_code", "observed_on", "geography", "label")),
        Source("iati", "IATI 2.03 activity results flattened to one row per baseline, target or actual.", ("xml",),
               _iati, key=("iati_identifier", "result_index", "indicator_index", "element", "period_start",
                           "period_end", "disaggregation"), reader="iati"),
        Source("cla_log", "Feedback items and responses, pause-and-reflect decisions and process steps.",
               ("csv", "xlsx"), _cla_log, key=("entry_id",), references=(PROJECT_REFERENCE,)),
    ]
}

# Ingestion order: a source whose rows reference another is loaded after it.
LOAD_ORDER = ["projects", *[name for name in SOURCES if name != "projects"]]
