"""Codes the synthetic practice writes: regimens, diagnoses, observations, billing codes.

Sources: RxNorm ingredient codes (NLM RxNav); ICD-10-CM 2025 (CDC/NCHS); LOINC 2.78 for the
observation codes (72514-3 pain 0-10, 55757-9 PHQ-2, 44261-6 PHQ-9 total, 89247-1 ECOG,
21908-9 clinical stage group as mCODE STU2 codes it); the ten OP-35 categories (CMS OP-35,
"Admissions and Emergency Department Visits for Patients Receiving Outpatient Chemotherapy");
SNOMED CT International for the SNOMED alternatives and hospice (385763009 Hospice care,
305336008 Admission to hospice — the codes the reader takes as hospice).
The diagnosis picks below are single representative codes of each category, not the value
sets (those are data files of the measures).
"""

from __future__ import annotations

RX = "http://www.nlm.nih.gov/research/umls/rxnorm"
SCT = "http://snomed.info/sct"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
LOINC = "http://loinc.org"
ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CPT = "http://www.ama-assn.org/go/cpt"
HCPCS = "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"  # CARIN BB Aliases.fsh
AJCC = "http://cancerstaging.org"
GEOLOCATION = "http://hl7.org/fhir/StructureDefinition/geolocation"
MCODE_STAGE = "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-tnm-clinical-stage-group"

# regimen → (cancer ICD-10-CM, [(ingredient rxcui, name, route)], cycle days, oral supply days)
# (the order and content of the timeline benchmark's generator, kept for the same seed)
REGIMENS: list[tuple[str, list[tuple[str, str, str]], int, int]] = [
    (
        "C18.7",
        [
            ("32592", "oxaliplatin", "iv"),
            ("6313", "leucovorin", "iv"),
            ("4492", "fluorouracil", "iv"),
        ],
        14,
        0,
    ),
    ("C34.90", [("2555", "cisplatin", "iv"), ("12574", "gemcitabine", "iv")], 21, 0),
    ("C34.90", [("72962", "docetaxel", "iv")], 21, 0),
    ("C50.911", [("3639", "doxorubicin", "iv"), ("3002", "cyclophosphamide", "iv")], 21, 0),
    ("C50.911", [("10324", "tamoxifen", "oral")], 0, 30),
    ("C18.2", [("194000", "capecitabine", "oral")], 0, 21),
    (
        "C83.30",
        [
            ("121191", "rituximab", "iv"),
            ("3002", "cyclophosphamide", "iv"),
            ("3639", "doxorubicin", "iv"),
            ("11202", "vincristine", "iv"),
        ],
        21,
        0,
    ),
]
HORMONAL = frozenset({"tamoxifen"})
LIQUID_PREFIXES = (
    "C81",
    "C82",
    "C83",
    "C84",
    "C85",
    "C88",
    "C90",
    "C91",
    "C92",
    "C93",
    "C94",
    "C95",
)
COMORBIDITIES = ["E11.9", "I50.9", "J44.9", "N18.3", "I10", "E78.5", "K74.60", "I25.2"]

# OP-35 category → (ICD-10-CM code, SNOMED CT code, display)
OP35: dict[str, tuple[str, str, str]] = {
    "anemia": ("D64.9", "271737000", "Anemia"),
    "dehydration": ("E86.0", "34095006", "Dehydration"),
    "diarrhea": ("R19.7", "62315008", "Diarrhea"),
    "emesis": ("R11.10", "422400008", "Vomiting"),
    "fever": ("R50.9", "386661006", "Fever"),
    "nausea": ("R11.0", "422587007", "Nausea"),
    "neutropenia": ("D70.1", "165517008", "Neutropenia"),
    "pain": ("R52", "22253000", "Pain"),
    "pneumonia": ("J18.9", "233604007", "Pneumonia"),
    "sepsis": ("A41.9", "91302008", "Sepsis"),
}
# Emergency diagnoses outside OP-35: (system, code, display)
NON_OP35: list[tuple[str, str, str]] = [
    (ICD, "S52.501A", "Fracture of lower end of right radius, initial encounter"),
    (ICD, "S72.001A", "Fracture of neck of right femur, initial encounter"),
    (SCT, "125605004", "Fracture of bone"),
]

ECOG = "89247-1"
PAIN = "72514-3"
PHQ2 = "55757-9"
PHQ9 = "44261-6"
STAGE_GROUP = "21908-9"
DISEASE_STATUS = "97509-4"
DISEASE_STATUS_VALUES = ["260415000", "359746009", "271299001"]
HOSPICE_CARE = "385763009"
HOSPICE_ADMISSION = "305336008"
STAGES = [
    "2A",
    "2B",
    "3A",
    "3B",
    "3C",
]  # I-III: stage IV would make monitoring months metastatic (cpoc-rules §6)

# Billing: E&M by visit (new patient for the first one), administration by route.
EM_NEW = ("99203", "99204", "99205")
EM_ESTABLISHED = ("99212", "99213", "99214", "99215")
VENIPUNCTURE = "36415"
LABS = ("85025", "80053")  # CBC with differential; comprehensive metabolic panel
IMAGING = "74177"  # CT abdomen and pelvis with contrast
CHEMO_FIRST_HOUR = "96413"
CHEMO_ADDITIONAL_HOUR = "96415"
CHEMO_SEQUENTIAL = "96417"
CHEMO_PUSH = "96409"
CHEMO_PUSH_ADDITIONAL = "96411"
HYDRATION_FIRST_HOUR = "96360"
HYDRATION_ADDITIONAL_HOUR = "96361"
INJECTION = "96372"
# drug → (HCPCS J-code, units per dose at a 1.9 m² body surface, "infusion"|"push", hours)
DRUG_BILLING: dict[str, tuple[str, int, str, int]] = {
    "oxaliplatin": ("J9263", 323, "infusion", 2),  # 85 mg/m² = 161.5 mg, per 0.5 mg
    "leucovorin": ("J0640", 16, "infusion", 2),  # 400 mg/m² = 760 mg, per 50 mg
    "fluorouracil": ("J9190", 11, "push", 0),  # 400 + 2400 mg/m² = 5320 mg, per 500 mg
    "cisplatin": ("J9060", 15, "infusion", 1),  # 75 mg/m² = 142.5 mg, per 10 mg
    "gemcitabine": ("J9201", 10, "infusion", 1),  # 1000 mg/m² = 1900 mg, per 200 mg
    "docetaxel": ("J9171", 143, "infusion", 1),  # 75 mg/m² = 142.5 mg, per 1 mg
    "doxorubicin": ("J9000", 12, "push", 0),  # 60 mg/m² = 114 mg, per 10 mg
    "cyclophosphamide": ("J9070", 12, "infusion", 1),  # 600 mg/m² = 1140 mg, per 100 mg
    "rituximab": ("J9312", 72, "infusion", 4),  # 375 mg/m² = 712.5 mg, per 10 mg
    "vincristine": ("J9370", 2, "push", 0),  # 1.4 mg/m² capped at 2 mg, per 1 mg
}
HYDRATED = frozenset({"cisplatin"})
