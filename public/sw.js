// longpoll-chat's service worker: shows the server's Web Push messages while no page shows
// the chat, and opens the room when one is clicked. No fetch handler: the chat is live or not
// at all, nothing is served from a cache.
//
// A push is JSON: {"room","title","body","sender","id","count","url"}. Its tag is the room,
// so a newer message of a room replaces the older one (and the page's own notification of it,
// which uses the same tag).

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("push", (event) => {
  let push = {};
  try {
    push = event.data ? event.data.json() : {};
  } catch (_) {
    // Not JSON: still say something arrived rather than nothing (browsers punish silence).
  }
  const room = typeof push.room === "string" ? push.room : "";
  event.waitUntil(
    self.registration.showNotification(push.title || "New message", {
      body: push.body || "",
      tag: room || "longpoll-chat",
      renotify: true,
      icon: "/icon-192.png",
      data: { url: sameOriginUrl(push.url, room) },
    }),
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = (event.notification.data && event.notification.data.url) || "/";
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((pages) => {
      if (pages.length === 0) return self.clients.openWindow(url);
      // `navigate` works on the pages this worker controls only: another one gets a new window.
      return pages[0]
        .focus()
        .then((page) => page.navigate(url))
        .catch(() => self.clients.openWindow(url));
    }),
  );
});

// Only a path of this site: a push names a room, never another site.
function sameOriginUrl(url, room) {
  try {
    const parsed = new URL(url, self.location.origin);
    if (parsed.origin === self.location.origin) return parsed.pathname + parsed.search;
  } catch (_) {
    // fall through
  }
  return room ? "/room/" + encodeURIComponent(room) : "/";
}
