"""One sample's report as a PDF of two A4 pages: the model (name, version, artifact sha256), its dataset and
license, the predicted class in plain words with its calibrated probability, the abstain and
out-of-distribution verdicts and what they mean, the sums per feature group, the model's held-out figures for
that class, the research-use notice, who generated it and when; then the top contributions as a vector figure.

The page is laid out by weasyprint from the template beside this module (autoescaped: sample ids and
labels are uploaded text), in Debian's DejaVu fonts; the figures are the explain page's own
(components.prediction_figures), exported as SVG by a FigureExporter and inlined. weasyprint loads no URL:
its fetcher refuses every one, so a report never reaches the network or the file system."""
from __future__ import annotations

import html
import logging
import textwrap
import uuid
from dataclasses import dataclass
from pathlib import Path

import jinja2
import plotly.graph_objects as go
from markupsafe import Markup

from components.explanation_text import confidence_words, distribution_words, group_words
from components.layout import RESEARCH_ONLY
from components.prediction_figures import shap_waterfall_figure
from portal.reports.figure_export import FigureExporter
from portal.reports.sample_facts import SampleFacts

TEMPLATES = Path(__file__).resolve().parent / "templates"
WIDTH = 760  # CSS pixels of a figure as exported; the page scales it to its text width (182 mm)
WATERFALL_HEIGHT = 1040  # the second page's text height (267 mm) in the same pixels, less its heading
SUBTITLE_CHARACTERS = 110  # of the figure's 12-pixel subtitle on one line of WIDTH
OTHER_CLASSES = 4  # next most probable classes named beside the call


@dataclass(frozen=True)
class PdfReport:
    content: bytes
    report_id: str  # printed on the report and kept in its audit entry with the sha256


class UrlRefused(RuntimeError):
    """The page named a URL: a report is self-contained, so this is a bug of the template."""


def _refuse_every_url():
    from weasyprint.urls import FatalURLFetchingError, URLFetcher

    class RefuseEveryUrl(URLFetcher):
        """A report is self-contained: any URL the page names (an image, a stylesheet, a font) stops it."""

        def fetch(self, url, headers=None):
            raise FatalURLFetchingError(f"a report loads no URL (asked for {url[:80]!r})")

    return RefuseEveryUrl()


def _template() -> jinja2.Template:
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                                     undefined=jinja2.StrictUndefined)
    return environment.get_template("sample_report.html")


def _fit_subtitle(fig: go.Figure, characters: int = SUBTITLE_CHARACTERS) -> go.Figure:
    """The subtitle's long lines broken at spaces (plotly does not wrap, and a page clips what overflows), with
    the top margin grown by a line for each break, as components.figures._layout makes room for a line."""
    subtitle = fig.layout.title.subtitle.text
    if not subtitle:
        return fig
    lines = [part for line in subtitle.split("<br>") for part in textwrap.wrap(line, characters) or [""]]
    added = len(lines) - (subtitle.count("<br>") + 1)
    fig.update_layout(title_subtitle_text="<br>".join(lines), margin_t=(fig.layout.margin.t or 0) + 18 * added)
    return fig


def _waterfall(facts: SampleFacts, exporter: FigureExporter) -> Markup:
    explained = facts.explanation.to_dict()
    # plotly reads a title as its own small HTML: an uploaded sample id is shown as text, never as a tag
    explained["sample"] = html.escape(str(explained.get("sample", facts.sample_id)), quote=False)
    waterfall = _fit_subtitle(shap_waterfall_figure(explained))
    height = min(WATERFALL_HEIGHT, int(waterfall.layout.height or WATERFALL_HEIGHT))
    return Markup(exporter.svg(waterfall, WIDTH, height))


def render_html(facts: SampleFacts, exporter: FigureExporter, report_id: str) -> str:
    version = facts.version
    group_sums = facts.explanation.to_dict()["group_sums"]
    groups = sorted(((str(g), float(v)) for g, v in group_sums.items()), key=lambda kv: (-abs(kv[1]), kv[0]))
    others = sorted((t for t in zip(facts.classes, facts.probabilities) if t[0] != facts.predicted),
                    key=lambda t: -t[1])[:OTHER_CLASSES]
    return _template().render(
        f=facts, cf=facts.class_figures, notice=RESEARCH_ONLY, report_id=report_id,
        generated=f"{facts.generated_at:%Y-%m-%d %H:%M:%S} UTC",
        license=version.provenance.get("data_license", "not recorded"),
        confidence_words=confidence_words(facts.predicted, facts.confidence, version.abstain_threshold,
                                          version.abstain_target_accuracy),
        distribution_words=distribution_words(facts.far_from_training, facts.outside_range, facts.out_of_range,
                                              facts.n_features),
        group_words=group_words(group_sums, facts.predicted), groups=groups, others=others,
        waterfall=_waterfall(facts, exporter))


def write_pdf(page: str) -> bytes:
    """An HTML page laid out as PDF by weasyprint, which may load no URL (UrlRefused)."""
    from weasyprint import HTML  # ~0.5 s to import: only where a report is made
    from weasyprint.urls import FatalURLFetchingError

    # plotly's SVG styles its text with SVG properties weasyprint's CSS does not know (it still draws them right):
    # a warning per text element would flood the log
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    try:
        return HTML(string=page, base_url=None, url_fetcher=_refuse_every_url()).write_pdf()
    except FatalURLFetchingError as error:  # a BaseException: made an ordinary error the callers handle
        raise UrlRefused(str(error)) from None


def render_pdf(facts: SampleFacts, exporter: FigureExporter) -> PdfReport:
    """The report of one sample as PDF bytes (the exporter's browser is started if it is not running)."""
    report_id = uuid.uuid4().hex
    return PdfReport(content=write_pdf(render_html(facts, exporter, report_id)), report_id=report_id)
