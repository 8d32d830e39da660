// Live progress on the sync pages. Progressive enhancement only: without this file the pages
// show the state at the moment they were loaded (reload for more).
//
// Rows and cards of runs still queued or running carry data-run="<id>" data-active="1"; every
// two seconds this asks the page's progress URL (data-sync-progress-url) about them and
// updates the elements marked data-field="…" inside. It stops when no run on the page is
// active, and waits while the tab is hidden.
(function () {
  "use strict";

  var root = document.querySelector("[data-sync-progress-url]");
  if (!root || !window.fetch) return;
  var url = root.getAttribute("data-sync-progress-url");
  var EVERY = 2000;
  var AFTER_ERROR = 10000;
  var BAR_STATES = ["bg-success", "bg-warning", "bg-danger", "progress-bar-striped", "progress-bar-animated"];

  function activeIds() {
    var ids = [];
    document.querySelectorAll("[data-run][data-active='1']").forEach(function (el) {
      var id = el.getAttribute("data-run");
      if (ids.indexOf(id) < 0) ids.push(id);
    });
    return ids;
  }

  function show(run) {
    document.querySelectorAll("[data-run='" + run.id + "']").forEach(function (el) {
      el.setAttribute("data-active", run.finished ? "0" : "1");
      el.querySelectorAll("[data-field]").forEach(function (field) {
        var name = field.getAttribute("data-field");
        if (name === "bar") {
          // Widths are classes (accord.css): the Content-Security-Policy refuses style attributes.
          field.className = field.className.replace(/\bpct-\d+\b/g, "").trim();
          field.classList.add("pct-" + Math.max(0, Math.min(100, Math.round(run.percent))));
          if (field.parentElement) field.parentElement.setAttribute("aria-valuenow", run.percent);
          BAR_STATES.forEach(function (c) { field.classList.remove(c); });
          if (!run.finished) {
            field.classList.add("progress-bar-striped", "progress-bar-animated");
          } else {
            field.classList.add(run.state === "failed" ? "bg-danger" : run.state === "partial" ? "bg-warning" : "bg-success");
          }
        } else if (name === "state") {
          field.textContent = run.state_label;
          field.className = "badge " + run.state_class;
        } else if (Object.prototype.hasOwnProperty.call(run, name)) {
          var value = run[name];
          field.textContent = typeof value === "number" ? value.toLocaleString("en-US") : value;
        }
      });
    });
    document.querySelectorAll("[data-run-message='" + run.id + "']").forEach(function (el) {
      if (run.message) el.textContent = run.message;
    });
  }

  function poll() {
    var ids = activeIds();
    if (!ids.length) return;
    if (document.hidden) {
      later(EVERY);
      return;
    }
    var query = ids.map(function (id) { return "id=" + encodeURIComponent(id); }).join("&");
    fetch(url + "?" + query, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (data) {
        data.runs.forEach(show);
        later(EVERY);
      })
      .catch(function () { later(AFTER_ERROR); });
  }

  function later(delay) { window.setTimeout(poll, delay); }

  later(EVERY);
})();
