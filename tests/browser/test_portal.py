"""The portal in headless Chromium: each role signs in and opens the pages it may open; the
navigation shows only those; signed-out browsers, wrong passwords and lock-outs behave."""
from __future__ import annotations

import pytest

from tests.helpers import PASSWORD, choose, click, email_of, sign_out_browser, submit_sign_in

PAGES = {  # path -> (an element that shows the page's real content, text it must contain)
    "/": ("#home-models", "tissue-of-origin"),
    "/models": ("#models-card", "Research use only, not for diagnosis."),
    "/performance": ("#performance-content", "Calibration error"),
    "/admin": ("#admin-users-grid", "analyst@example.org"),
    "/account": ("#account-who", "role"),
    "/glossary": ("#glossary-terms", "balanced accuracy"),
}
ALLOWED = {
    "admin": ["/", "/models", "/performance", "/admin", "/account", "/glossary"],
    "clinician": ["/", "/models", "/performance", "/account", "/glossary"],
    "researcher": ["/", "/models", "/performance", "/account", "/glossary"],
    "analyst": ["/", "/models", "/performance", "/account", "/glossary"],
}


def open_page(dash_duo, path: str):
    dash_duo.wait_for_page(url=dash_duo.server.url + path)


@pytest.mark.parametrize("role", sorted(ALLOWED))
def test_each_role_opens_the_pages_it_may(signed_in, role):
    dash_duo = signed_in(role)
    nav = {e.get_attribute("id") for e in dash_duo.find_elements(".navbar .nav-link[id^='nav-']")}
    assert ("nav-admin" in nav) == (role == "admin")
    assert {"nav-home", "nav-models", "nav-performance"} <= nav
    for path in ALLOWED[role]:
        open_page(dash_duo, path)
        selector, text = PAGES[path]
        dash_duo.wait_for_contains_text(selector, text, timeout=20)
    if role != "admin":
        open_page(dash_duo, "/admin")
        dash_duo.wait_for_contains_text("#page-not-allowed", "may not", timeout=20)
    assert dash_duo.get_logs() == []


def test_performance_shows_figures_and_compares_versions(signed_in):
    dash_duo = signed_in("researcher")
    open_page(dash_duo, "/performance?model=tissue-of-origin")
    for tab, parts in (("Errors by class", ("confusion",)), ("ROC and precision-recall", ("roc", "pr")),
                       ("Calibration and coverage", ("calibration", "coverage")),
                       ("What the model uses", ("importance", "groups")), ("Errors by class", ("confusion",))):
        click(dash_duo, dash_duo.driver.find_element("xpath", f"//div[@id='performance-tabs']//*[text()='{tab}']"))
        for part in parts:
            dash_duo.wait_for_element(f"#performance-{part} .main-svg", timeout=20)
    dash_duo.driver.find_element("xpath", "//label[text()='row-normalised']").click()
    dash_duo.wait_for_contains_text("#performance-confusion", "share of each true class", timeout=20)
    assert dash_duo.get_logs() == []


def test_signed_out_browser_lands_on_sign_in(dash_duo, app):
    dash_duo.start_server(app, navigate=False)
    dash_duo.driver.get(dash_duo.server.url + "/performance")
    dash_duo.wait_for_element("#login-email")
    assert "/login?next=/performance" in dash_duo.driver.current_url


def test_wrong_password_shows_the_error(dash_duo, app):
    dash_duo.start_server(app, navigate=False)
    submit_sign_in(dash_duo, email_of("clinician"), "not the password")
    dash_duo.wait_for_contains_text("#login-error", "The e-mail or password is wrong")


def test_lock_out_holds_in_the_browser(dash_duo, app):
    dash_duo.start_server(app, navigate=False)
    for _ in range(5):
        submit_sign_in(dash_duo, email_of("analyst"), "not the password")
        dash_duo.wait_for_element("#login-error")
    submit_sign_in(dash_duo, email_of("analyst"), PASSWORD)
    dash_duo.wait_for_contains_text("#login-error", "locked")
    assert "/login" in dash_duo.driver.current_url


@pytest.fixture
def own_registry(tmp_path, models_root, monkeypatch):
    """A copy of the session registry that this test may change."""
    import shutil

    root = tmp_path / "models-copy"
    shutil.copytree(models_root, root)
    return root


def test_admin_points_an_alias_after_confirming_and_it_is_audited(dash_duo, tmp_path, own_registry):
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait
    from sqlalchemy import select

    from portal.app import create_app
    from portal.core.models import AuditEvent
    from tests.helpers import ADMIN_EMAIL, make_settings

    app = create_app(make_settings(tmp_path, f"sqlite:///{tmp_path / 'alias.db'}", own_registry))
    dash_duo.start_server(app, navigate=False)
    dash_duo.driver.set_window_size(1400, 1000)
    submit_sign_in(dash_duo, ADMIN_EMAIL, PASSWORD)
    dash_duo.server_url = dash_duo.server.url
    open_page(dash_duo, "/models?model=tcga-mirna-type")
    dash_duo.wait_for_element("#models-card", timeout=20)  # the page has finished rendering
    choose(dash_duo, "#models-alias-version", index=0)
    dash_duo.wait_for_contains_text("#models-alias-version", "1")
    choose(dash_duo, "#models-alias-name", value="staging")
    dash_duo.wait_for_contains_text("#models-alias-name", "staging")
    dash_duo.find_element("#models-alias-apply").click()
    alert = WebDriverWait(dash_duo.driver, 20).until(expected_conditions.alert_is_present())
    assert "Point tcga-mirna-type@staging at version 1?" in alert.text
    alert.accept()
    dash_duo.wait_for_contains_text("#models-alias-done", "tcga-mirna-type@staging now points at version 1")
    assert app.server.extensions["cancer_alpha"].registry.aliases("tcga-mirna-type")["staging"] == 1
    with app.server.extensions["cancer_alpha"].db.session() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "model.alias")).one()
    assert (event.actor, event.target, event.details) == (ADMIN_EMAIL, "tcga-mirna-type@staging",
                                                          {"from": None, "to": 1})
    assert dash_duo.get_logs() == []


def test_admin_creates_a_user_who_can_then_sign_in(signed_in):
    dash_duo = signed_in("admin")
    open_page(dash_duo, "/admin")
    dash_duo.wait_for_contains_text("#admin-users-grid", "analyst@example.org", timeout=20)
    dash_duo.find_element("#admin-new-email").send_keys("new.person@example.org")
    dash_duo.find_element("#admin-new-name").send_keys("New Person")
    choose(dash_duo, "#admin-new-role", value="analyst")
    dash_duo.find_element("#admin-create").click()
    dash_duo.wait_for_contains_text("#admin-created", "Created new.person@example.org (analyst)")
    password = dash_duo.find_element("#admin-new-password-shown").text
    dash_duo.wait_for_contains_text("#admin-audit-grid", "user.create", timeout=20)
    sign_out_browser(dash_duo)
    submit_sign_in(dash_duo, "new.person@example.org", password)
    dash_duo.wait_for_element("#home-models", timeout=20)
    assert "nav-admin" not in {e.get_attribute("id") for e in dash_duo.find_elements(".navbar .nav-link")}
    assert dash_duo.get_logs() == []
