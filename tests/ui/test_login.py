from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.ui.conftest import APP, PASSWORD


def _login(username: str, password: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    at.text_input[0].input(username)
    at.text_input[1].input(password)
    at.button[0].click()
    at.run()
    return at


def test_login_page_then_home(app_db: str) -> None:
    at = _login("reviewer", PASSWORD)
    assert not at.exception
    assert at.title[0].value.startswith("Welcome")


def test_wrong_password_is_refused_without_detail(app_db: str) -> None:
    at = _login("reviewer", "nope-nope")
    assert at.error[0].value.startswith("Wrong username or password")
    assert PASSWORD not in str(at)


def test_arabic_user_gets_arabic_labels(app_db: str) -> None:
    at = _login("arabic", PASSWORD)
    assert not at.exception
    assert at.title[0].value.startswith("مرحباً")
