"""Controlled vocabularies shared by the data contract, the indicators and the synthetic data.

Each vocabulary maps a canonical code to the spellings grantees actually use (Spanish and English,
with or without accents). Spellings are compared after `normalise_token`, so only distinct words
need listing here.
"""

from __future__ import annotations

import unicodedata

THEMES = {
    "awareness": ["conciencia", "sensibilizacion", "awareness and understanding"],
    "capacity": ["capacidad", "fortalecimiento de capacidades", "capacity and organisation"],
    "enforcement": ["aplicacion", "cumplimiento de la ley", "inspeccion"],
    "compliance": ["promocion del cumplimiento", "cumplimiento"],
    "cla": ["colaboracion aprendizaje y adaptacion", "aprendizaje", "collaboration learning and adaptation"],
}

THEME_NAMES = {
    "awareness": "Awareness and understanding of labor law and rights",
    "capacity": "Capacity strengthening, organisation and advocacy",
    "enforcement": "Enforcement of labor law and addressing violations",
    "compliance": "Promoting compliance",
    "cla": "Collaboration, learning and adaptation",
}

SEX = {
    "female": ["f", "mujer", "mujeres", "femenino", "women", "woman"],
    "male": ["m", "hombre", "hombres", "masculino", "men", "man"],
    "other": ["otro", "otra", "no binario", "non-binary", "nonbinary"],
    "undisclosed": ["prefiere no decir", "no responde", "nr", "prefer not to say"],
    "total": ["ambos", "todos", "all", "both"],
}

# The 32 federal entities with their INEGI codes, the names grantees write and ISO 3166-2 codes.
STATES = {
    "Aguascalientes": ["01", "ags", "mx-agu"],
    "Baja California": ["02", "bc", "mx-bcn"],
    "Baja California Sur": ["03", "bcs", "mx-bcs"],
    "Campeche": ["04", "camp", "mx-cam"],
    "Coahuila": ["05", "coahuila de zaragoza", "coah", "mx-coa"],
    "Colima": ["06", "col", "mx-col"],
    "Chiapas": ["07", "chis", "mx-chp"],
    "Chihuahua": ["08", "chih", "mx-chh"],
    "Ciudad de México": ["09", "cdmx", "distrito federal", "df", "mexico city", "mx-cmx"],
    "Durango": ["10", "dgo", "mx-dur"],
    "Guanajuato": ["11", "gto", "mx-gua"],
    "Guerrero": ["12", "gro", "mx-gro"],
    "Hidalgo": ["13", "hgo", "mx-hid"],
    "Jalisco": ["14", "jal", "mx-jal"],
    "Estado de México": ["15", "mexico", "edomex", "edo mex", "edo. de mexico", "state of mexico", "mx-mex"],
    "Michoacán": ["16", "michoacan de ocampo", "mich", "mx-mic"],
    "Morelos": ["17", "mor", "mx-mor"],
    "Nayarit": ["18", "nay", "mx-nay"],
    "Nuevo León": ["19", "nl", "mx-nle"],
    "Oaxaca": ["20", "oax", "mx-oax"],
    "Puebla": ["21", "pue", "mx-pue"],
    "Querétaro": ["22", "queretaro de arteaga", "qro", "mx-que"],
    "Quintana Roo": ["23", "qroo", "mx-roo"],
    "San Luis Potosí": ["24", "slp", "mx-slp"],
    "Sinaloa": ["25", "sin", "mx-sin"],
    "Sonora": ["26", "son", "mx-son"],
    "Tabasco": ["27", "tab", "mx-tab"],
    "Tamaulipas": ["28", "tamps", "mx-tam"],
    "Tlaxcala": ["29", "tlax", "mx-tla"],
    "Veracruz": ["30", "veracruz de ignacio de la llave", "ver", "mx-ver"],
    "Yucatán": ["31", "yuc", "mx-yuc"],
    "Zacatecas": ["32", "zac", "mx-zac"],
}

STATE_OR_TOTAL = {**STATES, "total": ["nacional", "national", "todos", "all"]}

STAKEHOLDER_GROUPS = {
    "worker": ["trabajador", "trabajadora", "trabajadores", "workers"],
    "union": ["sindicato", "sindicatos", "unions", "union representative"],
    "employer": ["empleador", "empresa", "empleadores", "employers", "business"],
    "government": ["gobierno", "autoridad", "government official"],
    "civil_society": ["sociedad civil", "osc", "ong", "ngo", "worker centre", "centro de trabajadores"],
    "academia": ["academia", "universidad", "academic"],
}

PARTICIPANT_TYPES = {
    "worker": ["trabajador", "trabajadora"],
    "union_leader": ["lider sindical", "dirigente sindical", "union leader"],
    "employer": ["empleador", "empresa", "hr manager"],
    "government_official": ["funcionario", "inspector", "gobierno", "government"],
    "civil_society": ["sociedad civil", "osc", "ong"],
    "total": ["todos", "all"],
}

