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

  var banner = document.getElementById("scan-running");
  if (!list || !banner || !window.EventSource) { return; }
  var source = new EventSource("/console/events");
  source.addEventListener("dedup.scan.completed", function () {
    source.close();
    window.kithDuplicates.scans += 1;
    var url = new URL(window.location.href);
    url.searchParams.delete("scan");
    fetch(url.toString(), { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) { return response.text(); })
      .then(function (text) {
        var doc = new DOMParser().parseFromString(text, "text/html");
        var fresh = doc.getElementById("duplicates");
        if (fresh) { list.innerHTML = fresh.innerHTML; }
        var bands = doc.getElementById("bands");
        var mine = document.getElementById("bands");
        if (bands && mine) { mine.innerHTML = bands.innerHTML; }
        banner.textContent = "Scan finished; the list is up to date.";
        banner.setAttribute("data-state", "done");
        window.history.replaceState(null, "", url.toString());
      });
  });
}());
