"""One sample's prediction as a FHIR R4 Bundle (4.0.1-compatible), for a record system: a DiagnosticReport
(status `final`, `preliminary` when the model abstains; category genetics), one Observation per class
probability (UCUM "%"), the abstain and out-of-distribution verdicts as boolean Observations, a Device for
the model version that made them (each Observation's device: its identifiers name the model, its version and
its artifact's sha256) and the portal as an Organization, the report's performer. (R4 lets a
DiagnosticReport's performer be a Practitioner, PractitionerRole, Organization or CareTeam, never a Device:
the package's R4B models carry that list, `check_references` holds every reference in the bundle to it.)

Built with the `fhir.resources` package's R4B models (pydantic 2; field-compatible with R4 for these four
resources), which refuse unknown fields, wrong types and missing required fields. They do not check the
required code lists (statuses, the bundle type, name types...) nor what a reference points at:
`check_codes` and `check_references` do, and a resource that fails any check is refused with a FhirError
naming the field and the value.

The bundle is a `collection`, not a `document`: a document is an attested, immutable composition about a
known subject, while this one is a research tool's result whose subject the record system may have to fill
in (see below) and that nobody has signed. A collection keeps the resources together, linked by their
fullUrl (urn:uuid), for the receiving system to file.

Subject: the sample id is sent as the subject's identifier only when its upload declared the ids pseudonyms
(Upload.pseudonymous_ids); otherwise no subject is given, the record system attaches the report to its
patient, and the report's narrative says why."""
from __future__ import annotations

import html
import json
import uuid
from dataclasses import dataclass

from pydantic import ValidationError

from portal.reports.sample_facts import SampleFacts

FHIR_VERSION = "4.0.1"
MEDIA_TYPE = "application/fhir+json"
UCUM = "http://unitsofmeasure.org"
LOINC = "http://loinc.org"
NCIT = "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl"  # NCI Thesaurus, as HL7 Terminology (THO) names it
V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074"  # diagnostic service section: GE = genetics
MODEL_SYSTEM = "urn:cancer-alpha:model-version"  # identifier: "name:version"
ARTIFACT_SYSTEM = "urn:cancer-alpha:artifact-sha256"
SAMPLE_SYSTEM = "urn:cancer-alpha:pseudonymous-sample-id"
PORTAL_NAME = "Cancer Alpha portal"
RESEARCH_ONLY = "Research use only, not for diagnosis."

# The report's kind: LOINC 51969-4 "Genetic analysis report", the code HL7's mCODE Genomics Report profile
# gives a report of genomic analysis (category v2-0074 GE), read on hl7.org/fhir/us/mcode
# (StructureDefinition-mcode-genomics-report, DiagnosticReport-genomics-report-john-anyperson); that profile
# asks for the report's own name in code.text, which says what this one is.
REPORT_CODE = {"system": LOINC, "code": "51969-4", "display": "Genetic analysis report"}

# Classes with a code for the conclusion, and where each was read. Classes not listed get text only: a code is
# given only where it names the class itself, not a neighbour of it. NCIt codes and labels as the NCI
# Thesaurus OWL gives them (purl.obolibrary.org/obo/NCIT_<code>), read in the repository
# yy20716/mondo-hpo-learner, files ncit_report/markdown/NCIT_<code>.md:
#   C9245 Invasive Breast Carcinoma       (TCGA-BRCA: breast invasive carcinoma)
#   C2919 Prostate Adenocarcinoma         (TCGA-PRAD: prostate adenocarcinoma)
#   C3510 Cutaneous Melanoma              (TCGA-SKCM: skin cutaneous melanoma)
#   C53554 Luminal A Breast Carcinoma, C53555 Luminal B Breast Carcinoma, C53558 Basal-Like Breast Carcinoma,
#   C53557 Normal Breast-Like Subtype of Breast Carcinoma: subclasses of C53553 "Breast Carcinoma by Gene
#   Expression Profile" (NCIT_C53553.md). HER2-enriched gets no code: the sibling C53556 is "HER2 Positive
#   Breast Carcinoma", a receptor status, not the PAM50 expression subtype.
#   C2926 Non-Small Cell Lung Carcinoma, C4917 Small Cell Lung Carcinoma, C3270 Neuroblastoma (GDSC tissues
#   lung_NSCLC, lung_SCLC, neuroblastoma); GDSC's other labels name a site, not a tumour type: text only.
CONCLUSION_CODES: dict[tuple[str, str], tuple[str, str]] = {
    ("tcga-mirna-type", "BRCA"): ("C9245", "Invasive Breast Carcinoma"),
    ("tcga-mirna-type", "PRAD"): ("C2919", "Prostate Adenocarcinoma"),
    ("tcga-mirna-type", "SKCM"): ("C3510", "Cutaneous Melanoma"),
    ("brca-subtype", "Luminal A"): ("C53554", "Luminal A Breast Carcinoma"),
    ("brca-subtype", "Luminal B"): ("C53555", "Luminal B Breast Carcinoma"),
    ("brca-subtype", "Basal-like"): ("C53558", "Basal-Like Breast Carcinoma"),
    ("brca-subtype", "Normal-like"): ("C53557", "Normal Breast-Like Subtype of Breast Carcinoma"),
    ("tissue-of-origin", "lung_NSCLC"): ("C2926", "Non-Small Cell Lung Carcinoma"),
    ("tissue-of-origin", "lung_SCLC"): ("C4917", "Small Cell Lung Carcinoma"),
    ("tissue-of-origin", "neuroblastoma"): ("C3270", "Neuroblastoma"),
}