CHANNELS = {
    "in_person": ["presencial", "taller", "workshop", "in person"],
    "virtual": ["en linea", "webinar", "online"],
    "digital": ["redes sociales", "social media", "whatsapp", "digital outreach"],
    "helpline": ["linea de atencion", "hotline", "call centre", "call center"],
}

EMPLOYER_SIZES = {
    "micro": ["micro"],
    "small": ["pequena", "pequeña"],
    "medium": ["mediana"],
    "large": ["grande"],
    "total": ["todos", "all"],
}

SUPPLY_CHAIN_TIERS = {
    "oem": ["armadora", "ensambladora", "assembler"],
    "tier1": ["tier 1", "nivel 1", "proveedor nivel 1"],
    "tier2": ["tier 2", "nivel 2", "proveedor nivel 2"],
    "tier3": ["tier 3", "nivel 3", "proveedor nivel 3"],
    "total": ["todos", "all"],
}

ACTOR_TYPES = {
    "union": ["sindicato"],
    "worker_group": ["grupo de trabajadores", "trabajadores", "workers"],
    "employer": ["empleador", "empresa"],
    "government": ["gobierno", "autoridad"],
    "civil_society": ["sociedad civil", "osc", "ong"],
    "other": ["otro"],
}

SIGNIFICANCE = {"high": ["alta"], "medium": ["media"], "low": ["baja"]}
CONTRIBUTION = {"direct": ["directa"], "partial": ["parcial"], "indirect": ["indirecta"]}
POLARITY = {"positive": ["positivo", "positiva"], "negative": ["negativo", "negativa"]}
INTENTION = {"intended": ["intencionado", "esperado", "previsto"], "unintended": ["no intencionado", "no esperado", "imprevisto"]}
SUBSTANTIATION = {
    "confirmed": ["confirmado", "substantiated"],
    "partially_confirmed": ["parcialmente confirmado", "partially substantiated"],
    "not_confirmed": ["no confirmado", "not substantiated"],
    "pending": ["pendiente"],
}

MSC_SELECTION_LEVELS = {
    "collected": ["recolectada", "recogida", "field"],
    "project": ["proyecto"],
    "portfolio": ["portafolio", "cartera", "country"],
    "donor": ["donante"],
}
MSC_STORYTELLER_TYPES = {**STAKEHOLDER_GROUPS, "project_staff": ["personal del proyecto", "staff"]}

CLA_ENTRY_TYPES = {
    "feedback_item": ["retroalimentacion", "queja", "comentario", "feedback"],
    "reflection_decision": ["decision", "pausa y reflexion", "pause and reflect"],
    "process_step": ["paso del proceso", "step"],
}
CLA_STATUSES = {
    "open": ["abierto", "pendiente"],
    "answered": ["respondido", "closed", "cerrado"],
    "implemented": ["implementado", "implementada"],
    "dropped": ["descartado", "descartada"],
    "completed": ["completado", "completada", "done"],
    "in_progress": ["en curso", "en proceso"],
}
EVIDENCE_TYPES = {
    "monitoring_data": ["datos de monitoreo", "monitoring"],
    "evaluation": ["evaluacion"],
    "stakeholder_feedback": ["retroalimentacion de actores", "feedback"],
    "context_monitoring": ["monitoreo de contexto", "sentinel"],
    "msc": ["cambio mas significativo", "most significant change"],
    "outcome_harvest": ["cosecha de alcances", "outcome harvesting"],
}
STEP_KINDS = {"expected": ["esperado", "previsto"], "emergent": ["emergente", "no previsto"]}

IATI_ROW_TYPES = {"baseline": [], "target": [], "actual": []}

INDICATOR_CODE_PATTERN = r"^[A-Z]{3}-[0-9]{2}$"
# The disaggregations of indicator tables: each one's Spanish header and vocabulary.
DISAGGREGATIONS = {
    "sex": ("sexo", SEX),
    "state": ("estado", STATE_OR_TOTAL),
    "employer_size": ("tamano_empresa", EMPLOYER_SIZES),
    "supply_chain_tier": ("nivel_cadena", SUPPLY_CHAIN_TIERS),
    "participant_type": ("tipo_participante", PARTICIPANT_TYPES),
}


def normalise_token(text: str) -> str:
    """Lower-case, strip accents and surrounding space, and fold runs of space, '_' and '-' into one space."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower().strip()
    return " ".join(plain.replace("_", " ").replace("-", " ").split())


def spelling_map(vocabulary: dict[str, list[str]]) -> dict[str, str]:
    """Every accepted spelling (normalised) mapped to its canonical code, the code itself included."""
    spellings: dict[str, str] = {}
    for code, aliases in vocabulary.items():
        for spelling in [code, *aliases]:
            spellings[normalise_token(spelling)] = code
    return spellings
