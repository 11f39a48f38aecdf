"""Debian's Chromium, driven by Playwright's Python package."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from playwright.async_api import Browser, BrowserContext, Page, async_playwright

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
    await page.evaluate(
        """() => navigator.serviceWorker.ready.then(() => new Promise((resolve) => {
            if (navigator.serviceWorker.controller) { resolve(true); return; }
            navigator.serviceWorker.addEventListener('controllerchange', () => resolve(true));
        }))"""
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