# The required (closed) code lists of FHIR R4 that the package does not check, for the fields this module
# sets: each resource type's paths (dots through objects and lists) and the codes allowed there.
CODE_LISTS: dict[str, dict[str, frozenset[str]]] = {
    "Bundle": {"type": frozenset({"document", "message", "transaction", "transaction-response", "batch",
                                  "batch-response", "history", "searchset", "collection"})},
    "DiagnosticReport": {"status": frozenset({"registered", "partial", "preliminary", "final", "amended",
                                              "corrected", "appended", "cancelled", "entered-in-error",
                                              "unknown"}),
                         "text.status": frozenset({"generated", "extensions", "additional", "empty"}),
                         "identifier.use": frozenset({"usual", "official", "temp", "secondary", "old"})},
    "Observation": {"status": frozenset({"registered", "preliminary", "final", "amended", "corrected",
                                         "cancelled", "entered-in-error", "unknown"}),
                    "valueQuantity.comparator": frozenset({"<", "<=", ">=", ">"})},
    "Organization": {"identifier.use": frozenset({"usual", "official", "temp", "secondary", "old"})},
    "Device": {"status": frozenset({"active", "inactive", "entered-in-error", "unknown"}),
               "deviceName.type": frozenset({"udi-label-name", "user-friendly-name", "patient-reported-name",
                                             "manufacturer-name", "model-name", "other"}),
               "identifier.use": frozenset({"usual", "official", "temp", "secondary", "old"})},
}


class FhirError(ValueError):
    """A resource that FHIR R4 (or the package's models) refuses: `where` names the field."""

    def __init__(self, where: str, message: str):
        super().__init__(f"{where}: {message}")
        self.where, self.message = where, message


@dataclass(frozen=True)
class FhirExport:
    """The bundle as served: its JSON text's bytes and their sha256 (kept in the audit trail)."""

    bundle: dict
    content: bytes
    sha256: str


def _values_at(node, path: list[str]):
    if not path:
        yield node
        return
    if isinstance(node, list):
        for item in node:
            yield from _values_at(item, path)
    elif isinstance(node, dict) and path[0] in node:
        yield from _values_at(node[path[0]], path[1:])


def check_codes(resource: dict) -> None:
    """Refuse a code outside its required list (FhirError naming the resource, the field and the value),
    in `resource` and, for a Bundle, in each entry's resource."""
    kind = resource.get("resourceType")
    for path, allowed in CODE_LISTS.get(kind, {}).items():
        for value in _values_at(resource, path.split(".")):
            if value not in allowed:
                raise FhirError(f"{kind}.{path}", f"{value!r} is not one of {', '.join(sorted(allowed))}")
    if kind == "Observation" and "valueQuantity" in resource:
        quantity = resource["valueQuantity"]
        if quantity.get("system") != UCUM or quantity.get("code") != "%":
            raise FhirError("Observation.valueQuantity", f"a probability is in UCUM '%' (system {UCUM}), not "
                                                         f"{quantity.get('code')!r} of {quantity.get('system')!r}")
    for n, entry in enumerate(resource.get("entry", []) if kind == "Bundle" else []):
        if not isinstance(entry.get("resource"), dict):
            raise FhirError(f"Bundle.entry[{n}]", "an entry holds no resource")
        check_codes(entry["resource"])


