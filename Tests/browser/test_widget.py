"""The widget, the iframe page and the read-only view in headless Chromium (DESIGN.md §5–6).

The host page lives on another origin than Parley, under a CSP without 'unsafe-inline'.
Screenshots of each state are written to test-artifacts/screenshots/.
"""

import hashlib
import hmac
import json
import time
import urllib.request

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from conftest import HostSite, screenshot


def shadow(driver):
    host = WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, "parley-chat"))[0]
    return driver.execute_script("return arguments[0].shadowRoot", host)


def inside(driver, selector):
    return driver.execute_script("return arguments[0].shadowRoot.querySelector(arguments[1])",
                                 driver.find_element(By.CSS_SELECTOR, "parley-chat"), selector)


def wait_ready(driver):
    try:
        WebDriverWait(driver, 10).until(lambda d: d.execute_script(
            "var h = document.querySelector('parley-chat'); return h && h.shadowRoot && window.Parley && window.Parley.widget && window.Parley.widget.session"))
    except TimeoutException:
        raise AssertionError("the widget did not start; browser console: %r" % [e["message"] for e in driver.get_log("browser")])


def assistant_texts(driver):
    return driver.execute_script(
        "return Array.from(document.querySelector('parley-chat').shadowRoot.querySelectorAll('.message.assistant')).map(e => e.textContent)")


def send(driver, text):
    box = inside(driver, "textarea")
    box.send_keys(text)
    box.send_keys(Keys.ENTER)


FINAL = "This reply arrives one word at a time so you can watch it."


def replies_done(driver):
    return driver.execute_script("""
        var root = document.querySelector('parley-chat').shadowRoot;
        return root.querySelectorAll('.message.assistant[aria-busy]').length === 0;""")


def user_texts(driver):
    return driver.execute_script(
        "return Array.from(document.querySelector('parley-chat').shadowRoot.querySelectorAll('.message.user')).map(e => e.textContent)")


def send_and_wait(driver, text, reply=FINAL):
    """Sends `text` and waits for its own reply to finish."""
    WebDriverWait(driver, 15).until(replies_done)
    before = len(user_texts(driver))
    send(driver, text)
    WebDriverWait(driver, 15).until(lambda d: len(user_texts(d)) == before + 1)
    WebDriverWait(driver, 15).until(lambda d: replies_done(d) and assistant_texts(d)[-1] == reply)


def csp_violations(driver):
    return [entry["message"] for entry in driver.get_log("browser")
            if "Content Security Policy" in entry["message"] or "Refused to" in entry["message"]]


def test_bubble_opens_streams_incrementally_and_keeps_history(stack, browser):
    browser.get(stack["host"] + "/bubble")
    wait_ready(browser)
    screenshot(browser, "01-bubble-closed")
    inside(browser, ".launcher").click()
    assert inside(browser, ".panel").get_attribute("hidden") is None
    send(browser, "hello")
    partials = set()
    final = "This reply arrives one word at a time so you can watch it."
    deadline = time.time() + 15
    while time.time() < deadline:
        texts = assistant_texts(browser)
        last = texts[-1] if len(texts) > 1 else ""
        if last:
            partials.add(last)
        if last == final:
            break
        time.sleep(0.05)
    screenshot(browser, "02-bubble-reply")
    assert final in partials
    assert any(0 < len(p) < len(final) and final.startswith(p) for p in partials), "the reply was seen part-way"
    browser.refresh()
    wait_ready(browser)
    inside(browser, ".launcher").click()
    try:
        WebDriverWait(browser, 10).until(lambda d: final in assistant_texts(d))
    except TimeoutException:
        raise AssertionError("after reload: %r / console %r" % (assistant_texts(browser), [e["message"] for e in browser.get_log("browser")]))
    screenshot(browser, "03-bubble-after-reload")
    assert not csp_violations(browser)


def test_inline_mode_mounts_in_the_page(stack, browser):
    browser.get(stack["host"] + "/inline")
    wait_ready(browser)
    mounted = browser.execute_script("return document.querySelector('#help parley-chat') !== null")
    assert mounted
    assert inside(browser, ".launcher") is None
    send(browser, "markdown")
    WebDriverWait(browser, 10).until(lambda d: d.execute_script(
        "return document.querySelector('parley-chat').shadowRoot.querySelector('.message.assistant table') !== null"))
    rendered = browser.execute_script("""
        var m = document.querySelector('parley-chat').shadowRoot.querySelectorAll('.message.assistant');
        var last = m[m.length - 1];
        return {h: !!last.querySelector('h3'), strong: !!last.querySelector('strong'), code: !!last.querySelector('pre code'),
                list: last.querySelectorAll('li').length, quote: !!last.querySelector('blockquote'), copy: !!last.querySelector('button.copy')};""")
    assert rendered == {"h": True, "strong": True, "code": True, "list": 2, "quote": True, "copy": True}
    screenshot(browser, "04-inline-markdown")
    assert not csp_violations(browser)


