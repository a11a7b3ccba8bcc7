"""The preview page: WhatsApp formatting, escaping, and what a real browser shows."""

from __future__ import annotations

import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from campaign.plan import Row
from campaign.preview import render_chat, render_preview, whatsapp_html

JID = "972502345678@s.whatsapp.net"
INJECTION = "<script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned2'\">"


# --- whatsapp_html ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("*bold*", "<b>bold</b>"),
        ("_italic_", "<i>italic</i>"),
        ("~strike~", "<s>strike</s>"),
        ("```mono```", "<code>mono</code>"),
        ("`inline`", '<code class="inline">inline</code>'),
        ("Hi *Dana*, _see_ ~old~ new", "Hi <b>Dana</b>, <i>see</i> <s>old</s> new"),
        ("*_both_*", "<b><i>both</i></b>"),
        ("שלום *דנה*, המבצע", "שלום <b>דנה</b>, המבצע"),
        ("(*yes*)", "(<b>yes</b>)"),
    ],
)
def test_whatsapp_formatting(text: str, html: str) -> None:
    assert whatsapp_html(text) == html


@pytest.mark.parametrize(
    "text",
    ["snake_case_name", "2*3*4", "a_b", "x~y~z", "* not bold *", "_ spaced _", "__init__", "**"],
)
def test_markers_inside_words_or_spaced_stay_as_typed(text: str) -> None:
    assert whatsapp_html(text) == text


def test_markers_do_not_span_lines_but_mono_does() -> None:
    assert whatsapp_html("*a\nb*") == "*a<br>b*"
    assert whatsapp_html("```line 1\nline *2*```") == "<code>line 1<br>line *2*</code>"


def test_long_unbalanced_lines_stay_fast() -> None:
    text = "*a _b ~c `d " * 5000
    started = time.perf_counter()
    assert whatsapp_html(text) == text
    assert time.perf_counter() - started < 2


def test_newlines_become_br() -> None:
    assert whatsapp_html("one\ntwo\r\nthree") == "one<br>two<br>three"


def test_html_in_the_text_is_escaped_before_formatting() -> None:
    out = whatsapp_html("<script>alert(1)</script> *<b>x</b>*")
    assert "<script>" not in out
    assert out == "&lt;script&gt;alert(1)&lt;/script&gt; <b>&lt;b&gt;x&lt;/b&gt;</b>"
    assert whatsapp_html("Tom & \"Jerry\" 'x'") == "Tom &amp; &quot;Jerry&quot; &#x27;x&#x27;"


def test_urls_become_links_and_keep_their_underscores() -> None:
    out = whatsapp_html("see https://x.com/a_b_c?q=1&r=2.")
    assert out == (
        'see <a href="https://x.com/a_b_c?q=1&amp;r=2" rel="noopener noreferrer" '
        'target="_blank">https://x.com/a_b_c?q=1&amp;r=2</a>.'
    )


def test_a_url_cannot_break_out_of_its_attribute() -> None:
    out = whatsapp_html('https://x.com/"onmouseover="alert(1)')
    assert out.startswith('<a href="https://x.com/" rel=')
    assert '"onmouseover' not in out
    assert whatsapp_html("javascript:alert(1)") == "javascript:alert(1)"  # text, not a link


# --- render_preview -----------------------------------------------------------------------


def _rows() -> list[Row]:
    return [
        Row(
            2,
            ("דנה", "0502345678"),
            JID,
            status="sent",
            message="שלום *דנה*",
            sent_at="2024-05-12T10:02:11+03:00",
        ),
        Row(
            3,
            ("Yossi", "0547771212"),
            "972547771212@s.whatsapp.net",
            status="failed",
            message="Hi Yossi",
            error="Invalid JID",
        ),
        Row(4, ("Avi", "12345"), None, status="invalid", error="not a possible IL number"),
        Row(5, ("Dana", "050-234-5678"), JID, status="duplicate", error="same number as row 2"),
        Row(
            6,
            ("Ron", "0521112233"),
            "972521112233@s.whatsapp.net",
            status="suppressed",
            error="on opt-out list optout.csv",
        ),
    ]