def _references(resource: dict):
    """(field, reference) for each Reference among the resource's own fields."""
    for field, value in resource.items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, dict) and ("reference" in item or "identifier" in item and "type" in item):
                yield field, item


def check_references(bundle: dict) -> None:
    """Every reference between the bundle's entries resolves to one of them (by fullUrl), and points at a
    resource type its field allows (FhirError naming the field otherwise); a logical reference's `type` too."""
    from fhir.resources.R4B import get_fhir_model_class

    kinds = {entry.get("fullUrl"): entry["resource"].get("resourceType") for entry in bundle.get("entry", [])}
    for entry in bundle.get("entry", []):
        resource = entry["resource"]
        fields = get_fhir_model_class(resource["resourceType"]).model_fields
        for field, reference in _references(resource):
            allowed = (fields[field].json_schema_extra or {}).get("enum_reference_types") if field in fields else None
            if not allowed:
                continue
            where = f"{resource['resourceType']}.{field}"
            target = reference.get("type")
            if "reference" in reference:
                if reference["reference"] not in kinds:
                    raise FhirError(where, f"{reference['reference']!r} is no entry of the bundle")
                target = kinds[reference["reference"]]
            if target is not None and target not in allowed and "Resource" not in allowed:
                raise FhirError(where, f"a {target} is not one of {', '.join(allowed)}")


def validated(resource: dict) -> dict:
    """`resource` as the package's R4B model reads it back (FhirError on a refusal), after check_codes."""
    from fhir.resources.R4B import get_fhir_model_class  # imported here: the package takes ~0.4 s to load

    kind = resource.get("resourceType") if isinstance(resource, dict) else None
    try:
        model = get_fhir_model_class(kind)
    except (KeyError, ValueError, TypeError):
        raise FhirError("resourceType", f"{kind!r} is not a FHIR R4 resource type") from None
    try:
        parsed = model.model_validate(resource)
    except ValidationError as error:
        problem = error.errors()[0]
        where = ".".join(str(part) for part in (kind, *problem["loc"]))
        raise FhirError(where, problem["msg"]) from None
    check_codes(resource)
    if kind == "Bundle":
        check_references(resource)
    return json.loads(parsed.model_dump_json(exclude_none=True))


def _urn() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def _percent(probability: float) -> float:
    return round(100.0 * probability, 4)


def _conclusion_code(facts: SampleFacts) -> dict | None:
    """The predicted class as a code (NCIt) where one names it; none when the model abstained, so that a
    record system does not file as coded a class the model itself would not commit to."""
    found = CONCLUSION_CODES.get((facts.version.name, facts.predicted))
    if found is None or facts.abstain:
        return None
    code, display = found
    return {"coding": [{"system": NCIT, "code": code, "display": display}], "text": facts.predicted}


def subject_words(facts: SampleFacts) -> str:
    if facts.pseudonymous_id:
        return (f"Subject: the sample id {facts.sample_id}, which its upload declared a pseudonym (not a direct "
                "identifier).")
    return ("No subject is given: the upload did not declare its sample ids pseudonyms, so the sample id may "
            "identify a person and is left out. The record system attaches this report to its patient.")


def conclusion(facts: SampleFacts) -> str:
    shown = _percent(facts.confidence)
    shown = "above 99.9" if shown > 99.9 else f"{shown:.1f}"  # never "100.0 %": no call is certain
    words = [f"Predicted class: {facts.predicted}, calibrated probability {shown} %."]
    if facts.abstain:
        words.append(f"Below the model's abstain threshold ({facts.version.abstain_threshold:.2f}): the model "
                     "abstains; do not rely on this class.")
    if facts.out_of_distribution:
        words.append("Out of distribution: this sample is unlike the samples the model was trained on.")
    words.append(RESEARCH_ONLY)
    return " ".join(words)


