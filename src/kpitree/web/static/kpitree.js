/* kpitree page runtime (no build step, no external loads).
 *
 * window.kpitree.onDataChanged(fn)  fn({version}) runs on every server-sent
 *                                   `data-changed` event (new data in the warehouse).
 * A page marked as updating (`data-updating`: it shows the previous data) gets
 * the htmx event `kpitree:pages-ready` on every server-sent `pages-ready`.
 * window.kpitree.csrfToken()        the CSRF token from <meta name="csrf-token">.
 * window.kpitree.version            the last data version seen.
 *
 * Every state-changing request made through htmx or fetch() carries the
 * X-CSRF-Token header. On new data the htmx event `kpitree:data-changed` is also
 * triggered on <body>, so an element can refresh itself with
 * hx-trigger="kpitree:data-changed from:body".
 */
(function () {
  "use strict";
  var UNSAFE = { POST: 1, PUT: 1, PATCH: 1, DELETE: 1 };
  var listeners = [];

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function sameOrigin(url) {
    if (url === null) return false;
    try {
      return new URL(url, window.location.href).origin === window.location.origin;
    } catch (e) {
      return false;
    }
  }

  // fetch(): add the header to same-origin state-changing requests.
  var originalFetch = window.fetch.bind(window);
  window.fetch = function (input, init) {
    init = init || {};
    var method = (init.method || (input && input.method) || "GET").toUpperCase();
    // A string, a URL object or a Request: anything else is not known to be ours.
    var url =
      typeof input === "string"
        ? input
        : input instanceof URL
          ? input.href
          : input && typeof input.url === "string"
            ? input.url
            : null;
    if (UNSAFE[method] && sameOrigin(url)) {
      var headers = new Headers(init.headers || (input && input.headers) || {});
      if (!headers.has("X-CSRF-Token")) headers.set("X-CSRF-Token", csrfToken());
      init.headers = headers;
    }
    return originalFetch(input, init);
  };

  // htmx: the same header on every state-changing request.
  document.addEventListener("htmx:configRequest", function (event) {
    var verb = (event.detail.verb || "get").toUpperCase();
    if (UNSAFE[verb]) event.detail.headers["X-CSRF-Token"] = csrfToken();
  });

  // A failed htmx request shows the server's message (an HTML fragment or the
  // JSON error shape) in a toast instead of silently doing nothing.
  function toast(text, html) {
    var box = document.getElementById("kt-toast");
    if (!box) return;
    if (html) {
      box.innerHTML = html; // the server's fragment, escaped on the server
    } else {
      box.textContent = text;
    }
    box.hidden = false;
    window.clearTimeout(toast.timer);
    toast.timer = window.setTimeout(function () { box.hidden = true; }, 8000);
  }
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    var type = xhr.getResponseHeader("content-type") || "";
    if (type.indexOf("application/json") === 0) {
      try {
        toast(JSON.parse(xhr.responseText).error.message);
        return;
      } catch (e) { /* fall through to the raw text */ }
    }
    if (type.indexOf("text/html") === 0 && xhr.responseText.indexOf("<html") < 0) {
      toast(null, xhr.responseText);
    } else {
      toast("HTTP " + xhr.status);
    }
  });
  document.addEventListener("htmx:sendError", function () {
    var box = document.getElementById("kt-toast");
    toast(box ? box.getAttribute("data-offline") : "offline");
  });

  // A part of the Data page's preview paged in place: htmx keeps the focus on
  // the link pressed (same id); on the first or last page that link is gone,
  // so the focus goes to the part's pager rather than to the top of the page.
  document.addEventListener("htmx:afterSettle", function (event) {
    var part = event.detail.elt;
    if (!part || !part.classList || !part.classList.contains("kt-preview-part")) return;
    if (document.activeElement && document.activeElement !== document.body) return;
    var link = part.querySelector("[data-pager] a, [data-pager] input");
    if (link) link.focus();
  });

  var api = {
    version: null,
    csrfToken: csrfToken,
    onDataChanged: function (fn) {
      if (typeof fn === "function") listeners.push(fn);
    },
  };
  window.kpitree = api;

  function announce() {
    var banner = document.getElementById("kt-live");
    if (!banner) return;
    banner.hidden = false;
    window.clearTimeout(announce.timer);
    announce.timer = window.setTimeout(function () { banner.hidden = true; }, 4000);
  }

  function dataChanged(detail) {
    api.version = detail.version;
    listeners.forEach(function (fn) {
      try {
        fn(detail);
      } catch (e) {
        console.error(e);
      }
    });
    if (window.htmx) window.htmx.trigger(document.body, "kpitree:data-changed", detail);
    announce();
  }

  function pagesReady(detail) {
    if (!document.querySelector("[data-updating]")) return;
    if (window.htmx) window.htmx.trigger(document.body, "kpitree:pages-ready", detail);
  }

  function connect() {
    // Only pages for a logged-in user (or a server without users) listen.
    var stream = document.body && document.body.getAttribute("data-live");
    if (!window.EventSource || !stream) return;
    var source = new EventSource(stream);
    source.addEventListener("hello", function (event) {
      var detail = JSON.parse(event.data);
      // A version that moved while the stream was down is news too.
      if (api.version !== null && detail.version !== api.version) dataChanged(detail);
      api.version = detail.version;
    });
    source.addEventListener("data-changed", function (event) {
      dataChanged(JSON.parse(event.data));
    });
    // A page showing the previous data (marked as updating) fetches itself
    // again when one of the new data's pages is ready.
    source.addEventListener("pages-ready", function (event) {
      pagesReady(JSON.parse(event.data));
    });
    // Should that news arrive before the page did, ask again every few seconds.
    window.setInterval(function () { pagesReady({ version: api.version }); }, 3000);
    // EventSource reconnects by itself after a server restart.
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", connect);
  } else {
    connect();
  }
})();