def _preview(**kwargs: object) -> str:
    options: dict = {
        "kind": "text",
        "title": "spring sale",
        "counts": {"sent": 1, "failed": 1, "invalid": 1, "duplicate": 1, "suppressed": 1},
        "columns": ("Name", "Phone"),
        "duration": "about 2 min",
    }
    options.update(kwargs)
    return render_preview(_rows(), **options)  # type: ignore[arg-type]


def _not_sent_rows(page: str) -> list[str]:
    table = page.split("<h2>Not sent", 1)[1]
    rows = re.findall(r"<tr data-row=.*?</tr>", table, re.S)
    return [re.sub(r"(\s*<[^>]+>\s*)+", "|", tr) for tr in rows]


def test_preview_has_one_bubble_per_sendable_row() -> None:
    page = _preview()
    assert re.findall(r'<div class="bubble[^"]*" dir="auto" data-row="(\d+)"', page) == ["2", "3"]
    assert "שלום <b>דנה</b>" in page
    assert "<bdi>דנה</bdi> (0502345678) · " in page  # issue 22: the name and phone as written, not the JID
    assert "Invalid JID" in page.split('data-row="3"', 1)[1].split("</section>", 1)[0]


def test_preview_lists_rows_not_sent_with_their_reasons() -> None:
    assert _not_sent_rows(_preview()) == [
        "|4|Avi|12345|invalid|not a possible IL number|",
        "|5|Dana|050-234-5678|duplicate|same number as row 2|",
        "|6|Ron|0521112233|suppressed|on opt-out list optout.csv|",
    ]


def test_preview_shows_counts_title_and_duration() -> None:
    page = _preview()
    chips = dict(re.findall(r'data-status="(\w+)"[^>]*><i></i>\w+ <b>(\d+)</b>', page))
    assert chips == {
        "sent": "1",
        "failed": "1",
        "invalid": "1",
        "duplicate": "1",
        "suppressed": "1",
    }
    assert "<title>spring sale</title>" in page
    assert "estimated duration about 2 min" in page


def test_preview_page_is_self_contained_and_forbids_scripts() -> None:
    page = _preview()
    assert '<meta charset="utf-8">' in page
    assert (
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "img-src https: data:; style-src 'unsafe-inline'\">"
    ) in page
    assert "<html>" in page
    assert not re.search(r"<script|<link|@import|src=\"http|url\(http", page)


def test_cells_are_data_everywhere() -> None:
    row = Row(
        2,
        (INJECTION,),
        JID,
        status="failed",
        message=INJECTION,
        error=INJECTION,
        media="javascript:alert(1)",
    )
    bad = Row(3, (INJECTION,), None, status="invalid", error=INJECTION)
    page = render_preview(
        [row, bad], kind="doc", title=INJECTION, counts={INJECTION: 1}, columns=("phone",)
    )
    assert "<script" not in page
    assert "<img src=x" not in page
    assert 'href="javascript:' not in page
    assert (
        page.count("&lt;script&gt;document.title=&#39;pwned&#39;")
        + page.count("&lt;script&gt;document.title=&#x27;pwned&#x27;")
        >= 4
    )


def test_image_rows_get_a_lazy_thumbnail_and_media_rows_a_link_card() -> None:
    url = "https://cdn.example.com/flyers/week%2019.jpg"
    row = Row(2, ("Dana",), JID, status="ready", message="*Dana*, the flyer", media=url)
    image = render_preview([row], kind="image", title="t", counts={"ready": 1}, columns=("Name",))
    img = re.search(r"<img [^>]*>", image)
    assert img
    assert f'src="{url}"' in img.group() and 'loading="lazy"' in img.group()
    assert 'alt="Image for Dana (+972502345678): week 19.jpg"' in img.group()
    assert image.index("<img") < image.index("<b>Dana</b>")
    doc = render_preview([row], kind="doc", title="t", counts={"ready": 1})
    assert f'<a class="card" dir="ltr" style="--c:#5f66cd" href="{url}"' in doc
    assert '<span class="name">week 19.jpg</span>' in doc