def _narrative(facts: SampleFacts) -> dict:
    lines = [f"{facts.version.ref}: {conclusion(facts)}", subject_words(facts),
             f"Model artifact sha256 {facts.version.sha256}; generated by {facts.author} at "
             f"{facts.generated_at.isoformat()}."]
    body = "".join(f"<p>{html.escape(line)}</p>" for line in lines)
    return {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{body}</div>'}


def _device(facts: SampleFacts) -> dict:
    version = facts.version
    return {
        "resourceType": "Device",
        "status": "active",
        "identifier": [{"use": "official", "system": MODEL_SYSTEM, "value": f"{version.name}:{version.version}"},
                       {"system": ARTIFACT_SYSTEM, "value": version.sha256}],
        "deviceName": [{"name": PORTAL_NAME, "type": "user-friendly-name"},
                       {"name": version.name, "type": "model-name"}],
        "type": {"text": "Machine-learning classifier of cancer samples from genomic data (software)"},
        "version": [{"value": str(version.version)}],
        "note": [{"text": f"{version.algorithm} trained on {version.dataset_title}. {RESEARCH_ONLY}"}],
    }


def _organization() -> dict:
    return {"resourceType": "Organization", "active": True, "name": PORTAL_NAME,
            "alias": ["research service that ran the model (not a laboratory)"]}


def _observation(facts: SampleFacts, status: str, device: str, subject: dict | None, text: str, **value) -> dict:
    observation = {"resourceType": "Observation", "status": status, "code": {"text": text},
                   "issued": facts.generated_at.isoformat(), "device": {"reference": device}, **value}
    if subject is not None:
        observation["subject"] = subject
    return observation


def fhir_bundle(facts: SampleFacts) -> dict:
    """The sample's FHIR R4 collection Bundle, validated by the package's models and the code lists
    (FhirError if anything in it is refused)."""
    status = "preliminary" if facts.abstain else "final"
    device_url, organization_url = _urn(), _urn()
    subject = None
    if facts.pseudonymous_id:
        subject = {"type": "Patient", "identifier": {"system": SAMPLE_SYSTEM, "value": facts.sample_id},
                   "display": "pseudonymous sample id, as its upload declared"}
    threshold = facts.version.abstain_threshold
    observations = [
        _observation(facts, status, device_url, subject, f"Calibrated probability of class {name} "
                                                         f"({facts.version.ref})",
                     valueQuantity={"value": _percent(p), "unit": "%", "system": UCUM, "code": "%"})
        for name, p in zip(facts.classes, facts.probabilities)]
    observations.append(_observation(
        facts, status, device_url, subject, f"Model abstains: confidence below its abstain threshold {threshold:.2f}",
        valueBoolean=facts.abstain))
    observations.append(_observation(
        facts, status, device_url, subject, "Out of distribution: the sample is unlike the model's training samples",
        valueBoolean=facts.out_of_distribution))
    observation_urls = [_urn() for _ in observations]
    report = {
        "resourceType": "DiagnosticReport",
        "identifier": [{"use": "official", "system": "urn:ietf:rfc:3986", "value": _urn()}],
        "text": _narrative(facts),
        "status": status,
        "category": [{"coding": [{"system": V2_0074, "code": "GE", "display": "Genetics"}]}],
        "code": {"coding": [REPORT_CODE], "text": f"Cancer classification from genomic data by {facts.version.ref} "
                                                  f"(research use only)"},
        "issued": facts.generated_at.isoformat(),
        "performer": [{"reference": organization_url, "display": PORTAL_NAME}],
        "result": [{"reference": url} for url in observation_urls],
        "conclusion": conclusion(facts),
    }
    if subject is not None:
        report["subject"] = subject
    coded = _conclusion_code(facts)
    if coded is not None:
        report["conclusionCode"] = [coded]
    entries = [{"fullUrl": _urn(), "resource": report}, {"fullUrl": organization_url, "resource": _organization()},
               {"fullUrl": device_url, "resource": _device(facts)},
               *({"fullUrl": url, "resource": o} for url, o in zip(observation_urls, observations))]
    bundle = {"resourceType": "Bundle", "identifier": {"system": "urn:ietf:rfc:3986", "value": _urn()},
              "type": "collection", "timestamp": facts.generated_at.isoformat(), "entry": entries}
    return validated(bundle)


def export(facts: SampleFacts) -> FhirExport:
    """The bundle as bytes to serve, with their sha256."""
    from engine.checksums import sha256_bytes

    bundle = fhir_bundle(facts)
    content = json.dumps(bundle, ensure_ascii=False, indent=1).encode()
    return FhirExport(bundle=bundle, content=content, sha256=sha256_bytes(content))
