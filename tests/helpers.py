"""What tests in several folders share: made-up test accounts, settings and portals built with the
application factory, sign-in, request headers, real held-out samples as files, and the steps a browser
test takes. Fixtures live in conftest.py files and use these; tests import from here, never from another
folder's conftest.

Every account and password here is made up for tests. Samples come from the real datasets."""
from __future__ import annotations

import base64
import dataclasses
import functools
import json
import os
import re

from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from engine import datasets
from portal.accounts.passwords import hash_password
from portal.accounts.permissions import ROLES
from portal.accounts.users import find_user
from portal.app import create_app
from portal.core.models import User
from portal.core.settings import Settings

MODEL = "tcga-mirna-type"  # the quick model most portal tests use
FAST_FOLDS = 3
TRAINING_SEED = 7  # tests/conftest.py trains the session's models with this seed
LABEL_COLUMN = "true_label"
# the data-use basis of the tests' uploads and API requests: the samples are TCGA's and GDSC's public data
# (the reference is made up)
DATA_USE = {"basis": "public", "reference": "TCGA and GDSC public releases (test fixture)"}

ADMIN_EMAIL = "admin@example.org"
PASSWORD = "correct horse battery staple"  # made-up test password
POSTGRES_URL = os.environ.get("CANCER_ALPHA_TEST_DATABASE_URL",
                              "postgresql+psycopg2://postgres@127.0.0.1:5432/test")


# -- data -------------------------------------------------------------------------------------------

def feature_subset(dataset: datasets.Dataset, n_features: int) -> datasets.Dataset:
    """The same real samples and labels on the first n features: a smaller, quicker problem."""
    names = dataset.schema.names[:n_features]
    schema = dataclasses.replace(dataset.schema, features=dataset.schema.features[:n_features])
    return dataclasses.replace(dataset, X=dataset.X[names], schema=schema)


def assert_shap_additive(bundle, X) -> None:
    """SHAP contributions plus the base value equal the explained model output, per sample and class."""
    from engine import explain

    values, base = explain.shap_values(bundle, X)
    output = explain.explained_output(bundle, X)
    assert abs(values.sum(axis=1) + base - output).max() < 1e-6


def held_out_frame(dataset, registry, n: int | None = None, labels: bool = True, model: str = MODEL):
    """Real held-out samples of `model` (of `dataset`) as an upload would hold them: the id column first, then
    (with `labels`) their true classes, then the features."""
    ids = registry.resolve(model).test_ids[:n]
    frame = dataset.X.loc[ids].reset_index()
    if labels:
        frame.insert(1, LABEL_COLUMN, dataset.y.loc[ids].to_numpy())
    return frame


def cohort_csv(tcga, registry, n=25, labels=True, model: str = MODEL) -> bytes:
    return held_out_frame(tcga, registry, n, labels, model).to_csv(index=False).encode()


# -- accounts and portals ---------------------------------------------------------------------------

def email_of(role: str) -> str:
    return ADMIN_EMAIL if role == "admin" else f"{role}@example.org"


def user_of(portal, role: str):
    """The made-up test user of a role in a portal built by `app_with_test_users`."""
    return find_user(portal.db, email_of(role))


def finished_run(portal, tcga, registry, n: int = 5, role: str = "researcher", model: str = MODEL):
    """A finished prediction run of the role's test user on n real held-out samples of `model` (MODEL, or
    another with its dataset in place of `tcga`), predicted in-process (inside an app or request context)."""
    from portal.core.states import RunStatus
    from portal.predictions import runs

    owner = user_of(portal, role)
    upload = runs.save_upload(portal, owner.id, "cohort.csv", cohort_csv(tcga, registry, n=n, model=model), model,
                              data_use=DATA_USE).upload
    run = runs.queue_run(portal, upload.id, owner.id, role)
    assert runs.execute_run(portal, run.id) == RunStatus.DONE
    return runs.get_run(portal, run.id, owner.id, role)


def make_settings(tmp_path, database_url, models_root, **overrides) -> Settings:
    values = dict(var_dir=tmp_path, database_url=database_url, models_dir=models_root,
                  secret_key="test-secret-key-not-for-production", admin_email=ADMIN_EMAIL,
                  admin_password=PASSWORD)
    values.update(overrides)
    return Settings.from_env(environ={}, **values)


# made up for tests: a Fernet key (urlsafe base64 of these 32 bytes)
TEST_STORAGE_KEY = base64.urlsafe_b64encode(b"made-up storage key, tests only!").decode()


def production_settings(tmp_path, postgres_url, models_root, **overrides) -> Settings:
    """Production settings for a test (production refuses SQLite and wants a storage key of its own): the
    made-up secret and storage keys, on a PostgreSQL database."""
    return make_settings(tmp_path, postgres_url, models_root, env="production", storage_key=TEST_STORAGE_KEY,
                         **overrides)


@functools.cache
def shared_password_hash() -> str:
    """PASSWORD's argon2 hash, made once per session: every test portal's made-up users share it (a hash
    costs about 0.15 s, and most tests build a portal). Signing in still verifies it for real."""
    return hash_password(PASSWORD)


def app_with_test_users(settings: Settings):
    """A portal whose database holds the first admin and one made-up test user per other role (stored
    as create_user stores them, with the session's hash of PASSWORD)."""
    dash_app = create_app(settings)
    db = dash_app.server.extensions["cancer_alpha"].db
    with db.session() as session:
        session.add_all(User(email=email_of(role), name=role.title(), role=role, password_hash=shared_password_hash(),
                             active=True) for role in ROLES if role != "admin")
    return dash_app


