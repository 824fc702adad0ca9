"""Plotly figures as SVG, exported by plotly's own static export (kaleido, which drives Debian's chromium).

A FigureExporter owns one kaleido browser for its lifetime: started on the first export (a new browser
costs seconds, an export on a running one a fraction of a second), stopped by `close()` or at the
process's exit. The browser runs on an event loop in a thread of the exporter's, so any thread may
export; kaleido's one tab takes the exports one at a time. A Portal owns one (portal.core.context);
the command line makes its own. kaleido's plotly.js comes from the plotly package and MathJax is off:
an export loads nothing from the network."""
from __future__ import annotations

import asyncio
import atexit
import logging
import threading

import plotly.graph_objects as go

log = logging.getLogger(__name__)
FONT = "DejaVu Sans"  # the report's font (Debian's fonts-dejavu-core): chromium measures text in it too
START_SECONDS = 60
EXPORT_SECONDS = 60
CLOSE_SECONDS = 5  # closing runs at exit too: a browser that does not answer is left to die with the process


class ExportUnavailable(RuntimeError):
    """The browser could not be started or did not answer (chromium missing, or stuck)."""


class FigureExporter:
    def __init__(self, browser_path: str | None = None):
        self._browser_path = browser_path  # None: kaleido finds chromium (or BROWSER_PATH)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._kaleido = None
        self.starts = 0  # browsers started so far (one per process, unless closed and used again)

    @property
    def running(self) -> bool:
        return self._kaleido is not None

    def svg(self, fig: go.Figure, width: int, height: int) -> str:
        """The figure as an SVG document of width x height CSS pixels, its text in FONT. A browser that died
        since the last export is replaced once (ExportUnavailable if the new one fails too)."""
        fig = go.Figure(fig).update_layout(font_family=FONT, width=width, height=height)
        try:
            return self._export(fig, width, height)
        except ExportUnavailable:
            log.warning("the figure export failed; trying once more with a new browser", exc_info=True)
            return self._export(fig, width, height)

    def _export(self, fig: go.Figure, width: int, height: int) -> str:
        kaleido, loop = self._started()
        work = asyncio.run_coroutine_threadsafe(
            kaleido.calc_fig(fig, opts={"format": "svg", "width": width, "height": height}), loop)
        try:
            return work.result(EXPORT_SECONDS).decode("utf-8")
        except Exception as error:  # stuck, or the browser died: the next export starts a new one
            work.cancel()
            self.close()
            reason = (f"did not answer within {EXPORT_SECONDS} s" if isinstance(error, TimeoutError)
                      else f"failed: {error}")
            raise ExportUnavailable(f"the figure export {reason}") from None

    def _started(self):
        with self._lock:
            if self._kaleido is None:
                self._start()
            return self._kaleido, self._loop

    def _start(self) -> None:
        from kaleido import Kaleido, PageGenerator  # ~0.1 s, and only where figures are exported

        for chatty in ("choreographer", "kaleido", "logistro"):  # a line per temporary file and tab otherwise
            logging.getLogger(chatty).setLevel(logging.WARNING)

        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="figure-export", daemon=True)
        thread.start()

        async def open_browser():
            options = {"path": self._browser_path} if self._browser_path else {}
            browser = Kaleido(page_generator=PageGenerator(mathjax=False), **options)
            await browser.open()
            return browser

        try:
            self._kaleido = asyncio.run_coroutine_threadsafe(open_browser(), loop).result(START_SECONDS)
        except Exception as error:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(5)
            raise ExportUnavailable(f"the figure export's browser did not start: {error}") from None
        self._loop, self._thread = loop, thread
        self.starts += 1
        if self.starts == 1:
            atexit.register(self.close)

    def close(self) -> None:
        """Stop the browser (the next export starts another)."""
        with self._lock:
            if self._kaleido is None:
                return
            kaleido, loop, thread = self._kaleido, self._loop, self._thread
            self._kaleido = self._loop = self._thread = None
            try:
                asyncio.run_coroutine_threadsafe(kaleido.close(), loop).result(CLOSE_SECONDS)
            except Exception:  # a browser that died or hangs: its loop is stopped all the same
                log.warning("the figure export's browser did not close cleanly", exc_info=True)
            finally:
                loop.call_soon_threadsafe(loop.stop)
                thread.join(CLOSE_SECONDS)
                if not thread.is_alive():  # a loop still running cannot be closed
                    loop.close()
