"""The kiosk UI in a real browser: Debian's Chromium driven by Playwright against `tongban serve
--demo-data` (the demo kiosk's device with the card simulator and the file printer running inside it),
the camera fed with a public test photo through Chromium's fake capture device (the real getUserMedia
path). Every screen is photographed into the test output, checked with axe-core (no serious or
critical violation) and measured for the MIIT 适老化 figures: body text, line spacing, target sizes
and contrast, as rendered."""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import TimeoutError as PlaywrightTimeout

from backend.config import load_settings
from tests import face_samples
from tests.conftest import database_copy
from tests.server import tongban_server

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
OUTPUT = Path(os.environ.get("TONGBAN_TEST_OUTPUT") or Path(__file__).resolve().parents[2] / "test-output") / "kiosk"

pytestmark = pytest.mark.skipif(not CHROMIUM.exists() and not os.environ.get("CI"),
                                reason="Debian's chromium is not installed (.ci/run installs it)")

# Measured in the page: each visible text's font size, line height and contrast against the
# background it is drawn on, and each button's size.
MEASURE = """() => {
  const channel = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); };
  const rgba = (s) => (s.match(/[\\d.]+/g) || []).map(Number);
  const luminance = ([r, g, b]) => 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  const background = (node) => {
    for (let n = node; n; n = n.parentElement) {
      const c = rgba(getComputedStyle(n).backgroundColor);
      if (c.length >= 3 && (c.length < 4 || c[3] > 0)) return c;
    }
    return [255, 255, 255];
  };
  const visible = (n) => { const r = n.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  const texts = [];
  for (const n of document.querySelectorAll("body *")) {
    if (!visible(n) || ["SCRIPT", "STYLE", "VIDEO"].includes(n.tagName)) continue;
    const own = [...n.childNodes].some((c) => c.nodeType === 3 && c.textContent.trim());
    if (!own) continue;
    const style = getComputedStyle(n);
    const size = parseFloat(style.fontSize);
    const lines = style.lineHeight === "normal" ? 1.2 : parseFloat(style.lineHeight) / size;
    const [a, b] = [luminance(rgba(style.color)), luminance(background(n))];
    texts.push({ text: n.textContent.trim().slice(0, 30), size, lines,
                 contrast: (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05) });
  }
  const targets = [...document.querySelectorAll("button, summary, a")].filter(visible).map((n) => {
    const r = n.getBoundingClientRect(); return { text: n.textContent.trim().slice(0, 30), width: r.width, height: r.height };
  });
  const h1 = document.querySelector("h1");
  return { texts, targets, heading: h1 ? parseFloat(getComputedStyle(h1).fontSize) : 0 };
}"""


# The screen has been laid out and painted: two animation frames after the last change.
SETTLED = "() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))"
# Every wait is on a state of the page, never on time; the limit is only there so that a broken
# screen fails instead of hanging, generous for a loaded two-core machine.
WAIT_MS = 90_000


