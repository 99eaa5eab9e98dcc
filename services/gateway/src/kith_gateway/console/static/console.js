// Kith console: live regions refreshed from the account's event stream (/console/events).
// A page marks the region with id="live", names the event types that concern it in
// data-live-events and sets data-live-running="1" while the thing it shows is still moving.
// Without JavaScript the pages still work: reload to see progress.
// A table wider than a phone scrolls sideways inside its box; keyboard users must be able to
// scroll it too, so a scrolling box with nothing focusable inside becomes focusable itself.
// Run on load and again whenever a live region is refreshed.
function kithFocusableScrollers() {
  "use strict";
  var boxes = document.querySelectorAll(".table-wrap, main table");
  Array.prototype.forEach.call(boxes, function (box) {
    var scrolls = box.scrollWidth > box.clientWidth || box.scrollHeight > box.clientHeight;
    if (scrolls && !box.querySelector("a, button, input, select, textarea, [tabindex]")) {
      box.setAttribute("tabindex", "0");
    }
  });
}
kithFocusableScrollers();

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
          kithFocusableScrollers();
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

// Type-to-filter for long option lists (the phone regions): an input with data-filter="ID"
// hides the options of select#ID whose label does not contain what was typed. Without
// JavaScript the input stays hidden and the select works as it is.
(function () {
  "use strict";
  Array.prototype.forEach.call(document.querySelectorAll("input[data-filter]"), function (input) {
    var select = document.getElementById(input.getAttribute("data-filter"));
    if (!select) { return; }
    input.hidden = false;
    input.addEventListener("input", function () {
      var wanted = input.value.trim().toLowerCase();
      var first = null;
      Array.prototype.forEach.call(select.options, function (option) {
        var shown = !wanted || option.text.toLowerCase().indexOf(wanted) !== -1;
        option.hidden = !shown;
        if (shown && first === null) { first = option; }
      });
      if (first && select.selectedOptions.length && select.selectedOptions[0].hidden) {
        first.selected = true;
      }
    });
  });
}());