def test_bubbles_are_labelled_by_name_and_phone_as_the_sheet_has_them() -> None:
    columns = ("First Name", "Last Name", "Mobile", "Notes")
    rows = [
        Row(2, ("Dana", "Levi", "+972 50-234-5678", "vip 2024"), JID, message="Hi"),
        Row(3, ("", "", "0547771212", ""), "972547771212@s.whatsapp.net", message="Hi"),
        Row(4, ("Avi", "", "052 999", ""), None, status="invalid", error="no phone number"),
    ]
    page = render_preview(rows, kind="text", title="t", counts={"ready": 2}, columns=columns)
    metas = re.findall(r'<span class="who">(.*?)<span class="st"', page)
    assert metas == ["<bdi>Dana Levi</bdi> (+972 50-234-5678) · ", "0547771212 · "]
    assert "whatsapp.net" not in page
    assert _not_sent_rows(page) == ["|4|Avi|052 999|invalid|no phone number|"]
    hebrew = Row(2, ("דנה כהן", "502345678"), JID, message="Hi")  # Excel ate the zero
    page = render_preview([hebrew], kind="text", title="t", counts={}, columns=("שם מלא", "טלפון"))
    assert "<bdi>דנה כהן</bdi> (502345678) · " in page


@pytest.mark.parametrize(
    "url", ["http://cdn.example.com/a.jpg", "javascript:alert(1)", "data:image/png;base64,AA"]
)
def test_only_an_https_image_is_loaded_other_urls_get_the_card(url: str) -> None:
    row = Row(2, ("Dana",), JID, message="Hi", media=url)
    page = render_preview([row], kind="image", title="t", counts={"ready": 1})
    assert "<img" not in page
    assert '<div class="thumb" dir="ltr">' in page and "not an https:// URL" in page


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="kind must be one of"):
        render_preview([], kind="sticker", title="t", counts={})


# --- render_chat --------------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    seq: int
    endpoint: str
    jid: str
    text: str
    media_url: str
    at: float


def test_chat_groups_by_jid_with_the_latest_chat_last() -> None:
    other = "972525550123@s.whatsapp.net"
    messages = [
        Message(1, "send-text", JID, "first", "", 1_700_000_000.0),
        Message(2, "send-image", other, "*pic*", "https://x.com/a.jpg", 1_700_000_010.0),
        Message(3, "send-text", JID, "third", "", 1_700_000_020.0),
    ]
    page = render_chat(messages, refresh_seconds=3)
    assert '<meta http-equiv="refresh" content="3">' in page
    assert re.findall(r'data-jid="([^"]+)"', page) == [other, JID]
    assert re.findall(r'data-seq="(\d)"', page) == ["2", "1", "3"]
    assert re.search(r"#1 · send-text</span><span>\d\d:\d\d:\d\d</span>", page)
    assert '<img src="https://x.com/a.jpg"' in page and "<b>pic</b>" in page


def test_chat_empty_state_says_how_to_send() -> None:
    page = render_chat([])
    assert "No messages yet. Send with:" in page
    assert "campaign send ... --base-url &lt;this url&gt;" in page
    assert "--base-url http://127.0.0.1:9/api" in render_chat([], base_url="http://127.0.0.1:9/api")


# --- a real browser -----------------------------------------------------------------------

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _unavailable(reason: str) -> None:
    """Skip on a developer machine; in CI the browser test must run, so fail instead."""
    reason += " (run .ci/install-browser)"
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed")
    executable = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(executable).exists():
        _unavailable("no chromium browser found (looked on PATH and at /usr/bin/chromium)")
    with sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        except Error as exc:
            _unavailable(f"chromium at {executable} did not start: {exc}")
        yield browser
        browser.close()