class Figures:
    """The figures of every screen of the module's walks, and the screens' names in order."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.seen: list[str] = []
        self.smallest_text = self.smallest_target = self.lowest_contrast = self.tightest_lines = float("inf")

    def write(self) -> None:
        (self.folder / "figures.json").write_text(json.dumps({
            "smallest_body_text_px": self.smallest_text, "tightest_line_spacing": round(self.tightest_lines, 2),
            "lowest_contrast": round(self.lowest_contrast, 2), "smallest_target_px": self.smallest_target,
            "screens": self.seen}, indent=2, ensure_ascii=False))


class Screens:
    """Photographs, checks and measures each screen the walks reach."""

    def __init__(self, page, axe_script: str, figures: Figures) -> None:
        self.page, self.axe_script, self.figures = page, axe_script, figures

    async def check(self, name: str, *, large: bool = False) -> None:
        page = self.page
        await page.evaluate(SETTLED)
        figures = self.figures
        figures.seen.append(name)
        await page.screenshot(path=str(figures.folder / f"{len(figures.seen):02d}-{name}.png"), full_page=True)
        if not await page.evaluate("() => typeof axe !== 'undefined'"):
            await page.add_script_tag(content=self.axe_script)
        result = await page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
                                     ".map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.length}))")
        serious = [v for v in result if v["impact"] in ("serious", "critical")]
        assert not serious, f"{name}: {serious}"
        measured = await page.evaluate(MEASURE)
        body = [t for t in measured["texts"] if t["size"] < 30]  # headings are measured apart
        minimum_body = 32 if large else 24  # 18 pt, and the larger mode
        for text in measured["texts"]:
            assert text["size"] >= minimum_body, (name, text)
            assert text["lines"] >= 1.3 or text["size"] >= 30, (name, text)
            assert text["contrast"] >= 4.5, (name, text)
        for target in measured["targets"]:
            assert target["width"] >= 60 and target["height"] >= 60, (name, target)
        if large:
            assert measured["heading"] >= 40, (name, measured["heading"])  # the largest text ≥ 30 pt
        figures.smallest_text = min([figures.smallest_text, *(t["size"] for t in body)])
        figures.tightest_lines = min([figures.tightest_lines, *(t["lines"] for t in body)])
        figures.lowest_contrast = min([figures.lowest_contrast, *(t["contrast"] for t in measured["texts"])])
        figures.smallest_target = min([figures.smallest_target,
                                       *(min(t["width"], t["height"]) for t in measured["targets"])])


@pytest.fixture(scope="module")
async def kiosk_server(server_urls, template_database, tmp_path_factory) -> AsyncIterator[tuple[str, Path]]:
    """`tongban serve --demo-data` on a database of its own, for every walk of this module."""
    admin_url, redis_url = server_urls
    async with database_copy(admin_url, template_database, f"tongban_kiosk_ui_{os.getpid()}") as url:
        data_dir = tmp_path_factory.mktemp("kiosk-ui")
        settings = load_settings({}, mode="test", database_url=url, redis_url=redis_url,
                                 redis_prefix=f"kioskui{uuid.uuid4().hex[:8]}:")
        # All the demo data is made before the server answers: about 40 s on a loaded two-core machine.
        with tongban_server(settings, data_dir, demo_data=True, ready_within=240,
                            env={"TONGBAN_FACE_MODEL_DIR": str(face_samples.model_dir())}) as server:
            yield server.base_url, data_dir


@pytest.fixture(scope="module")
async def browser(kiosk_server) -> AsyncIterator[object]:
    from playwright.async_api import async_playwright

    _, data_dir = kiosk_server
    camera = data_dir / "kiosk" / "camera" / "li.y4m"  # 李秀英 standing at the kiosk
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=[*FLAGS, f"--use-file-for-fake-video-capture={camera}"])
        yield launched
        await launched.close()


@pytest.fixture(scope="module")
def figures() -> Iterator[Figures]:
    shutil.rmtree(OUTPUT, ignore_errors=True)
    OUTPUT.mkdir(parents=True)
    measured = Figures(OUTPUT)
    yield measured
    measured.write()


@pytest.fixture
async def kiosk(kiosk_server, browser, figures):
    """A fresh page on the kiosk UI with no card in the reader and paper in the printer."""
    import axe_playwright_python

    base_url, data_dir = kiosk_server
    async with httpx.AsyncClient(base_url=base_url) as device:
        await device.delete("/kiosk/device/simulator/card")
        await device.post("/kiosk/device/simulator/paper", json={"sheets": 50})
    context = await browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    context.set_default_timeout(WAIT_MS)
    page = await context.new_page()
    await page.goto(base_url + "/kiosk/")
    await page.wait_for_selector("main[data-screen=welcome]")
    axe_script = (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text()
    yield page, Screens(page, axe_script, figures), base_url, data_dir
    await context.close()


async def insert(page, card: str) -> None:
    await page.click("details.simulator summary")
    await page.click(f"[data-card={card}]")


async def sign_in(page, screens: Screens, card: str = "li", *, photograph: bool = False) -> None:
    await insert(page, card)
    await page.wait_for_selector("main[data-screen=face]")
    await page.wait_for_function("document.querySelector('video').videoWidth > 0")
    if photograph:
        await screens.check("face-check")
    await page.click("#take-photo")
    await page.wait_for_selector("main[data-screen=menu]")


async def test_card_sign_in_and_certificate_printing(kiosk):
    page, screens, base_url, data_dir = kiosk
    await screens.check("welcome")

    await sign_in(page, screens, photograph=True)
    await screens.check("menu")
    assert "李**" in await page.inner_text("h1")
    await page.click("[data-task=certificates]")
    await page.wait_for_selector("main[data-screen=certificates]")
    await screens.check("certificates")
    await page.click("[data-certificate]")
    await page.wait_for_selector("main[data-screen=certificate]")
    await screens.check("certificate")
    await page.click("#print")
    await page.wait_for_selector("[data-print-status=printed]")
    await screens.check("printed")

    printed = sorted((data_dir / "kiosk" / "printed").glob("*.png"))
    assert len(printed) == 1


async def test_large_text_english_and_the_idle_warning(kiosk):
    page, screens, _, _ = kiosk
    await page.clock.install()
    await sign_in(page, screens)

    await page.click("#large")
    await page.click("#language")
    await screens.check("menu-large-english", large=True)
    assert (await page.inner_text("h1")).startswith("Hello")
    await page.clock.fast_forward(95_000)  # 120 s timeout, warned 30 s before
    await page.wait_for_selector("#idle:not([hidden])")
    await screens.check("idle-warning", large=True)
    assert "signed out in" in await page.inner_text("#idle")
    await page.click("#stay")
    await page.wait_for_selector("#idle[hidden]", state="attached")
    assert await page.is_visible("main[data-screen=menu]")


async def test_a_face_that_does_not_match_the_card_is_told_in_words(kiosk):
    page, screens, _, _ = kiosk

    await insert(page, "chen")  # 陈静's card; the camera shows someone else
    await page.wait_for_selector("main[data-screen=face]")
    await page.wait_for_function("document.querySelector('video').videoWidth > 0")
    await page.click("#take-photo")
    await page.wait_for_selector("main[data-screen=face] .notice.warn")

    await screens.check("face-mismatch")
    notice = await page.inner_text(".notice.warn")
    assert "不一致" in notice and "再试" in notice


async def test_staff_assistance_is_named_on_every_screen_until_it_ends(kiosk):
    """A window officer of the kiosk's area (浙江收件窗口, zj.receiving) signs in on the kiosk to operate it
    for 李秀英: a wrong password is told in words and leaves nothing on the screen; once assisting, a
    banner names them on every screen; ending the assistance removes it and 李秀英 stays signed in."""
    page, screens, _, _ = kiosk
    await sign_in(page, screens)

    await page.click("#help")
    await page.wait_for_selector("main[data-screen=assist] #assist-username")
    assert await page.get_attribute("#assist-password", "type") == "password"  # masked
    await screens.check("assist")
    await page.fill("#assist-username", "zj.receiving")
    await page.fill("#assist-password", "not-the-password")
    await page.click("#assist-submit")
    await page.wait_for_selector("[data-assist-problem]")
    await screens.check("assist-wrong-password")
    assert "用户名或密码不正确" in await page.inner_text("[data-assist-problem]")
    assert await page.input_value("#assist-password") == ""
    assert "not-the-password" not in await page.content()
    assert await page.is_hidden("#assisted")

    await page.fill("#assist-password", "tongban-demo-2026")
    await page.click("#assist-submit")
    await page.wait_for_selector("main[data-screen=menu]")
    await page.wait_for_selector("#assisted:not([hidden])")
    assert "帮办中：浙江收件窗口" in await page.inner_text("#assisted")
    await screens.check("menu-assisted")
    await page.click("[data-task=certificates]")
    await page.wait_for_selector("main[data-screen=certificates]")
    assert "帮办中：浙江收件窗口" in await page.inner_text("#assisted")  # on every screen
    await page.click("#language")
    await page.wait_for_selector("#assisted >> text=Assisted by 浙江收件窗口")
    await screens.check("certificates-assisted-english")
    await page.click("#language")

    await page.click("#end-assist")
    await page.wait_for_selector("#assisted[hidden]", state="attached")
    # The screen asks the server again (a touch after 10 s pings the session): still signed in, unassisted.
    answer = await page.evaluate("call('api/session')")
    assert answer["status"] == 200 and answer["body"]["assistant"] is None
    assert await page.get_attribute("main", "data-screen") == "certificates"
    await page.click("text=返回")
    await page.wait_for_selector("main[data-screen=menu]")
    assert await page.is_hidden("#assisted")


async def test_the_card_pulled_out_mid_task_ends_the_session(kiosk):
    """The session ends at once; the screen saying so stays long enough to be read. The page's clock
    stands still while the screen is checked (its timers run on), then is moved on: the screen is still
    there 6 s after, and gone 9 s after."""
    page, screens, base_url, _ = kiosk
    await sign_in(page, screens)
    await page.click("[data-task=certificates]")
    await page.wait_for_selector("main[data-screen=certificates]")

    async with httpx.AsyncClient(base_url=base_url) as device:
        await device.delete("/kiosk/device/simulator/card")
        await page.wait_for_selector("main[data-screen=ended]")
        ended_at = await page.evaluate("state.ended.at") / 1000
        await page.clock.set_fixed_time(ended_at)
        state = (await device.get("/kiosk/device/state")).json()

    assert state["session"] is False
    await screens.check("card-removed")
    assert "身份证已取出" in await page.inner_text("main")
    await page.clock.set_fixed_time(ended_at + 6)
    await page.evaluate("poll()")  # the page's own poll of the device, awaited
    assert await page.get_attribute("main", "data-screen") == "ended"
    await page.clock.set_fixed_time(ended_at + 9)
    await page.evaluate("poll()")
    assert await page.get_attribute("main", "data-screen") == "welcome"


async def test_out_of_paper_waits_and_prints_once_paper_is_in(kiosk):
    page, screens, base_url, data_dir = kiosk
    before = set((data_dir / "kiosk" / "printed").glob("*.png"))
    async with httpx.AsyncClient(base_url=base_url) as device:
        await device.post("/kiosk/device/simulator/paper", json={"sheets": 0})
        await sign_in(page, screens)
        await page.click("[data-task=certificates]")
        await page.click("[data-certificate]")
        await page.click("#print")
        await page.wait_for_selector("[data-print-status=waiting]")
        await screens.check("out-of-paper")
        assert "缺纸" in await page.inner_text("main")
        await device.post("/kiosk/device/simulator/paper", json={"sheets": 5})
        await page.wait_for_selector("[data-print-status=printed]")

    assert len(set((data_dir / "kiosk" / "printed").glob("*.png")) - before) == 1


async def test_the_network_dropping_between_screens_clears_the_screen(kiosk):
    page, screens, _, _ = kiosk
    await sign_in(page, screens)

    await page.context.set_offline(True)
    # The tap finds the network gone — or the kiosk's own poll (every second) does first, and the menu
    # the tap aims at is replaced by the offline screen under it. Either way that screen must follow.
    try:
        await page.click("[data-task=certificates]", timeout=5000)
    except PlaywrightTimeout:
        assert await page.locator("main[data-screen=offline]").count() == 1
    await page.wait_for_selector("main[data-screen=offline]")
    await screens.check("offline")
    assert "没有提交" in await page.inner_text("main")
    await page.context.set_offline(False)
    await page.click("#reconnect")
    await page.wait_for_selector("main[data-screen=menu]")


async def test_a_resident_who_draws_no_pension_is_told_so_in_words(kiosk):
    page, screens, _, _ = kiosk
    await sign_in(page, screens)
    await page.click("[data-task=pension]")  # 李秀英 draws no pension
    await page.wait_for_selector("main[data-screen=pension]")
    assert "没有您领取养老金的记录" in await page.inner_text("main")


async def test_an_application_with_scanned_materials_and_its_receipt(kiosk):
    """李秀英, from 北京, moves her pension insurance to 杭州 where she lives: she chooses the item, answers
    two questions by touch, scans three papers (the scanner simulator serves them) and prints the
    receipt; the case is then in her list."""
    page, screens, base_url, data_dir = kiosk
    before = set((data_dir / "kiosk" / "printed").glob("*.png"))
    await sign_in(page, screens)
    await page.click("[data-task=apply]")
    await page.wait_for_selector("main[data-screen=apply-items][data-page='0']")
    await screens.check("apply-items")
    shown = 0
    while not await page.is_visible("[data-item=RS-20-002-00]"):  # the items, five a page
        await page.click("#more")
        shown += 1
        await page.wait_for_selector(f"main[data-screen=apply-items][data-page='{shown}']")
    await page.click("[data-item=RS-20-002-00]")
    await page.wait_for_selector("main[data-screen=apply-question]")
    await screens.check("apply-question")
    assert "第 1 步，共 6 步" in await page.inner_text("#progress")
    await page.click("[data-choice='1']")  # 转出地: 杭州市西湖区, where she is insured now
    await page.wait_for_selector("main[data-screen=apply-question] >> text=转入地")
    await page.click("[data-choice='0']")  # 转入地: her home, 北京市朝阳区
    async with httpx.AsyncClient(base_url=base_url) as device:
        for n, paper in enumerate(["id-card-copy", "household-register", "application-form"]):
            await page.wait_for_function("(step) => document.querySelector('main').dataset.screen === 'apply-material'"
                                         " && document.querySelector('#progress').textContent.includes(step)",
                                         arg=f"第 {n + 3} 步")
            await device.post("/kiosk/device/simulator/document", json={"document": paper})
            await page.click("#scan")
            await page.wait_for_selector("[data-scan=done]")
            if n == 1:
                await screens.check("apply-scanned")
            await page.click("#use-scan")
    await page.wait_for_selector("main[data-screen=apply-confirm]")
    await screens.check("apply-confirm")
    await page.click("#submit-apply")
    await page.wait_for_selector("main[data-screen=applied]")
    await screens.check("applied")
    number = re.search(r"\d{6}-\d{8}-\d{6,}", await page.inner_text("main .notice")).group()
    await page.click("#print")
    await page.wait_for_selector("[data-print-status=printed]")
    assert len(set((data_dir / "kiosk" / "printed").glob("*.png")) - before) == 1

    await page.click("text=返回")
    await page.click("[data-task=cases]")
    await page.wait_for_selector(f"[data-case='{number}']")
    await screens.check("cases")
    await page.click(f"[data-case='{number}']")
    await page.wait_for_selector("main[data-screen=case]")
    assert "已提交" in await page.inner_text("main")


async def test_a_supplement_answered_with_a_scan(kiosk):
    """王建国's demo case waits for a 补正 (his ID card's photo page was unclear): 我的办件 marks it, says
    what is asked and why, and he answers it with a new scan."""
    page, screens, base_url, _ = kiosk
    await sign_in(page, screens, "wang")
    await page.click("[data-task=cases]")
    await page.click("button[data-case]:has-text('待补正')")
    await page.wait_for_selector("main[data-screen=case] #supplement")
    await screens.check("case-supplement-asked")
    assert "照片页不清晰" in await page.inner_text("main")
    await page.click("#supplement")
    async with httpx.AsyncClient(base_url=base_url) as device:
        await device.post("/kiosk/device/simulator/document", json={"document": "id-card-copy"})
    await page.click("#scan")
    await page.click("#use-scan")
    await page.click("#submit-supplement")
    await page.wait_for_selector("main[data-screen=supplemented]")
    await screens.check("supplemented")


async def test_pension_recognition_with_the_liveness_challenge(kiosk_server, browser, figures):
    """张桂兰 (overdue) registers her face from the chip photo, agrees to face recognition, follows the
    random head movements and prints the record. The camera here is a page-level stand-in that shows
    whatever pose the screen asks for (a fake capture file cannot follow a random challenge)."""
    import base64

    import axe_playwright_python

    from kiosk.device.simulator import framed

    base_url, data_dir = kiosk_server
    photo = face_samples.photo("obama.jpg")
    face = face_samples.pipeline().detector.detect(face_samples.rgb_of(photo))[0]
    standing = framed(photo, tuple(float(v) for v in face.box))
    actions = ["frontal", "turn_left", "turn_right", "look_up", "look_down"]
    poses = dict(zip(actions, face_samples.burst(standing, actions, seed=3), strict=True))
    urls = {k: "data:image/jpeg;base64," + base64.b64encode(v).decode() for k, v in poses.items()}
    camera = """(() => {
      const images = {};
      // The screen asks for a pose and waits until this camera has shown it (a person needs time to
      // move; this camera moves at once): the pose drawn twice, then two frames of the page's video.
      const asked = [];
      window.KIOSK_POSE_SHOWN = (action) => new Promise((resolve) => asked.push({ action, resolve, drawn: 0 }));
      const shown = (action) => {
        for (const ask of asked.filter((a) => a.action === action)) {
          if (++ask.drawn < 2) continue;
          asked.splice(asked.indexOf(ask), 1);
          const video = document.querySelector("main video");
          video.requestVideoFrameCallback(() => video.requestVideoFrameCallback(() => ask.resolve()));
        }
      };
      for (const [k, url] of Object.entries(%s)) { const img = new Image(); img.src = url; images[k] = img; }
      navigator.mediaDevices.getUserMedia = async () => {
        const canvas = document.createElement("canvas"); canvas.width = 640; canvas.height = 480;
        const g = canvas.getContext("2d");
        const draw = () => {
          const main = document.querySelector("main");
          const action = (main && main.dataset.action) || "frontal";
          const img = images[action];
          if (img.complete) { g.drawImage(img, 0, 0, 640, 480); shown(action); }
          // A camera's sensor noise: no two real frames are the same bytes.
          for (let i = 0; i < 40; i++) {
            const v = 100 + Math.floor(Math.random() * 60);
            g.fillStyle = `rgb(${v},${v},${v})`;
            g.fillRect(Math.floor(Math.random() * 640), 470 + Math.floor(Math.random() * 10), 1, 1);
          }
          setTimeout(draw, 30);
        };
        draw();
        return canvas.captureStream(25);
      };
    })();""" % json.dumps(urls)
    async with httpx.AsyncClient(base_url=base_url) as device:
        await device.delete("/kiosk/device/simulator/card")
        await device.post("/kiosk/device/simulator/paper", json={"sheets": 50})
    context = await browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    await context.add_init_script(camera)
    context.set_default_timeout(WAIT_MS)
    page = await context.new_page()
    screens = Screens(page, (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text(), figures)
    await page.goto(base_url + "/kiosk/")
    await page.wait_for_selector("main[data-screen=welcome]")

    await sign_in(page, screens, "zhang")
    await page.click("[data-task=pension]")
    await page.wait_for_selector("main[data-screen=pension]")
    await screens.check("pension-status")
    await page.click("#pension-next")  # register the face from the chip photo
    await page.click("#agree")
    await page.click("#after-enrol")
    await page.wait_for_selector("main[data-screen=pension]")
    await page.click("#pension-next")  # agree to face recognition
    await page.wait_for_selector("main[data-screen=pension-consent]")
    await screens.check("pension-consent")
    await page.click("#agree")
    await page.wait_for_selector("main[data-screen=pension] #pension-next")
    bodies = []
    page.on("response", lambda r: bodies.append(r) if "/answer" in r.url else None)
    await page.click("#pension-next")  # the liveness challenge
    await page.wait_for_selector("main[data-screen=liveness][data-action]")
    await screens.check("pension-liveness")
    await page.wait_for_selector("main[data-screen=recognised], main[data-screen=liveness-failed]")
    assert await page.is_visible("main[data-screen=recognised]"), [await b.text() for b in bodies]
    await screens.check("pension-recognised")
    await page.click("#print")
    await page.wait_for_selector("[data-print-status=printed]")
    await context.close()


async def test_the_page_reaches_only_the_residents_routes_not_the_devices_own(kiosk_server):
    """Taking print jobs and their pages, heartbeats: the device's own calls, with the kiosk's whole
    authority; a script in the page asking for them through the device is refused."""
    base_url, _ = kiosk_server
    async with httpx.AsyncClient(base_url=base_url) as page:
        taken = await page.post("/kiosk/device/api/printer/take")
        beat = await page.post("/kiosk/device/api/heartbeat", json={})
        resident = await page.get("/kiosk/device/api/session")  # forwarded: the server answers (no session)

    assert taken.status_code == beat.status_code == 404
    assert resident.status_code not in (404, 500) and resident.headers["content-type"].startswith("application/")
