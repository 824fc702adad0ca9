"""Browser fixtures: a portal on a temporary SQLite database with one made-up test user per role, and
sign-in through the real form in headless Chromium (dash_duo)."""
from __future__ import annotations

import json

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.portal.conftest import PASSWORD, app_with_test_users, email_of, make_settings

MODEL = "tcga-mirna-type"
TRAINING_SEED = 7  # tests/conftest.py trains the session's models with this seed


@pytest.fixture
def portal_app(tmp_path, models_root):
    app = app_with_test_users(make_settings(tmp_path, f"sqlite:///{tmp_path / 'portal.db'}", models_root))
    yield app
    app.server.extensions["cancer_alpha"].db.dispose()


def submit_sign_in(dash_duo, email: str, password: str) -> None:
    driver = dash_duo.driver
    driver.get(dash_duo.server.url + "/login")
    dash_duo.wait_for_element("#login-email").send_keys(email)
    driver.find_element("css selector", "#login-password").send_keys(password)
    driver.find_element("css selector", "#login-submit").click()


@pytest.fixture
def signed_in(dash_duo, portal_app):
    """signed_in(role): start the portal, sign in as that role's user, land on Home."""
    def sign_in(role: str):
        dash_duo.start_server(portal_app, navigate=False)
        dash_duo.driver.set_window_size(1400, 1000)
        submit_sign_in(dash_duo, email_of(role), PASSWORD)
        dash_duo.server_url = dash_duo.server.url  # waits for the Dash app to load
        dash_duo.wait_for_element("#home-models", timeout=20)
        return dash_duo
    return sign_in


@pytest.fixture
def example_file(tmp_path, tcga, registry):
    """Real held-out TCGA samples with their true classes, as the Predict page's example download."""
    ids = registry.resolve(MODEL).metadata["split"]["test_ids"]
    frame = tcga.X.loc[ids].reset_index()
    frame.insert(1, "true_label", tcga.y.loc[ids].to_numpy())
    path = tmp_path / "example.csv"
    frame.to_csv(path, index=False)
    return path


def upload(dash_duo, path) -> None:
    dash_duo.wait_for_page(url=dash_duo.server.url + f"/predict?model={MODEL}")
    dash_duo.wait_for_contains_text("#predict-version-note", f"{MODEL}:1", timeout=20)
    dash_duo.find_element("#predict-upload input[type=file]").send_keys(str(path))


def notebook_field_selector(name: str, role: str = "plain") -> str:
    """The CSS selector of a notebook form's field (Dash writes a dict id as compact, key-sorted JSON)."""
    return "[id='" + json.dumps({"name": name, "role": role, "type": "nb-param"}, separators=(",", ":")) + "']"


def notebook_field(dash_duo, name: str, role: str = "plain"):
    return dash_duo.driver.find_element(By.CSS_SELECTOR, "input" + notebook_field_selector(name, role))


def set_parameter(dash_duo, name: str, value: str) -> None:
    field = notebook_field(dash_duo, name)
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(value, Keys.TAB)  # debounced inputs report their value on blur


def choose(dash_duo, selector: str, value=None, index=None) -> None:
    """Pick a dcc.Dropdown option, then close its menu (Dash 4 keeps it open over the next control)."""
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});",
                                   dash_duo.find_element(selector))
    dash_duo.select_dcc_dropdown(selector, value=value, index=index)
    dash_duo.driver.switch_to.active_element.send_keys(Keys.ESCAPE)
