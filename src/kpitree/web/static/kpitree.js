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
    if (isLive(asker(event))) return; // the stale notice says it (below)
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
  document.addEventListener("htmx:sendError", function (event) {
    if (isLive(asker(event))) return;
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

  // -- A live refresh that fails ------------------------------------------------
  // An element that refreshes itself on new data (its hx-trigger names
  // kpitree:data-changed) keeps its last good content when that request fails
  // (htmx swaps nothing on an error). The page then dims it and says since when
  // its figures are not updated, what failed and what to do (#kt-stale, texts
  // from the catalogs in #kt-live-text), and tries again by itself: after 2 s,
  // 4 s, 8 s ... at most 30 s apart (a 503's Retry-After when it gives
  // one), at once when the event stream reconnects or new data arrives, or when
  // the user asks. The first refresh that succeeds ends it.
  var RETRY_FIRST_MS = 2000;
  var RETRY_MAX_MS = 30000;
  var stale = { failing: {}, since: Date.now(), attempts: 0, due: 0, timer: null, tick: null, news: false };
  var texts = null;

  function isLive(elt) {
    var trigger = elt && elt.getAttribute ? elt.getAttribute("hx-trigger") || "" : "";
    return trigger.indexOf("kpitree:data-changed") >= 0;
  }

  function text(key, params) {
    if (texts === null) {
      var source = document.getElementById("kt-live-text");
      texts = source ? JSON.parse(source.textContent) : {};
    }
    return (texts[key] || key).replace(/\{(\w+)\}/g, function (all, name) {
      return params && params[name] !== undefined ? String(params[name]) : all;
    });
  }

  function clock(when) {
    var lang = document.documentElement.lang || "ja";
    var time = { hour: "2-digit", minute: "2-digit" };
    var day = new Date(when).toDateString() === new Date().toDateString();
    var shown = day ? time : { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" };
    return new Intl.DateTimeFormat(lang, shown).format(new Date(when));
  }

  // What failed, from the answer (never its text: only our code and the
  // server's message code, which the server's own error page also shows).
  function cause(xhr) {
    var status = xhr ? xhr.status : 0;
    if (!status) return { code: "KT131", key: "web.live.stale.unreachable" };
    var body = xhr.responseText || "";
    var found = /data-code="(KT[0-9]{3})"/.exec(body.slice(0, 2000));
    var said = found ? found[1] : "";
    var retry = parseInt(xhr.getResponseHeader("retry-after") || "", 10);
    var known = {
      401: ["KT132", "web.live.stale.signed_out"],
      403: ["KT133", "web.live.stale.forbidden"],
      404: ["KT134", "web.live.stale.gone"],
      503: ["KT136", "web.live.stale.busy"],
    }[status];
    var pair = known || (status >= 500 ? ["KT137", "web.live.stale.server"] : ["KT135", "web.live.stale.refused"]);
    return { code: pair[0], key: pair[1], status: status, said: said, retryMs: retry > 0 ? retry * 1000 : 0 };
  }

  function staleBox() {
    return document.getElementById("kt-stale");
  }

  function showStale(found) {
    var box = staleBox();
    if (!box) return;
    var part = function (name) { return box.querySelector('[data-part="' + name + '"]'); };
    part("since").textContent = text("web.live.stale.since", { at: clock(stale.since) });
    part("cause").textContent = text(found.key, { status: found.status, code: found.said || "HTTP " + found.status });
    part("code").textContent = found.said ? found.code + " · " + found.said : found.code;
    box.setAttribute("data-code", found.code);
    box.hidden = false;
    var banner = document.getElementById("kt-live");
    if (banner) banner.hidden = true; // not "updated": it was not
  }

  function countdown() {
    var box = staleBox();
    if (!box || box.hidden) return;
    var seconds = Math.max(0, Math.ceil((stale.due - Date.now()) / 1000));
    box.querySelector('[data-part="retry"]').textContent = seconds > 0
      ? text("web.live.stale.retry_in", { seconds: seconds })
      : text("web.live.stale.retrying");
  }

  function retryNow() {
    window.clearTimeout(stale.timer);
    stale.timer = null;
    stale.due = Date.now();
    countdown();
    // The same event new data sends: every live element fetches itself again
    // (page scripts' onDataChanged listeners are not called: nothing is new).
    if (window.htmx) window.htmx.trigger(document.body, "kpitree:data-changed", { version: api.version, retry: true });
  }

  function failed(elt, xhr) {
    var key = elt.id || "page";
    var found = cause(xhr);
    stale.failing[key] = found;
    elt.classList.add("kt-stale-content");
    elt.setAttribute("data-stale", found.code);
    stale.attempts += 1;
    // Backoff doubling from 2 s to 30 s, a fifth of it random (many open
    // dashboards do not come back at the same instant).
    var wait = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * Math.pow(2, stale.attempts - 1));
    wait = Math.max(found.retryMs || 0, wait * (0.9 + Math.random() * 0.2));
    window.clearTimeout(stale.timer);
    stale.due = Date.now() + wait;
    stale.timer = window.setTimeout(retryNow, wait);
    showStale(found);
    countdown();
    if (!stale.tick) stale.tick = window.setInterval(countdown, 1000);
  }

  function succeeded(key) {
    if (!(key in stale.failing)) {
      if (isStale()) return;
      stale.since = Date.now();
      if (stale.news) announce();
      stale.news = false;
      return;
    }
    delete stale.failing[key];
    if (Object.keys(stale.failing).length) return;
    window.clearTimeout(stale.timer);
    window.clearInterval(stale.tick);
    stale.timer = stale.tick = null;
    stale.attempts = 0;
    stale.since = Date.now();
    stale.news = false;
    var box = staleBox();
    if (box) box.hidden = true;
    announce();
  }

  function isStale() {
    return Object.keys(stale.failing).length > 0;
  }

  // The element that asked (after an outerHTML swap, htmx fires afterRequest
  // on where it was, its parent).
  function asker(event) {
    var config = event.detail.requestConfig;
    return (config && config.elt) || event.detail.elt;
  }
  document.addEventListener("htmx:responseError", function (event) {
    var elt = asker(event);
    if (isLive(elt)) failed(elt, event.detail.xhr);
  });
  document.addEventListener("htmx:sendError", function (event) {
    var elt = asker(event);
    if (isLive(elt)) failed(elt, null);
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var elt = asker(event);
    if (event.detail.successful && isLive(elt)) succeeded(elt.id || "page");
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest('#kt-stale [data-part="now"]');
    if (button) retryNow();
  });
  window.addEventListener("online", function () { if (isStale()) retryNow(); });

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
    // A page that fetches itself says "updated" once it has (succeeded, above).
    if (document.querySelector('[hx-trigger*="kpitree:data-changed"]')) stale.news = true;
    else announce();
  }

  function pagesReady(detail) {
    if (!document.querySelector("[data-updating]")) return;
    if (window.htmx) window.htmx.trigger(document.body, "kpitree:pages-ready", detail);
  }

  function connect() {
    // Only pages for a logged-in user (or a server without users) listen.
    var stream = document.body && document.body.getAttribute("data-live");
    if (!window.EventSource || !stream) return;
    listen(stream, 0);
    // Should that news arrive before the page did, ask again every few seconds.
    window.setInterval(function () { pagesReady({ version: api.version }); }, 3000);
  }

  function listen(stream, failures) {
    var source = new EventSource(stream);
    source.addEventListener("hello", function (event) {
      var detail = JSON.parse(event.data);
      failures = 0;
      // A version that moved while the stream was down is news too.
      if (api.version !== null && detail.version !== api.version) dataChanged(detail);
      else if (isStale()) retryNow(); // the server is back: try now, not at the next step
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
    // EventSource reconnects by itself after a lost connection, but gives up for
    // good on an answer that is not a stream (an error while kpitree.yaml is
    // broken, a proxy's page): then open a new one, 2 s, 4 s ... 30 s later.
    source.addEventListener("error", function () {
      if (source.readyState !== EventSource.CLOSED) return;
      var wait = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * Math.pow(2, failures));
      window.setTimeout(function () { listen(stream, failures + 1); }, wait);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", connect);
  } else {
    connect();
  }
})();
