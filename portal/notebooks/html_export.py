"""Executed notebooks as self-contained HTML pages for the portal: nbconvert's lab page with no script
from a CDN (template in nbconvert_templates/offline) and without the input cells (nbconvert's
exclude_input: a report of outputs, tables, figures and errors), served under a content security policy that
allows inline scripts and styles only, in a sandbox (an opaque origin: a report's scripts cannot read
the portal's cookies or call it as the user)."""
from __future__ import annotations

import re
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parent / "nbconvert_templates"
TEMPLATE = "offline"
# plotly's notebook renderer adds MathJax from a CDN before every figure, whatever the settings; the
# figures hold no TeX, and the policy below would block the load anyway (with an error in the console)
REMOTE_SCRIPT = re.compile(r'<script\b[^>]*\bsrc="(?:https?:)?//[^"]*"[^>]*>\s*</script>', re.IGNORECASE)
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'none'",
    "script-src 'unsafe-inline' 'unsafe-eval'",  # plotly.js is inline in the page and compiles code
    "style-src 'unsafe-inline'",
    "img-src data: blob:",
    "font-src data:",
    "connect-src 'none'",
    "form-action 'none'",
    "base-uri 'none'",
    "frame-ancestors 'self'",
    "sandbox allow-scripts allow-popups",
])


def to_html(notebook) -> str:
    """An executed notebook (an nbformat node) as one HTML page, its code left out. The one file is both
    the report shown in the portal and the HTML download; the .ipynb download keeps the code."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(extra_template_basedirs=[str(TEMPLATES)], template_name=TEMPLATE, exclude_input=True)
    body, _ = exporter.from_notebook_node(notebook)
    return REMOTE_SCRIPT.sub("", body)
