// Duplicates page: dismiss in place (the card leaves, the page stays where it is) and, after
// "Scan now", refresh the list when the account's event stream says dedup.scan.completed.
// Without JavaScript both still work: dismiss returns to the same page, reload after a scan.
(function () {
  "use strict";
  var list = document.getElementById("duplicates");
  window.kithDuplicates = { dismissed: 0, scans: 0 };

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.classList || !form.classList.contains("dismiss")) { return; }
    event.preventDefault();
    fetch(form.action, { method: "POST", body: new FormData(form), credentials: "same-origin", redirect: "manual" })
      .then(function (response) {
        if (response.type === "opaqueredirect" || response.ok) {
          var card = form.closest(".pair");
          if (card) { card.remove(); }
          window.kithDuplicates.dismissed += 1;
        } else {
          form.submit();
        }
      })
      .catch(function () { form.submit(); });
  });

  // The page says whether the scan it asked for has finished (data-state). Re-read it when
  // the stream opens (a quick scan may finish before this page listens), on each
  // dedup.scan.completed, and on a slow tick should the stream drop.
  var banner = document.getElementById("scan-running");
  if (!list || !banner || banner.getAttribute("data-state") !== "running") { return; }
  var source = window.EventSource ? new EventSource("/console/events") : null;
  var tick = setInterval(check, 4000);
  var busy = false;

  function check() {
    if (busy) { return; }
    busy = true;
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) { return response.text(); })
      .then(function (text) {
        var doc = new DOMParser().parseFromString(text, "text/html");
        var state = doc.getElementById("scan-running");
        if (!state || state.getAttribute("data-state") !== "done") { return; }
        var fresh = doc.getElementById("duplicates");
        if (fresh) { list.innerHTML = fresh.innerHTML; }
        var bands = doc.getElementById("bands");
        var mine = document.getElementById("bands");
        if (bands && mine) { mine.innerHTML = bands.innerHTML; }
        banner.textContent = state.textContent;
        banner.setAttribute("data-state", "done");
        window.kithDuplicates.scans += 1;
        if (source) { source.close(); }
        clearInterval(tick);
      })
      .catch(function () { /* the next event or tick tries again */ })
      .then(function () { busy = false; });
  }

  if (source) {
    source.addEventListener("open", check);
    source.addEventListener("dedup.scan.completed", check);
  }
}());