def test_model_text_executes_nothing_and_loads_nothing(stack, browser):
    HostSite.requests.clear()
    browser.get(stack["host"] + "/inline")
    wait_ready(browser)
    send(browser, "xss")
    WebDriverWait(browser, 10).until(lambda d: any("ok link" in t for t in assistant_texts(d)))
    time.sleep(0.5)
    assert browser.execute_script("return window.__pwned === undefined")
    links = browser.execute_script("""
        var all = document.querySelector('parley-chat').shadowRoot.querySelectorAll('.message.assistant a');
        return Array.from(all).map(a => [a.getAttribute('href'), a.getAttribute('rel'), a.getAttribute('target')]);""")
    assert links == [["https://example.com/docs", "noopener noreferrer nofollow", "_blank"]]
    counts = browser.execute_script("""
        var root = document.querySelector('parley-chat').shadowRoot;
        return [root.querySelectorAll('script').length, root.querySelectorAll('img').length];""")
    assert counts == [0, 0]
    assert not any("tracker" in path for path in HostSite.requests), "no image was fetched from model text"
    screenshot(browser, "05-xss-rendered-as-text")
    assert not csp_violations(browser)


def test_token_is_refreshed_before_it_expires(stack, browser):
    HostSite.ttl = 65  # refresh is due 60 s before expiry: 5 s from now
    HostSite.token_calls = 0
    try:
        browser.get(stack["host"] + "/bubble")
        wait_ready(browser)
        assert HostSite.token_calls == 1
        WebDriverWait(browser, 15).until(lambda d: HostSite.token_calls >= 2)
        assert browser.execute_script("return window.Parley.widget.tokenExpiresAt") > 0
        inside(browser, ".launcher").click()
        send_and_wait(browser, "hello")
    finally:
        HostSite.ttl = 3600


def test_keyboard_only_use(stack, browser):
    browser.get(stack["host"] + "/bubble")
    wait_ready(browser)

    def keys(*sequence):
        ActionChains(browser).send_keys(*sequence).perform()

    def focused_inside():
        return browser.execute_script(
            "var a = document.activeElement; return a.tagName + '/' + (a.shadowRoot && a.shadowRoot.activeElement ? "
            "a.shadowRoot.activeElement.tagName + '.' + a.shadowRoot.activeElement.className : '')")

    keys(Keys.TAB)
    assert focused_inside() == "PARLEY-CHAT/BUTTON.launcher"
    keys(Keys.ENTER)
    WebDriverWait(browser, 5).until(lambda d: inside(d, ".panel").get_attribute("hidden") is None)
    assert focused_inside() == "PARLEY-CHAT/TEXTAREA.", "opening moves focus to the composer"
    keys("line one")
    ActionChains(browser).key_down(Keys.SHIFT).send_keys(Keys.ENTER).key_up(Keys.SHIFT).perform()
    keys("line two")
    assert browser.execute_script("return document.querySelector('parley-chat').shadowRoot.querySelector('textarea').value") == "line one\nline two"
    WebDriverWait(browser, 15).until(replies_done)
    before = len(user_texts(browser))
    keys(Keys.ENTER)
    WebDriverWait(browser, 15).until(lambda d: len(user_texts(d)) == before + 1 and replies_done(d) and assistant_texts(d)[-1] == FINAL)
    assert user_texts(browser)[-1] == "line one\nline two"
    screenshot(browser, "06-keyboard")
    keys(Keys.ESCAPE)
    assert inside(browser, ".panel").get_attribute("hidden") is not None
    assert focused_inside() == "PARLEY-CHAT/BUTTON.launcher", "focus returns to the launcher"


def test_arabic_is_laid_out_right_to_left(stack, browser):
    browser.get(stack["host"] + "/bubble-ar")
    wait_ready(browser)
    inside(browser, ".launcher").click()
    host = browser.find_element(By.CSS_SELECTOR, "parley-chat")
    assert host.get_attribute("dir") == "rtl"
    assert inside(browser, "textarea").get_attribute("placeholder") == "اكتب رسالة…"
    screenshot(browser, "07-arabic-rtl")


def test_dark_theme_left_position_and_open_on_load(stack, browser):
    browser.get(stack["host"] + "/bubble-dark")
    wait_ready(browser)
    WebDriverWait(browser, 5).until(lambda d: inside(d, ".panel").get_attribute("hidden") is None)
    panel = inside(browser, ".panel").rect
    assert panel["x"] < 100, "bottom-left"
    colour = browser.execute_script("return getComputedStyle(document.querySelector('parley-chat').shadowRoot.querySelector('header')).backgroundColor")
    assert colour == "rgb(130, 80, 223)"
    screenshot(browser, "08-dark-left")