def sign_in(client, email: str, password: str = PASSWORD, next_: str | None = None):
    """Sign a Flask test client in through the real form (with its CSRF token)."""
    page = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    url = "/login" + (f"?next={next_}" if next_ else "")
    return client.post(url, data={"email": email, "password": password, "csrf": csrf})


def sign_out(client):
    """Sign a Flask test client out through the real form (a POST with the session's token)."""
    page = client.get("/logout")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    return client.post("/logout", data={"csrf": csrf})


def auth(key: str) -> dict:
    """Request headers that present an API key."""
    return {"Authorization": f"Bearer {key}"}


# -- browser steps (dash_duo, headless Chromium) ---------------------------------------------------

def submit_sign_in(dash_duo, email: str, password: str) -> None:
    driver = dash_duo.driver
    driver.get(dash_duo.server.url + "/login")
    dash_duo.wait_for_element("#login-email").send_keys(email)
    driver.find_element("css selector", "#login-password").send_keys(password)
    driver.find_element("css selector", "#login-submit").click()


def sign_out_browser(dash_duo) -> None:
    """Sign the browser out with the navigation bar's Sign out (a form post); lands on sign-in."""
    dash_duo.wait_for_page(url=dash_duo.server.url + "/")
    click(dash_duo, dash_duo.wait_for_element("#nav-sign-out", timeout=20))
    dash_duo.wait_for_element("#login-email", timeout=20)


def upload(dash_duo, path, basis: str | None = DATA_USE["basis"], reference: str = DATA_USE["reference"]) -> None:
    """Open Predict, choose the data-use basis (none when `basis` is None) and reference, and upload the file."""
    dash_duo.wait_for_page(url=dash_duo.server.url + f"/predict?model={MODEL}")
    dash_duo.wait_for_contains_text("#predict-version-note", f"{MODEL}:1", timeout=20)
    if basis:
        choose_data_use(dash_duo, basis, reference)
    dash_duo.find_element("#predict-upload input[type=file]").send_keys(str(path))


def choose_data_use(dash_duo, basis: str, reference: str) -> None:
    """Choose a data-use basis on Predict and type its reference (reported on blur)."""
    click(dash_duo, dash_duo.find_element(f"#predict-data-use input[value='{basis}']"))
    field = dash_duo.find_element("#predict-data-use-reference")
    field.send_keys(Keys.CONTROL, "a", Keys.DELETE)
    field.send_keys(reference, Keys.TAB)


def notebook_field_selector(name: str, role: str = "plain") -> str:
    """The CSS selector of a notebook form's field (Dash writes a dict id as compact, key-sorted JSON)."""
    return "[id='" + json.dumps({"name": name, "role": role, "type": "nb-param"}, separators=(",", ":")) + "']"


def notebook_field(dash_duo, name: str, role: str = "plain"):
    return dash_duo.driver.find_element(By.CSS_SELECTOR, "input" + notebook_field_selector(name, role))


def set_parameter(dash_duo, name: str, value: str) -> None:
    field = notebook_field(dash_duo, name)
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(value, Keys.TAB)  # debounced inputs report their value on blur


def click(dash_duo, element) -> None:
    """Click an element after scrolling it to the middle of the window at once: Bootstrap makes scrolling
    smooth, and a click while the page still glides lands beside the element."""
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});",
                                   element)
    element.click()


def click_when_drawn(dash_duo, selector: str, timeout: float = 30) -> None:
    """Click the element `selector` finds once it stays put: the results grid draws its rows again when
    the server's block arrives, which can leave a row found a moment earlier detached."""
    def clicked(_driver) -> bool:
        try:
            click(dash_duo, dash_duo.find_element(selector))
        except StaleElementReferenceException:
            return False
        return True
    dash_duo.wait_for_element(selector, timeout=timeout)
    WebDriverWait(dash_duo.driver, timeout, ignored_exceptions=(StaleElementReferenceException,)).until(clicked)


def choose(dash_duo, selector: str, value=None, index=None) -> None:
    """Pick a dcc.Dropdown option, then close its menu (Dash 4 keeps it open over the next control)."""
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});",
                                   dash_duo.find_element(selector))
    dash_duo.select_dcc_dropdown(selector, value=value, index=index)
    dash_duo.driver.switch_to.active_element.send_keys(Keys.ESCAPE)


def post_grid_rows(client, run_id, request):
    """The results grid asking the server for a block of a run's rows, as the browser posts it."""
    return client.post("/_dash-update-component", json={
        "output": "run-grid.getRowsResponse", "outputs": {"id": "run-grid", "property": "getRowsResponse"},
        "inputs": [{"id": "run-grid", "property": "getRowsRequest", "value": request}],
        "state": [{"id": "run-id", "property": "data", "value": run_id}],
        "changedPropIds": ["run-grid.getRowsRequest"]})


def render_page(app, portal, role: str, path: str, **kwargs) -> str:
    """A page's layout as the role's test user gets it, as text (`path` as the page registers it)."""
    import dash
    from flask_login import login_user

    from portal.accounts.signin import SessionUser

    layout = next(page["layout"] for page in dash.page_registry.values()
                  if page.get("path") == path or page.get("path_template") == path)
    with app.server.test_request_context(path):
        login_user(SessionUser(user_of(portal, role)))
        return str(layout(**kwargs))
