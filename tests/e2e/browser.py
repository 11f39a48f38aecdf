"""Debian's Chromium, driven by Playwright's Python package."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from playwright.async_api import Browser, BrowserContext, Page, async_playwright
from playwright.async_api import Error as PlaywrightError

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps trying hosts this
# machine cannot reach.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 20_000


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """A headless Chromium for one test."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=ARGS, headless=True
        )
        try:
            yield browser
        finally:
            await browser.close()


async def open_controlled(context: BrowserContext, url: str) -> Page:
    """Open ``url`` in a new page and wait until a service worker controls it."""
    page = await context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    await page.goto(url)
    await wait_controlled(page)
    return page


async def wait_controlled(page: Page) -> None:
    """Wait until a service worker is active and controls ``page``."""
    # (evaluate() itself never times out: the promise gives up on its own.)
    await page.evaluate(
        """() => new Promise((resolve, reject) => {
            setTimeout(() => reject(new Error('no service worker took control')), 20000);
            navigator.serviceWorker.ready.then(() => {
                if (navigator.serviceWorker.controller) { resolve(true); return; }
                navigator.serviceWorker.addEventListener('controllerchange', () => resolve(true));
            });
        })"""
    )


async def wait_waiting_worker(page: Page) -> None:
    """Wait until an updated service worker is installed and waiting."""
    await page.evaluate(
        """() => navigator.serviceWorker.getRegistration().then((registration) =>
            new Promise((resolve, reject) => {
                const deadline = Date.now() + 15000;
                (function poll() {
                    if (registration.waiting) { resolve(true); return; }
                    if (Date.now() > deadline) { reject(new Error('no waiting worker')); return; }
                    registration.update().catch(() => {});
                    setTimeout(poll, 250);
                })();
            }))"""
    )


async def worker_version(page: Page) -> str:
    """The version of the service worker controlling ``page``."""
    version: str = await page.evaluate(
        """() => new Promise((resolve) => {
            const channel = new MessageChannel();
            channel.port1.onmessage = (event) => resolve(event.data);
            navigator.serviceWorker.controller.postMessage('quart-appcache:version', [channel.port2]);
        })"""
    )
    return version


# Records the page client's events from the first moment of every page.
RECORD_EVENTS = """
window.__appcacheEvents = [];
for (const name of ['offline-ready', 'update-ready', 'update-failed', 'queued', 'replayed',
                    'replay-failed']) {
    window.addEventListener('appcache:' + name, (event) => {
        window.__appcacheEvents.push({name, detail: event.detail});
    });
}
"""


async def prompt(page: Page) -> dict[str, object] | None:
    """What the ready-made prompt shows now: open, its text, its buttons, floating."""
    shown: dict[str, object] | None = await page.evaluate(
        """() => {
            const element = document.querySelector('appcache-prompt');
            if (!element || !element.shadowRoot) { return null; }
            const root = element.shadowRoot;
            return {
                open: element.hasAttribute('open'),
                text: root.querySelector('.text').textContent,
                actions: !root.querySelector('.actions').hidden,
                floating: element.hasAttribute('floating'),
            };
        }"""
    )
    return shown


async def wait_prompt(page: Page, text: str) -> None:
    """Wait until the prompt is open with ``text``."""
    await page.wait_for_function(
        """(text) => {
            const element = document.querySelector('appcache-prompt');
            return element && element.hasAttribute('open')
                && element.shadowRoot.querySelector('.text').textContent === text;
        }""",
        arg=text,
        timeout=TIMEOUT_MS,
    )


async def until(
    page: Page, condition: str, arg: object = None, limit_ms: float = TIMEOUT_MS
) -> None:
    """Poll ``condition`` (a function's source) with page.evaluate until it holds.

    (page.wait_for_function evaluates its predicate with eval, which a strict
    policy forbids, and does not await a promise; page.evaluate does both.)
    """
    deadline = asyncio.get_running_loop().time() + limit_ms / 1000
    while not await page.evaluate(condition, arg):
        assert asyncio.get_running_loop().time() < deadline, f"never held: {condition}"
        await asyncio.sleep(0.05)


async def events(page: Page) -> list[dict[str, object]]:
    """The page client's events this page saw so far, in order."""
    seen: list[dict[str, object]] = await page.evaluate("window.__appcacheEvents")
    return seen


async def wait_event(page: Page, name: str) -> dict[str, object]:
    """Wait until the page saw the event ``name``; its detail."""
    await page.wait_for_function(
        f"() => window.__appcacheEvents.some((e) => e.name === {name!r})", timeout=TIMEOUT_MS
    )
    detail: dict[str, object] = next(e for e in await events(page) if e["name"] == name)["detail"]  # type: ignore[assignment]
    return detail


async def wait_unregistered(page: Page) -> None:
    """Wait until the page's origin has no service worker registration left.

    The page may be reloaded meanwhile (the kill switch does that): the wait
    starts again in the new document.
    """
    for _ in range(5):
        try:
            await page.evaluate(
                """() => new Promise((resolve, reject) => {
                    const deadline = Date.now() + 15000;
                    (async function poll() {
                        if (!(await navigator.serviceWorker.getRegistration())) {
                            resolve(true);
                            return;
                        }
                        if (Date.now() > deadline) { reject(new Error('still registered')); return; }
                        setTimeout(poll, 100);
                    })();
                })"""
            )
            return
        except PlaywrightError as error:
            if "context was destroyed" not in str(error):
                raise
            await page.wait_for_load_state()
    raise AssertionError("the page kept navigating")


async def stop_workers(page: Page) -> None:
    """Stop the service worker, as browsers stop idle ones, and wait until it stopped."""
    cdp = await page.context.new_cdp_session(page)
    states: dict[str, str] = {}

    def seen(event: dict[str, Any]) -> None:
        for version in event["versions"]:
            states[version["versionId"]] = version["runningStatus"]

    cdp.on("ServiceWorker.workerVersionUpdated", seen)
    await cdp.send("ServiceWorker.enable")
    await cdp.send("ServiceWorker.stopAllWorkers")
    for _ in range(500):
        if states and all(state == "stopped" for state in states.values()):
            break
        await asyncio.sleep(0.01)
    else:
        raise AssertionError(f"the worker did not stop: {states}")
    await cdp.detach()
