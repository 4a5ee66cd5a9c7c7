"""The page of `matcalc serve` in a real browser: Debian's headless Chromium (/usr/bin/chromium,
installed by .ci/run) driven by Playwright's Python API — never a browser Playwright downloads.

One user's session, step by step: type the seed, tick X, read the typeset result, open the steps,
copy the NumPy code and run it (checked against central finite differences), type a parse error
and see the caret, reload from the URL and get the same page. A failing step saves a screenshot
(its path is in the failure). With MATCALC_UPDATE_SCREENSHOT=1 the test also writes the
README's picture, docs/serve.png.
"""
from __future__ import annotations

import os
import re
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Page, expect, sync_playwright
from web_server import check_seed_gradient, run_module, server, sigmoid

import matcalc

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
SEED = "w'*w where w = sigmoid(X'*a)"
BROKEN = "w'*w where w = sigmoid(X'*a"
TIMEOUT_MS = 20_000
# Chromium logs every 4xx answer to the console; a user error is one (422), on purpose
EXPECTED_4XX = re.compile(r"Failed to load resource: the server responded with a status of 4")


def visible_text(text: str) -> str:
    """Text as KaTeX lays it out, without spaces and zero-width characters."""
    return re.sub(r"[\s\u200b]", "", text)


@pytest.fixture(scope="module")
def page():
    url = server()
    assert os.path.exists(CHROMIUM), f"{CHROMIUM} is missing: apt-get install chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 860})
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url)
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        page.problems = []      # console errors, page errors, CSP violations
        page.on("console", lambda m: m.type == "error" and not EXPECTED_4XX.match(m.text)
                and page.problems.append(m.text))
        page.on("pageerror", lambda e: page.problems.append(str(e)))
        page.base_url = url
        yield page
        browser.close()


@contextmanager
def screenshot_on_failure(page: Page, name: str):
    try:
        yield
    except BaseException as exc:
        path = Path(os.environ.get("MATCALC_SCREENSHOTS", tempfile.gettempdir()))
        path = path / f"matcalc-web-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        if hasattr(exc, "add_note"):
            exc.add_note(f"screenshot of the page: {path}")
        raise


def settled(page: Page) -> None:
    """Wait until the page has answered the latest edit (no edit pending, no request out)."""
    expect(page.locator("body")).to_have_attribute("data-state", "idle")


def test_a_session_with_the_seed(page: Page):
    expected = matcalc.derive(SEED, wrt="X")
    with screenshot_on_failure(page, "session"):
        page.goto(f"{page.base_url}/?expr=")
        settled(page)
        expect(page.locator("#status")).to_contain_text("Type an expression")
        editor = page.locator("#expr")
        editor.press_sequentially(SEED, delay=5)        # typing, as a person: debounced updates
        settled(page)

        # the variables, with their inferred shapes; tick X
        rows = page.locator("#variables tbody tr")
        expect(rows).to_have_count(2)
        expect(page.locator("tr[data-name=X] .inferred")).to_have_text("len(a) × cols(X)")
        expect(page.locator("tr[data-name=a] .inferred")).to_have_text("vector, len(a)")
        expect(page.locator("#status")).to_contain_text("Tick a variable")
        page.check("tr[data-name=X] input[type=checkbox]")
        settled(page)

        # the result, typeset: 2a(w∘2 − w∘3)ᵀ, where w = σ(Xᵀa)
        result = page.locator(".result")
        expect(result).to_have_count(1)
        expect(result.locator(".text code")).to_have_text(str(expected))
        expect(result.locator("annotation")).to_have_text(expected.latex())
        shown = visible_text(result.locator(".katex-html").inner_text())
        assert "2a(w∘2−w∘3)⊤" in shown and "wherew=σ(X⊤a)" in shown, shown
        expect(result.locator(".check")).to_contain_text("central finite differences")
        assert page.locator(".result .katex .mfrac").count() == 1     # ∂f/∂X as a fraction

        # the steps: collapsed, then open, each naming its rule
        steps = page.locator("#steps")
        assert steps.get_attribute("open") is None
        steps.locator("summary").first.click()
        expect(steps.locator(".steps-math")).to_be_visible()
        shown_steps = steps.locator(".steps-math").inner_text().replace("’", "'")
        for step in expected.steps:
            assert step.rule in shown_steps, step.rule
        expect(steps.locator("summary").first).to_have_text(
            f"Derivation steps ({len(expected.steps)})")
        if os.environ.get("MATCALC_UPDATE_SCREENSHOT"):
            page.mouse.move(0, 0)
            page.screenshot(path=str(ROOT / "docs" / "serve.png"))

        # the code: NumPy tab, copy, run it
        page.click("[role=tab][data-tab=jax]")
        expect(page.locator("#code-body")).to_contain_text("jax.numpy")
        page.click("[role=tab][data-tab=numpy]")
        page.click("#copy")
        expect(page.locator("#copy")).to_have_text("Copied")
        copied = page.evaluate("navigator.clipboard.readText()")
        assert copied == expected.source
        grad_X = run_module(copied, "grad_X")
        check_seed_gradient(grad_X)
        rng = np.random.default_rng(7)
        X, a = rng.standard_normal((5, 3)), rng.standard_normal(5)
        np.testing.assert_allclose(grad_X(X, a), expected.numpy()(X=X, a=a), rtol=1e-12)


        # the URL carries the state
        link = page.url
        assert "wrt=X" in link and "expr=" in link

        # a parse error: its caret under the editor, the result gone
        editor.fill(BROKEN)
        settled(page)
        error = page.locator("#error")
        expect(error).to_be_visible()
        message = str(_error(BROKEN))
        expect(error).to_have_text(f"parse error: {message}")
        assert error.inner_text().splitlines()[-1] == "                             ^"
        expect(page.locator(".result")).to_have_count(0)
        page.reload()
        settled(page)
        expect(page.locator("#error")).to_have_text(f"parse error: {message}")

        # the link reproduces the page
        page.goto(link)
        settled(page)
        expect(page.locator("#expr")).to_have_value(SEED)
        expect(page.locator("#error")).to_be_hidden()
        expect(page.locator("tr[data-name=X] input[type=checkbox]")).to_be_checked()
        expect(page.locator(".result .text code")).to_have_text(str(expected))
        expect(page.locator(".result annotation")).to_have_text(expected.latex())
    assert page.problems == []


