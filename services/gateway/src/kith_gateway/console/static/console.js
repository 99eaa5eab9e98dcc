// Kith console: live regions refreshed from the account's event stream (/console/events).
// A page marks the region with id="live", names the event types that concern it in
// data-live-events and sets data-live-running="1" while the thing it shows is still moving.
// Without JavaScript the pages still work: reload to see progress.
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (!live) { return; }
  var pending = false;
  var source = null;
  var fallback = null;
  // Counts the stream's events that refreshed this page (the browser tests read it).
  window.kithLive = { events: 0 };

  function running() {
    return live.getAttribute("data-live-running") === "1";
  }

  function stop() {
    if (source) { source.close(); source = null; }
    if (fallback) { clearInterval(fallback); fallback = null; }
  }

  function refresh() {
    if (pending) { return; }
    pending = true;
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) { return response.text(); })
      .then(function (text) {
        var doc = new DOMParser().parseFromString(text, "text/html");
        var fresh = doc.getElementById("live");
        if (fresh) {
          live.innerHTML = fresh.innerHTML;
          live.setAttribute("data-live-running", fresh.getAttribute("data-live-running") || "0");
        }
        if (!running()) { stop(); }
      })
      .catch(function () { /* the next event or tick tries again */ })
      .then(function () { pending = false; });
  }

  if (!running()) { return; }
  var types = (live.getAttribute("data-live-events") || "").split(/\s+/).filter(Boolean);
  if (window.EventSource) {
    source = new EventSource("/console/events");
    types.forEach(function (type) {
      source.addEventListener(type, function () { window.kithLive.events += 1; refresh(); });
    });
  }
  // Progress events are throttled by their producers; a slow tick keeps the page honest if
  // the stream drops (for example behind a proxy that buffers it).
  fallback = setInterval(refresh, 4000);
}());
