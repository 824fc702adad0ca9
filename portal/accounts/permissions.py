"""Who may do what. This table is the single source: pages, callbacks and API views all ask `allowed`
or `require`, on the server; the navigation bar only mirrors it."""
from __future__ import annotations

import flask
from flask_login import current_user

from portal.core.states import AuditOutcome

ADMIN, CLINICIAN, RESEARCHER, ANALYST = "admin", "clinician", "researcher", "analyst"
ROLES = (ADMIN, CLINICIAN, RESEARCHER, ANALYST)
EVERYONE = frozenset(ROLES)

PERMISSIONS: dict[str, tuple[frozenset[str], str]] = {
    "view_home": (EVERYONE, "open Home"),
    "view_models": (EVERYONE, "read the model registry, model cards and dataset provenance"),
    "view_performance": (EVERYONE, "read model-performance figures"),
    "manage_models": (frozenset({ADMIN}), "promote or roll back a model version (aliases)"),
    "manage_users": (frozenset({ADMIN}), "create users, change roles, deactivate users"),
    "view_audit": (frozenset({ADMIN}), "read the audit trail"),
    "view_monitoring": (frozenset({ADMIN}), "read the Monitoring page (traffic, predictions, jobs, drift of inputs)"),
    "change_own_password": (EVERYONE, "change one's own password"),
    # used by the prediction, API and notebook features
    "upload": (frozenset({ADMIN, CLINICIAN, RESEARCHER}), "upload a cohort file and validate it"),
    "predict": (frozenset({ADMIN, CLINICIAN, RESEARCHER}), "run predictions on an upload"),
    "explain": (frozenset({ADMIN, CLINICIAN, RESEARCHER}),
                "open a sample's explanation, its similar reference samples, and print it"),
    "export_reports": (frozenset({ADMIN, CLINICIAN, RESEARCHER}),
                       "download a sample's PDF report or FHIR R4 bundle (explain page, API)"),
    "whatif": (frozenset({ADMIN, RESEARCHER}),
               "change up to ten of a sample's feature values on its explanation and see the prediction again "
               "(nothing stored)"),
    "download": (frozenset({ADMIN, CLINICIAN, RESEARCHER}), "download one's prediction results"),
    "run_notebooks": (frozenset({ADMIN, ANALYST, RESEARCHER}), "run parameterized notebooks"),
    "view_notebooks": (EVERYONE, "read notebook runs and their reports"),
    "share_runs": (frozenset({ADMIN, CLINICIAN, RESEARCHER}),
                   "share one's prediction runs (read-only) with named users or a role, and revoke a share"),
    "review": (frozenset({ADMIN, CLINICIAN}), "record a review (verdict and note) of a sample of a run shared with one"),
    "manage_own_api_keys": (frozenset({ADMIN, CLINICIAN, RESEARCHER, ANALYST}), "create and revoke one's API keys"),
}


def allowed(role: str | None, permission: str) -> bool:
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")
    return role in PERMISSIONS[permission][0]


def current_role() -> str | None:
    return current_user.role if current_user.is_authenticated else None


def require(permission: str) -> None:
    """Inside a request (a callback, a view): 401 when signed out, 403 (and an audit entry) when the
    signed-in user's role lacks the permission."""
    if not current_user.is_authenticated:
        flask.abort(401)
    if not allowed(current_user.role, permission):
        from portal.accounts import audit  # audit needs the database context: imported when used

        audit.record("permission.denied", outcome=AuditOutcome.DENIED, target=permission)
        flask.abort(403, description=f"Your role ({current_user.role}) may not {PERMISSIONS[permission][1]}.")


def table_markdown() -> str:
    """The permission table as Markdown (for docs and the admin page)."""
    lines = ["| permission | what it allows | " + " | ".join(ROLES) + " |", "|---|---|" + "---|" * len(ROLES)]
    for name, (roles, description) in PERMISSIONS.items():
        lines.append(f"| `{name}` | {description} | " + " | ".join("yes" if r in roles else "-" for r in ROLES) + " |")
    return "\n".join(lines)