def test_declared_shapes_and_the_hessian(page: Page):
    """Set shapes and the kind with the controls; the page's answers are the library's."""
    expr = "sum(softplus(-y.*(X*w)))"
    expected = matcalc.hessian(expr, wrt="w", shapes={"X": ("N", "d")})
    with screenshot_on_failure(page, "hessian"):
        page.goto(f"{page.base_url}/?expr={expr.replace('+', '%2B')}&wrt=w")
        settled(page)
        page.fill("tr[data-name=X] input.dims", "N,d")
        settled(page)
        expect(page.locator("tr[data-name=y] .inferred")).to_have_text("vector, N")
        expect(page.locator(".result")).to_have_attribute("data-kind", "gradient")
        page.check("input[name=kind][value=hessian]")
        settled(page)
        expect(page.locator(".result")).to_have_attribute("data-kind", "hessian")
        expect(page.locator(".result .text code")).to_have_text(str(expected))
        page.click("[role=tab][data-tab=numpy]")
        source = page.locator("#code-body").inner_text()
        assert source == expected.source
        hessian = run_module(source, "hessian_w")
        rng = np.random.default_rng(2)
        X, y, w = rng.standard_normal((6, 3)), rng.standard_normal(6), rng.standard_normal(3)

        def gradient(w_):       # the textbook gradient: -X'*(sigmoid(-y.*(X*w)).*y)
            return -X.T @ (sigmoid(-y * (X @ w_)) * y)
        h = 1e-6
        columns = [(gradient(w + h * e) - gradient(w - h * e)) / (2 * h) for e in np.eye(3)]
        np.testing.assert_allclose(hessian(y=y, X=X, w=w), np.column_stack(columns), rtol=1e-6)
        assert "kind=hessian" in page.url and "v.X=auto%3AN%2Cd" in page.url

        page.select_option("tr[data-name=X] select", "vector")      # X*w no longer fits
        settled(page)
        expect(page.locator("tr[data-name=X] input.dims")).to_have_value("n")
        expect(page.locator("#error")).to_contain_text("shape error")
        expect(page.locator(".result")).to_have_count(0)
    assert page.problems == []


def _error(text: str) -> matcalc.MatcalcError:
    try:
        matcalc.derive(text, wrt="X")
    except matcalc.MatcalcError as exc:
        return exc
    raise AssertionError(f"{text!r} parsed")
