"""The 404 page (Dash pages uses a module named not_found_404 for unknown paths)."""
import dash
from dash import html

dash.register_page(__name__, path="/404", name="Not found", in_nav=False)


def layout(**_query):
    return html.Div([html.H1("Page not found", className="h4"),
                     html.P("There is no page at this address."), html.A("Go to Home", href="/")],
                    id="not-found")
