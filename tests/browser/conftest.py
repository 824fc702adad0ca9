"""Browser fixtures: the root conftest's portal (`app`, on a temporary SQLite database with one made-up
test user per role), and sign-in through the real form in headless Chromium (dash_duo)."""
from __future__ import annotations

import pytest

from tests.helpers import PASSWORD, email_of, held_out_frame, submit_sign_in


@pytest.fixture
def signed_in(dash_duo, app):
    """signed_in(role): start the portal, sign in as that role's user, land on Home."""
    def sign_in(role: str):
        dash_duo.start_server(app, navigate=False)
        dash_duo.driver.set_window_size(1400, 1000)
        submit_sign_in(dash_duo, email_of(role), PASSWORD)
        dash_duo.server_url = dash_duo.server.url  # waits for the Dash app to load
        dash_duo.wait_for_element("#home-models", timeout=20)
        return dash_duo
    return sign_in


@pytest.fixture
def example_file(tmp_path, tcga, registry):
    """Real held-out TCGA samples with their true classes, as the Predict page's example download."""
    path = tmp_path / "example.csv"
    held_out_frame(tcga, registry).to_csv(path, index=False)
    return path