def test_mobile_layout_goes_full_screen(stack, phone):
    phone.get(stack["host"] + "/bubble")
    wait_ready(phone)
    inside(phone, ".launcher").click()
    rect = inside(phone, ".panel").rect
    width = phone.execute_script("return window.innerWidth")
    height = phone.execute_script("return window.innerHeight")
    assert rect["x"] == 0 and rect["y"] == 0 and rect["width"] == width and abs(rect["height"] - height) <= 1
    screenshot(phone, "09-mobile-375x812")


def test_iframe_posts_ready_to_the_exact_parent_origin_and_drops_its_token(stack, browser):
    token = stack["parley"].call("POST", "/api/v1/embed/generate-token",
                                 {"workspaceId": stack["workspace"], "userContext": {"id": "frame-user"}}, key=stack["key"])["embedToken"]
    HostSite.iframe_token = token
    browser.get(stack["host"] + "/iframe")
    WebDriverWait(browser, 10).until(lambda d: d.execute_script("return window.__messages.length > 0"))
    messages = browser.execute_script("return window.__messages")
    assert messages[0]["origin"] == stack["parley"].base
    assert messages[0]["data"] == {"type": "PARLEY_EMBED_READY"}
    browser.switch_to.frame(browser.find_element(By.ID, "chat"))
    assert "token" not in browser.execute_script("return location.href")
    browser.switch_to.default_content()
    screenshot(browser, "10-iframe")
    assert not csp_violations(browser)


def test_iframe_refuses_to_be_framed_by_another_origin(stack, browser):
    token = stack["parley"].call("POST", "/api/v1/embed/generate-token",
                                 {"workspaceId": stack["workspace"], "userContext": {"id": "frame-user"}}, key=stack["key"])["embedToken"]
    # Parley's own origin is not in this workspace's allowed origins: a page there may not frame it.
    browser.get(stack["parley"].base + "/healthz")
    browser.execute_script("""
        var f = document.createElement('iframe'); f.id = 'x'; f.src = arguments[0]; document.body.appendChild(f);""",
                           stack["parley"].base + "/embedded-chat?token=" + token)
    time.sleep(1.5)
    refused = [m for m in browser.get_log("browser") if "frame-ancestors" in m["message"] or "Refused to frame" in m["message"]]
    assert refused, "Chromium refused the frame"


def test_view_page_renders_and_refuses_bad_or_expired_links(stack, browser):
    parley = stack["parley"]
    token = parley.call("POST", "/api/v1/embed/generate-token",
                        {"workspaceId": stack["workspace"], "userContext": {"id": "viewer"}}, key=stack["key"])["embedToken"]
    conversation = parley.call("POST", "/v1/conversations", {}, key=token)["id"]
    request = urllib.request.Request(parley.base + f"/v1/conversations/{conversation}/messages", method="POST",
                                     data=json.dumps({"content": "markdown"}).encode())
    request.add_header("Authorization", "Bearer " + token)
    request.add_header("Content-Type", "application/json")
    urllib.request.urlopen(request, timeout=20).read()
    link = parley.call("POST", f"/admin/v1/workspaces/{stack['workspace']}/conversations/{conversation}/view-link",
                       {"view_as": "viewer", "ttl_seconds": 600})["url"]
    browser.get(link)
    WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#messages li.assistant table"))
    assert browser.find_elements(By.CSS_SELECTOR, "#messages li.mine")
    assert not browser.find_elements(By.TAG_NAME, "textarea")
    screenshot(browser, "11-view")
    assert not csp_violations(browser)
    browser.get(link.replace("auth_token=", "auth_token=0"))
    assert "not valid" in browser.page_source
    screenshot(browser, "12-view-refused")
    secret = parley.call("GET", f"/admin/v1/workspaces/{stack['workspace']}/view-secret")["view_secret"]
    past = 1000
    signature = hmac.new(secret.encode(), f"{conversation}.{past}".encode(), hashlib.sha256).hexdigest()
    browser.get(f"{parley.base}/view/{stack['workspace']}/{conversation}?auth_token={signature}&valid_until={past}")
    assert "expired" in browser.page_source
    screenshot(browser, "13-view-expired")


def test_a_reply_still_streaming_after_a_reload_is_followed_to_its_end(stack, browser):
    browser.get(stack["host"] + "/bubble")
    wait_ready(browser)
    inside(browser, ".launcher").click()
    send(browser, "hello")
    time.sleep(0.6)
    browser.refresh()
    wait_ready(browser)
    inside(browser, ".launcher").click()
    WebDriverWait(browser, 15).until(lambda d: assistant_texts(d)[-1] == "This reply arrives one word at a time so you can watch it.")
    notice_hidden = browser.execute_script("return document.querySelector('parley-chat').shadowRoot.querySelector('.notice').hidden")
    assert notice_hidden, "no error shown"


