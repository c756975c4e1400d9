"""End to end in a real browser: reviewer grades an interaction, the agent sees the review.

Runs ``streamlit run streamlit_app.py`` on a free localhost port against a
seeded SQLite database and drives Debian's headless Chromium through
Selenium (the system chromedriver; Selenium Manager never runs, nothing is
downloaded). Screenshots go to ``QA_SCREENSHOT_DIR`` (the committed ones in
``docs/screenshots`` are refreshed with ``QA_SCREENSHOT_DIR=docs/screenshots``),
otherwise to the test's temporary directory.
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from qa import db
from qa.demo import DEMO_PASSWORD, build_demo
from qa.models import Interaction, Review, ReviewAssignment, Turn, User
from qa.services.analysis import analyze_interactions

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT = 45  # seconds; generous for a loaded 2-core machine
MAX_SCREENSHOT = 300_000
HOSTILE = (
    "<img src=x onerror=\"document.title='pwned'\"><script>document.title='pwned'</script>"
    " \u202eevil"
)


def _skip_without_browser() -> None:
    if Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists():
        return
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} or {CHROMEDRIVER} missing; the browser test must run in CI")
    pytest.skip(
        f"{CHROMIUM} or {CHROMEDRIVER} not installed (apt-get install chromium chromium-driver)"
    )


@dataclass
class Seeded:
    url: str
    data_dir: Path
    interaction: int
    external_id: str
    agent_username: str
    arabic_interaction: int
    hostile_interaction: int


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _seed(tmp: Path) -> Seeded:
    data_dir = tmp / "data"
    (data_dir / "recordings").mkdir(parents=True)
    with wave.open(str(data_dir / "recordings" / "call.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * 8000 * 30)
    url = f"sqlite:///{tmp / 'browser.sqlite3'}"
    engine = db.make_engine(url)
    db.upgrade(engine)
    with db.session_scope(engine) as s:
        build_demo(s, seed=18, interactions=60)
        reviewed = select(Review.interaction_id)
        users = {u.username: u for u in s.scalars(select(User))}

        def pick(language: str) -> Interaction:
            inter = s.scalar(
                select(Interaction)
                .where(
                    Interaction.language == language,
                    Interaction.channel == "call",
                    Interaction.id.not_in(reviewed),
                )
                .order_by(Interaction.id)
            )
            assert inter is not None, f"the demo has no unreviewed {language} call"
            return inter

        english, arabic = pick("en"), pick("ar")
        english.recording = "recordings/call.wav"
        later = s.scalars(
            select(Interaction)
            .where(Interaction.id.not_in(reviewed), Interaction.id.not_in([english.id, arabic.id]))
            .where(Interaction.started_at > english.started_at)
            .order_by(Interaction.started_at)
            .limit(4)
        ).all()
        pairs = [(english, "reviewer"), (arabic, "murajia")] + [(i, "reviewer") for i in later]
        hostile = later[0]
        s.add(Turn(interaction_id=hostile.id, seq=hostile.turn_count, speaker="customer",
                   text=HOSTILE, start_s=None, end_s=None))  # fmt: skip
        for inter, reviewer in pairs:
            s.add(
                ReviewAssignment(
                    interaction_id=inter.id, reviewer_id=users[reviewer].id, period="2026-01"
                )
            )
        agent_user = s.scalar(select(User).where(User.agent_id == english.agent_id))
        assert agent_user is not None
        analyze_interactions(s)  # so the review pages show real auto-QA highlights
        seeded = Seeded(
            url,
            data_dir,
            english.id,
            english.external_id,
            agent_user.username,
            arabic.id,
            hostile.id,
        )
    engine.dispose()
    return seeded


@pytest.fixture
def server(backend: str, tmp_path: Path) -> Iterator[tuple[str, Seeded]]:
    if backend != "sqlite":
        pytest.skip("the browser test runs once, on the SQLite backend")
    _skip_without_browser()
    seeded = _seed(tmp_path)
    port = _free_port()
    env = {
        **os.environ,
        "QA_DATABASE_URL": seeded.url,
        "QA_DATA_DIR": str(seeded.data_dir),
        "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
    }
    log = (tmp_path / "streamlit.log").open("wb")
    # fmt: off
    command = [
        sys.executable, "-m", "streamlit", "run", str(ROOT / "streamlit_app.py"),
        "--server.port", str(port), "--server.address", "127.0.0.1",
        "--server.headless", "true", "--server.fileWatcherType", "none",
        "--global.developmentMode", "false", "--client.toolbarMode", "viewer",
    ]
    # fmt: on
    proc = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + WAIT
        while True:
            try:
                with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail("streamlit did not start:\n" + (tmp_path / "streamlit.log").read_text())
            time.sleep(0.3)
        yield base, seeded
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", "--disable-quic", "--window-size=1440,1000",
        "--force-device-scale-factor=1", "--lang=en-GB",
        f"--user-data-dir={tmp_path / 'chrome-profile'}",
    ):  # fmt: skip
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(WAIT)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(tmp_path / "chrome-profile", ignore_errors=True)


class UI:
    """Small helpers over Selenium that wait for Streamlit to settle after every action."""

    def __init__(self, driver: object, shots: Path) -> None:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as ec
        from selenium.webdriver.support.ui import WebDriverWait

        self.d = driver
        self.by = By
        self.ec = ec
        self.wait = WebDriverWait(driver, WAIT, ignored_exceptions=(Exception,))
        self.shots = shots

    def until(self, check: Callable[[object], object], what: str) -> object:
        try:
            return self.wait.until(check)
        except Exception as exc:  # name what we waited for, and keep a picture
            self.d.save_screenshot(str(self.shots / "failure.png"))  # type: ignore[attr-defined]
            raise AssertionError(f"timed out waiting for {what}") from exc

    def idle(self) -> None:
        """Wait until no script run is in progress (Streamlit shows a status widget meanwhile)."""
        time.sleep(0.25)
        self.until(
            lambda d: not d.find_elements(self.by.CSS_SELECTOR, '[data-testid="stStatusWidget"]'),
            "the app to finish running",
        )

    def text_present(self, text: str) -> None:
        self.until(lambda d: text in d.find_element(self.by.TAG_NAME, "body").text, repr(text))

    def css(self, selector: str) -> list:  # type: ignore[type-arg]
        return self.d.find_elements(self.by.CSS_SELECTOR, selector)  # type: ignore[attr-defined,no-any-return]

    def click_button(self, label: str) -> None:
        def find(d: object) -> object:
            for b in d.find_elements(self.by.CSS_SELECTOR, "button"):  # type: ignore[attr-defined]
                if b.text.strip() == label and b.is_displayed() and b.is_enabled():
                    return b
            return False

        button = self.until(find, f"button {label!r}")
        self.d.execute_script("arguments[0].scrollIntoView({block: 'center'});", button)  # type: ignore[attr-defined]
        button.click()  # type: ignore[attr-defined]
        self.idle()

    def click_css(self, selector: str) -> None:
        button = self.until(lambda d: self.css(selector)[0], selector)
        self.d.execute_script("arguments[0].scrollIntoView({block: 'center'});", button)  # type: ignore[attr-defined]
        button.click()  # type: ignore[attr-defined]
        self.idle()

    def nav(self, label: str) -> None:
        def find(d: object) -> object:
            for a in d.find_elements(self.by.CSS_SELECTOR, '[data-testid="stSidebarNav"] a'):  # type: ignore[attr-defined]
                if a.text.strip().endswith(label):  # icons are ligature text before the label
                    return a
            return False

        self.until(find, f"navigation link {label!r}").click()  # type: ignore[attr-defined]
        self.idle()

    def login(self, username: str) -> None:
        field = self.until(
            lambda d: d.find_element(self.by.CSS_SELECTOR, 'input[type="text"]'), "login form"
        )
        field.send_keys(username)  # type: ignore[attr-defined]
        self.css('input[type="password"]')[0].send_keys(DEMO_PASSWORD)
        self.click_button("Sign in")
        self.until(
            lambda d: d.find_elements(self.by.CSS_SELECTOR, '[data-testid="stSidebarNav"]'),
            "navigation after sign-in",
        )
        self.idle()

    def logout(self, label: str = "Sign out") -> None:
        self.click_button(label)
        self.until(
            lambda d: d.find_elements(self.by.CSS_SELECTOR, 'input[type="password"]'), "login form"
        )

    def shot(self, name: str, height: int = 1000) -> Path:
        """A screenshot of the page at ``height`` pixels, palette-reduced to stay small."""
        from PIL import Image

        self.d.set_window_size(1440, height)  # type: ignore[attr-defined]
        self.d.execute_script(  # type: ignore[attr-defined]
            "for (const el of document.querySelectorAll('[data-testid=\"stMain\"], .stMain'))"
            " el.scrollTo(0, 0); window.scrollTo(0, 0);"
        )
        self.idle()
        time.sleep(0.5)
        raw = self.d.get_screenshot_as_png()  # type: ignore[attr-defined]
        image = Image.open(io.BytesIO(raw)).convert("RGB").quantize(colors=128)
        path = self.shots / f"{name}.png"
        image.save(path, optimize=True)
        self.d.set_window_size(1440, 1000)  # type: ignore[attr-defined]
        assert path.stat().st_size < MAX_SCREENSHOT, f"{path.name} is too large"
        return path


def _answer_every_criterion(ui: UI) -> None:
    """Click an answer in every rubric radio group: yes for yes/no, the top of each scale."""
    ui.idle()
    ui.until(
        lambda d: len(ui.css('[data-testid="stRadio"] [role="radiogroup"]')) >= 10,
        "the rubric form",
    )
    count = len(ui.css('[data-testid="stRadio"] [role="radiogroup"]'))
    for i in range(count):
        group = ui.css('[data-testid="stRadio"] [role="radiogroup"]')[i]
        labels = group.find_elements(ui.by.CSS_SELECTOR, "label")
        target = labels[0] if labels[0].text.strip() in ("Yes", "نعم") else labels[-1]
        ui.d.execute_script("arguments[0].scrollIntoView({block: 'center'});", target)  # type: ignore[attr-defined]
        target.click()
        ui.idle()


def test_reviewer_submits_and_agent_sees_the_review(
    server: tuple[str, Seeded], browser: object, tmp_path: Path
) -> None:
    base, seeded = server
    shots = Path(os.environ.get("QA_SCREENSHOT_DIR") or tmp_path)
    if not shots.is_absolute():
        shots = ROOT / shots
    shots.mkdir(parents=True, exist_ok=True)
    ui = UI(browser, shots)
    started = time.monotonic()

    browser.get(base)  # type: ignore[attr-defined]
    ui.text_present("Sign in")
    ui.idle()
    ui.shot("login", 700)
    ui.login("reviewer")
    ui.nav("My queue")
    ui.text_present(seeded.external_id)
    ui.shot("queue", 800)
    ui.click_css(f".st-key-queue-open-{seeded.interaction} button")
    ui.until(lambda d: ui.css(".jq-transcript .jq-bubble"), "the transcript")
    ui.text_present("Greeted the customer")
    ui.until(lambda d: ui.css("audio"), "the recording player")
    _answer_every_criterion(ui)
    ui.shot("review-en", 1400)
    ui.click_button("Submit")
    ui.text_present("Review submitted.")

    # Hostile transcript text is shown as text and runs nothing.
    ui.nav("My queue")
    ui.click_css(f".st-key-queue-open-{seeded.hostile_interaction} button")
    ui.text_present('<img src=x onerror="document.title=')
    ui.text_present("[U+202E]evil")
    assert browser.title != "pwned"  # type: ignore[attr-defined]
    assert not ui.css(".jq-transcript img, .jq-transcript script")
    ui.logout()

    ui.login(seeded.agent_username)
    ui.nav("My reviews")
    ui.text_present(seeded.external_id)
    ui.text_present("Reviewed by Rachel Evans")
    ui.shot("agent-reviews", 1000)
    ui.nav("My scores")
    ui.until(lambda d: ui.css('[data-testid="stVegaLiteChart"], .vega-embed'), "the trend chart")
    ui.shot("agent-scores", 1100)
    ui.logout()

    ui.login("murajia")
    ui.nav("قائمة انتظاري")
    ui.click_css(f".st-key-queue-open-{seeded.arabic_interaction} button")
    ui.until(lambda d: ui.css(".jq-transcript .jq-bubble"), "the Arabic transcript")
    direction = browser.execute_script(  # type: ignore[attr-defined]
        "return getComputedStyle(document.querySelector('[data-testid=\"stMain\"]')"
        " || document.querySelector('.stMain')).direction"
    )
    assert direction == "rtl"
    ui.shot("review-ar", 1400)
    ui.logout("تسجيل الخروج")
    print(f"browser flow took {time.monotonic() - started:.1f} s")
