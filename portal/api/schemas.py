"""Request and response models of REST API v1, declared once: they validate requests and the OpenAPI
document is generated from them."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StringConstraints, ValidationInfo,
                      field_validator)
from pydantic_core import PydanticCustomError

from portal.core.states import DataUseBasis
from portal.predictions import consent

MAX_SAMPLES = 1_000
FeatureValue = StrictFloat | StrictInt | None  # strict: "1.5" or true are not numbers here
MAX_FEATURE_NAME = 200  # characters; the longest feature name of the models is about 40
FeatureName = Annotated[str, StringConstraints(max_length=MAX_FEATURE_NAME)]  # an error never echoes a huge key


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Sample(Strict):
    id: Annotated[str, Field(min_length=1, max_length=200, description="Your identifier of the sample.")]
    features: Annotated[dict[FeatureName, FeatureValue], Field(
        description="Feature name -> value, for every feature of the model's schema (null: missing, imputed).")]


BasisName = Literal[tuple(basis.value for basis in DataUseBasis.choices())]  # never "unrecorded"
BASES_TEXT = "; ".join(f"`{b.value}`: {b.words} (reference{' required' if b.reference_required else ' optional'}: "
                       f"{b.reference_label})" for b in DataUseBasis.choices())


class DataUse(Strict):
    """The samples' data-use basis (consent) and its reference, recorded in the audit trail."""

    basis: Annotated[BasisName, Field(description=f"The ground on which the samples may be used. {BASES_TEXT}.")]
    reference: Annotated[str | None, Field(
        default=None, max_length=consent.MAX_REFERENCE, validate_default=True,
        description="The protocol, consent or source reference: one line of text, never personal data "
                    "such as an e-mail address.")]

    @field_validator("reference")
    @classmethod
    def _reference(cls, value: str | None, info: ValidationInfo) -> str | None:
        basis = info.data.get("basis")
        if basis is None:  # the basis itself was refused: that error says enough
            return value
        try:
            return consent.check_reference(DataUseBasis(basis), value)
        except consent.ConsentError as error:
            raise PydanticCustomError("data_use", error.message) from None


class PredictRequest(Strict):
    samples: Annotated[list[Sample], Field(min_length=1, max_length=MAX_SAMPLES)]
    data_use: Annotated[DataUse, Field(description="Required: the samples' data-use basis (consent).")]
    version: Annotated[str | None, Field(
        default=None, description="A version number or an alias (default: production).", max_length=64)]
    explain: bool = Field(default=False, description="Add each sample's top SHAP contributions.")
    top_k: Annotated[int, Field(default=10, ge=1, le=100, description="Contributions per sample with explain.")]


class PredictFilesForm(Strict):
    """The form fields of a prediction from files (multipart/form-data), beside the files in `file`."""

    data_use: Annotated[DataUse, Field(description="Required: the fields `data_use.basis` and `data_use.reference`.")]
    version: Annotated[str | None, Field(default=None, max_length=64)]
    explain: bool = False
    top_k: Annotated[int, Field(default=10, ge=1, le=100)]


class ExplainRequest(Strict):
    sample: Sample
    class_name: Annotated[str | None, Field(default=None, description="Class to explain (default: predicted).",
                                            max_length=200)]
    version: Annotated[str | None, Field(default=None, max_length=64)]
    top_k: Annotated[int, Field(default=20, ge=1, le=100)]


class Contribution(BaseModel):
    feature: str
    group: str
    value: float | None
    shap: float


class SampleScores(BaseModel):
    """What a model says of one sample beside its class: a prediction's, and a stored run's result row's."""

    probabilities: dict[str, float]
    confidence: float
    margin: float
    entropy: float
    abstain: bool
    out_of_distribution: bool
    ood_score: float


class SamplePrediction(SampleScores):
    id: str
    class_: str = Field(alias="class", serialization_alias="class")
    contributions: list[Contribution] | None = None

    model_config = ConfigDict(populate_by_name=True)


class ResponseMeta(BaseModel):
    model: str
    version: int
    sha256: str
    request_id: str
    elapsed_ms: float


class ReportIssue(BaseModel):
    """A warning of the files' validation report (engine.issues.Issue): row is 1-based over data rows."""

    code: str
    message: str
    severity: str
    row: int | None = None
    sample: str | None = None
    column: str | None = None
    count: int = 1


class BlockFindings(BaseModel):
    """One feature block of an upload in one file per block (engine.blocks), with at most 20 ids or names
    listed beside each count."""

    group: str
    file: str | None = Field(description="The file that held the block (null: none)")
    n_features: int
    n_samples: int
    missing_features: list[str]
    n_missing_features: int
    missing_samples: list[str] = Field(description="Samples of the upload this block lacks")
    n_missing_samples: int
    only_here: list[str] = Field(description="Ids that no other block holds")
    n_only_here: int
    read: bool


class FilesReport(BaseModel):
    """The validation report of the files a prediction was sent as."""

    source: str
    n_samples: int
    ok: bool
    n_errors: int
    n_warnings: int
    issues: list[ReportIssue]
    blocks: list[BlockFindings] | None = None


class PredictResponse(ResponseMeta):
    predictions: list[SamplePrediction]
    validation: FilesReport | None = Field(default=None, description="Sent as files (multipart/form-data): their "
                                           "validation report, per feature block when one file a block")


class Explanation(BaseModel):
    sample: str
    class_: str = Field(alias="class", serialization_alias="class")
    probability: float
    base_value: float
    output: float
    output_space: str
    top: list[Contribution]
    rest: float
    n_rest: int
    group_sums: dict[str, float]

    model_config = ConfigDict(populate_by_name=True)


class ExplainResponse(ResponseMeta):
    explanation: Explanation


class RunRecord(BaseModel):
    id: str
    name: str | None
    status: str
    model: str
    version: int
    sha256: str
    samples: int
    created: str
    finished: str | None
    summary: dict
    purged_at: str | None  # when retention (or an erasure) deleted its results and uploaded values
    purge_reason: str | None  # retention or erasure


class ResultRow(SampleScores):  # one sample of a finished run's results (portal.api.runs)
    sample_id: str
    predicted_class: str
    true_label: str | None = None


class RunResults(BaseModel):
    run: str
    offset: int
    limit: int
    total: int
    results: list[ResultRow]


class Feature(BaseModel):
    name: str
    group: str
    kind: str
    minimum: float | None
    maximum: float | None


class VersionSummary(BaseModel):
    version: int
    aliases: list[str]
    sha256: str
    algorithm: str
    created: str
    metrics: dict[str, float | None]


class ModelSummary(BaseModel):
    name: str
    dataset: str
    classes: list[str]
    versions: list[VersionSummary]


class ModelList(BaseModel):
    models: list[ModelSummary]


class ModelDetail(ModelSummary):
    id_column: str
    features: list[Feature]
    model_card: dict


class Health(BaseModel):
    status: str
    version: str
    database: bool
    models: list[str]


class Ready(BaseModel):
    status: str = Field(description="ready, degraded (serving without Redis) or not ready")
    version: str
    checks: dict[str, str] = Field(description="each check (database, redis, model:<name>) and its outcome")


class ErrorDetail(BaseModel):
    sample: str | None = None
    feature: str | None = None
    problem: str


class ErrorBody(BaseModel):
    code: str
    message: str
    details: list[ErrorDetail] = []


class ErrorResponse(BaseModel):
    error: ErrorBody