def test_iframe_reports_a_dead_token_and_continues_with_set_token(stack, browser):
    parley = stack["parley"]

    def mint():
        return parley.call("POST", "/api/v1/embed/generate-token",
                           {"workspaceId": stack["workspace"], "userContext": {"id": "frame-user-2"}}, key=stack["key"])["embedToken"]

    dead = mint()
    assert parley.call("POST", "/api/v1/embed/revoke-token", {"token": dead}, key=stack["key"])["revoked"] == 1
    HostSite.iframe_token = dead
    browser.get(stack["host"] + "/iframe")
    WebDriverWait(browser, 10).until(lambda d: d.execute_script("return window.__messages.length > 0"))
    first = browser.execute_script("return window.__messages[0]")
    assert first == {"origin": parley.base, "data": {"type": "PARLEY_EMBED_ERROR", "error": "token_revoked"}}
    browser.execute_script("document.getElementById('chat').contentWindow.postMessage({type: 'PARLEY_EMBED_SET_TOKEN', token: arguments[0]}, arguments[1])",
                           mint(), parley.base)
    WebDriverWait(browser, 10).until(lambda d: d.execute_script(
        "return window.__messages.some(function (m) { return m.data.type === 'PARLEY_EMBED_READY'; })"))
    screenshot(browser, "14-iframe-after-set-token")


CONTRAST = """
function luminance(rgb) {
  var c = rgb.match(/\\d+(\\.\\d+)?/g).slice(0, 3).map(Number).map(function (v) {
    v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
  return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
}
function ratio(a, b) { var x = luminance(a), y = luminance(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); }
var root = document.querySelector('parley-chat').shadowRoot;
function pair(selector) {
  var e = root.querySelector(selector); var s = getComputedStyle(e);
  return ratio(s.color, s.backgroundColor);
}
var panel = getComputedStyle(root.querySelector('.messages')).backgroundColor;
return {
  header: ratio(getComputedStyle(root.querySelector('header h2')).color, getComputedStyle(root.querySelector('header')).backgroundColor),
  user: pair('.message.user'), assistant: pair('.message.assistant'),
  send: pair('.composer button'),
  input: ratio(getComputedStyle(root.querySelector('textarea')).color, panel)
};
"""


def test_text_contrast_passes_wcag_aa_in_both_themes(stack, browser):
    for page in ["/bubble", "/bubble-dark"]:
        browser.get(stack["host"] + page)
        wait_ready(browser)
        if inside(browser, ".panel").get_attribute("hidden") is not None:
            inside(browser, ".launcher").click()
        send_and_wait(browser, "hello")
        ratios = browser.execute_script(CONTRAST)
        assert all(value >= 4.5 for value in ratios.values()), (page, ratios)


def test_the_stop_button_cancels_the_reply(stack, browser):
    browser.get(stack["host"] + "/inline")
    wait_ready(browser)
    WebDriverWait(browser, 15).until(replies_done)
    send(browser, "hello")
    WebDriverWait(browser, 10).until(lambda d: assistant_texts(d)[-1].startswith("This reply"))
    stop = inside(browser, ".composer button")
    assert stop.text == "Stop"
    stop.click()
    WebDriverWait(browser, 10).until(replies_done)
    last = assistant_texts(browser)[-1]
    assert last.endswith("Stopped.") and len(last) < len(FINAL) + len("Stopped.")
    assert inside(browser, ".composer button").text == "Send"
    screenshot(browser, "15-stopped")


def test_iframe_tells_its_parent_when_the_token_lapses(stack, browser):
    # The shortest lifetime a token may have is 60 s; this test waits it out.
    token = stack["parley"].call("POST", "/api/v1/embed/generate-token",
                                 {"workspaceId": stack["workspace"], "userContext": {"id": "lapse-user"}, "ttlSeconds": 60},
                                 key=stack["key"])["embedToken"]
    HostSite.iframe_token = token
    browser.get(stack["host"] + "/iframe")
    WebDriverWait(browser, 10).until(lambda d: d.execute_script("return window.__messages.length > 0"))
    WebDriverWait(browser, 75, poll_frequency=1).until(lambda d: d.execute_script(
        "return window.__messages.some(function (m) { return m.data.type === 'PARLEY_EMBED_TOKEN_EXPIRED'; })"))
    expired = [m for m in browser.execute_script("return window.__messages") if m["data"]["type"] == "PARLEY_EMBED_TOKEN_EXPIRED"]
    assert expired[0]["origin"] == stack["parley"].base
