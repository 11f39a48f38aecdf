/* The kill switch of quart_appcache (APPCACHE_SW_UNREGISTER = True).
 *
 * Served in place of the worker, it takes over at once, deletes every cache
 * this project's workers made for this scope (the precache and any runtime
 * caches), unregisters itself and reloads each page it controlled, once, so
 * that the pages come from the network again. Nobody is left stuck.
 */
'use strict';

// This scope's caches: the precache and its sub-caches (runtime rules), never
// those of an app under a longer scope on the same origin (/b/ under /).
const CACHE_NAME = 'quart-appcache:' + self.registration.scope;
const ours = (name) => name === CACHE_NAME || name.startsWith(CACHE_NAME + ':');

self.addEventListener('install', (event) => {
  event.waitUntil(self.skipWaiting());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    const names = await caches.keys();
    await Promise.all(names.filter(ours)
      .map((name) => caches.delete(name)));
    await self.clients.claim();
    await self.registration.unregister();
    const pages = await self.clients.matchAll({type: 'window'});
    await Promise.all(pages.map((page) => page.navigate(page.url).catch(() => undefined)));
  })());
});

self.addEventListener('message', (event) => {
  if (event.data === 'quart-appcache:version' && event.ports[0]) {
    event.ports[0].postMessage(null);
  }
});
