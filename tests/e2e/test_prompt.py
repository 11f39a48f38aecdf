"""The ready-made prompt (APPCACHE_SW_PROMPT) in real Chromium, on both examples, under
``Content-Security-Policy: default-src 'self'``: offline ready once, an update with
Reload and Later, keyboard use, no CSP violation, no axe-core violation."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, Page

from .browser import RECORD_EVENTS, open_controlled, prompt, until
from .npm_packages import axe_source
from .servers import copy_example, free_port, serve
from .test_updates import count_navigations, sw_version

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.asyncio(loop_scope="session")]

CSP = "default-src 'self'"
# The example behind a strict policy: no inline script or style anywhere.
STRICT_APP = """
from {module} import app as inner


async def app(scope, receive, send):
    async def strict(message):
        if message["type"] == "http.response.start":
            headers = [*message.get("headers", []), (b"content-security-policy", {csp!r})]
            message = {{**message, "headers": headers}}
        await send(message)

    await inner(scope, receive, strict)
"""
# A Quart page that does not place the prompt: it floats.
BARE_PAGE = """

from quart import render_template_string


@inner.route("/bare")
async def bare():
    return await render_template_string(
        '<!doctype html><html lang="en"><head><title>Bare</title>{{ appcache_head() }}</head>'
        '<body><main><h1>Bare</h1></main></body></html>'
    )
"""
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', (event) => {
    window.__violations.push(event.violatedDirective + ' ' + event.blockedURI);
});
"""


async def wait_prompt(page: Page, text: str) -> None:
    await until(
        page,
        """(text) => {
            const element = document.querySelector('appcache-prompt');
            return Boolean(element && element.hasAttribute('open')
                && element.shadowRoot.querySelector('.text').textContent === text);
        }""",
        text,
    )


async def violations(page: Page) -> list[str]:
    found: list[str] = await page.evaluate("window.__violations")
    return found


async def axe(page: Page, source: str) -> list[str]:
    """axe-core's WCAG 2.1 A and AA violations on the page, as 'rule: target' lines."""
    # (Evaluated through DevTools, so the page's CSP neither blocks nor reports it.)
    await page.evaluate(source + "\n;undefined")
    found: list[str] = await page.evaluate(
        """() => axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa']}})
            .then((result) => result.violations.map(
                (v) => v.id + ': ' + v.nodes.map((n) => JSON.stringify(n.target)).join(', ')))"""
    )
    return found


async def focused(page: Page) -> str:
    """The focused element, through the prompt's shadow root: 'APPCACHE-PROMPT .reload'."""
    shown: str = await page.evaluate(
        """() => {
            const outer = document.activeElement;
            const inner = outer && outer.shadowRoot && outer.shadowRoot.activeElement;
            return outer.tagName + (inner ? ' .' + inner.className : '');
        }"""
    )
    return shown


@pytest.mark.parametrize("module", ["app", "fastapi_app"])
async def test_the_prompt_under_a_strict_csp(browser: Browser, tmp_path: Path, module: str) -> None:
    root = copy_example(tmp_path / "example")
    source = STRICT_APP.format(module=module, csp=CSP.encode())
    (root / "strict_app.py").write_text(source + (BARE_PAGE if module == "app" else ""))
    port = free_port()
    context = await browser.new_context(reduced_motion="reduce")
    await context.add_init_script(RECORD_EVENTS)
    await context.add_init_script(RECORD_VIOLATIONS)
    with serve(root, module="strict_app:app", port=port) as server:
        page = await open_controlled(context, server.url + "/")
        csp = (await page.request.get(server.url + "/")).headers["content-security-policy"]
        assert csp == CSP
        # Offline ready: once per installation, no buttons, then it goes by itself.
        await until(page, "() => window.__appcacheEvents.some((e) => e.name === 'offline-ready')")
        await wait_prompt(page, "Ready to work offline.")
        assert await prompt(page) == {
            "open": True,
            "text": "Ready to work offline.",
            "actions": False,
            "floating": False,  # the example places <appcache-prompt> itself
        }
        await until(
            page,
            "() => !document.querySelector('appcache-prompt').hasAttribute('open')",
            None,
            15_000,
        )
        await page.reload()
        await until(page, "() => window.appcache.state.status === 'offline-ready'")
        assert (await prompt(page) or {}).get("open") is False
        other = await open_controlled(context, server.url + "/offline")

    script = root / "static" / "js" / "app.js"
    script.write_text(script.read_text().replace("script version 1", "script version 2"))
    with serve(root, module="strict_app:app", port=port) as server:
        second = sw_version(server.url)
        assert await page.evaluate("window.appcache.update()") is True
        await wait_prompt(page, "A new version is available.")
        await wait_prompt(other, "A new version is available.")
        assert (await prompt(page) or {})["actions"] is True
        # Reduced motion: no animation.
        animation = await page.evaluate(
            "getComputedStyle(document.querySelector('appcache-prompt')"
            ".shadowRoot.querySelector('.box')).animationName"
        )
        assert animation == "none"
        assert await axe(page, axe_source()) == []

        # Later hides it until the next version.
        await other.click("appcache-prompt .dismiss")
        assert (await prompt(other) or {})["open"] is False
        replay = "(v) => window.dispatchEvent(new CustomEvent('appcache:update-ready', {detail: {version: v}}))"
        await other.evaluate(replay, second)
        assert (await prompt(other) or {})["open"] is False
        await other.evaluate(replay, "a-later-version")
        assert (await prompt(other) or {})["open"] is True

        # By keyboard: Tab reaches Reload, Enter reloads this tab once, onto version 2.
        navigations = count_navigations(page)
        await page.bring_to_front()
        for _ in range(20):
            if await focused(page) == "APPCACHE-PROMPT .reload":
                break
            await page.keyboard.press("Tab")
        assert await focused(page) == "APPCACHE-PROMPT .reload"
        await page.keyboard.press("Enter")
        await page.wait_for_selector("#script-status:text('script version 2')")
        assert navigations == [server.url + "/"]
        assert await page.evaluate("window.appcache.version()") == second
        assert (await prompt(page) or {}).get("open") is False
        assert await violations(page) == []
        assert await violations(other) == []
        if module == "app":
            # Where the page places none, the client adds one that floats.
            bare = await context.new_page()
            await bare.goto(server.url + "/bare")
            await until(bare, "() => Boolean(document.querySelector('appcache-prompt[floating]'))")
            position = await bare.evaluate(
                "getComputedStyle(document.querySelector('appcache-prompt')).position"
            )
            assert position == "fixed"
            assert await violations(bare) == []
    await context.close()