def test_preview_in_a_real_browser(browser, tmp_path: Path) -> None:
    rows = [
        Row(2, ("דנה",), JID, status="ready", message="שלום *דנה*, המבצע מתחיל מחר"),
        Row(
            3,
            ("Dana",),
            "972525550123@s.whatsapp.net",
            status="ready",
            message="Hi _Dana_, ~old~ ```CODE```",
        ),
        Row(
            4,
            (INJECTION,),
            "972547771212@s.whatsapp.net",
            status="failed",
            message=INJECTION,
            error=INJECTION,
        ),
        Row(5, (INJECTION,), None, status="invalid", error=INJECTION),
    ]
    html_file = tmp_path / "preview.html"
    html_file.write_text(
        render_preview(
            rows, kind="text", title="browser test", counts={"ready": 2, "failed": 1, "invalid": 1}
        ),
        encoding="utf-8",
    )
    page = browser.new_page(viewport={"width": 560, "height": 800})
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(html_file.as_uri())

    png = tmp_path / "preview.png"
    page.screenshot(path=str(png), full_page=True)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 10_000

    def direction(row: int) -> str:
        return page.eval_on_selector(
            f'.bubble[data-row="{row}"]', "e => getComputedStyle(e).direction"
        )

    assert direction(2) == "rtl"
    assert direction(3) == "ltr"

    def texts(row: int, tag: str) -> list[str]:
        return page.locator(f'.bubble[data-row="{row}"] .text {tag}').all_inner_texts()

    assert texts(2, "b") == ["דנה"]
    assert (texts(3, "b"), texts(3, "i"), texts(3, "s"), texts(3, "code")) == (
        [],
        ["Dana"],
        ["old"],
        ["CODE"],
    )

    assert "pwned" not in page.title()
    assert page.title() == "browser test"
    assert page.evaluate("document.querySelectorAll('script').length") == 0
    assert page.evaluate("document.querySelectorAll('img[src=\"x\"]').length") == 0
    injected = page.locator('.bubble[data-row="4"] .text').inner_text()
    assert injected == INJECTION
    assert page.locator('tr[data-row="5"]').inner_text().endswith(INJECTION)
    assert requests == [html_file.as_uri()]
    page.close()


def test_a_reachable_picture_is_shown_and_an_unreachable_one_falls_back_to_the_card(
    browser, tmp_path: Path
) -> None:
    png = Path(__file__).resolve().parents[1] / "docs" / "preview.png"
    rows = [
        Row(2, ("Dana",), JID, message="the flyer", media="https://cdn.test/flyer.png"),
        Row(3, ("Avi",), "972525550123@s.whatsapp.net", message="the flyer", media="https://cdn.test/gone.png"),
    ]
    html_file = tmp_path / "preview.html"
    html_file.write_text(render_preview(rows, kind="image", title="t", counts={"ready": 2},
                                        columns=("Name",)), encoding="utf-8")
    page = browser.new_page()

    def serve(route) -> None:  # type: ignore[no-untyped-def]
        if route.request.url.endswith("/flyer.png"):
            route.fulfill(status=200, content_type="image/png", body=png.read_bytes())
        else:
            route.fulfill(status=404, body="not found")

    page.route("https://cdn.test/**", serve)
    page.goto(html_file.as_uri())
    for _ in range(100):  # both answers arrive (wait_for_function's polling breaks under the CSP)
        if page.evaluate("[...document.images].every(i => i.complete)"):
            break
        page.wait_for_timeout(50)
    width = 'e => e.naturalWidth'
    assert page.eval_on_selector('.bubble[data-row="2"] img', width) > 0
    assert page.eval_on_selector('.bubble[data-row="3"] img', width) == 0
    # A broken image draws its ::after box: the card's name and host over the browser's icon.
    after = "e => getComputedStyle(e, '::after').content"
    assert page.eval_on_selector('.bubble[data-row="3"] img', after) == '"gone.png\\a cdn.test"'
    page.close()


def test_sandbox_page_in_a_real_browser(browser, tmp_path: Path) -> None:
    messages = [
        Message(1, "send-text", JID, "שלום *דנה*", "", 1_700_000_000.0),
        Message(
            2, "send-doc", JID, "the _list_", "https://x.com/price%20list.pdf", 1_700_000_005.0
        ),
    ]
    html_file = tmp_path / "sandbox.html"
    html_file.write_text(render_chat(messages, refresh_seconds=600), encoding="utf-8")
    page = browser.new_page()
    page.goto(html_file.as_uri())
    assert page.eval_on_selector('[data-seq="1"]', "e => getComputedStyle(e).direction") == "rtl"
    assert page.locator('[data-seq="2"] .card .name').inner_text() == "price list.pdf"
    assert page.locator('[data-seq="2"] .text i').inner_text() == "list"
    page.close()
