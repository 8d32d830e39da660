// Live progress on a CSV import's page (admin: accounts and activities). Progressive
// enhancement only: without this file the page reloads itself every few seconds (a <noscript>
// refresh) and has a reload link.
//
// While the import is checking or importing, this asks the page's progress URL
// (data-import-progress-url) every second and updates the elements marked data-field="…";
// when the state changes (checked, imported, failed) it reloads the page, which then shows
// the preview or the result. It waits while the tab is hidden.
(function () {
  "use strict";

  var root = document.querySelector("[data-import-progress-url]");
  if (!root || !window.fetch) return;
  var url = root.getAttribute("data-import-progress-url");
  var state = root.getAttribute("data-state");
  var EVERY = 1000;
  var AFTER_ERROR = 10000;

  function show(data) {
    root.querySelectorAll("[data-field]").forEach(function (field) {
      var name = field.getAttribute("data-field");
      if (name === "bar") {
        field.setAttribute("max", data.total);
        field.setAttribute("value", data.done);
        field.textContent = data.percent + "%";
      } else if (Object.prototype.hasOwnProperty.call(data, name)) {
        var value = data[name];
        field.textContent = typeof value === "number" ? value.toLocaleString("en-US") : value;
      }
    });
  }

  function poll() {
    if (document.hidden) {
      later(EVERY);
      return;
    }
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (data) {
        if (data.state !== state) {
          window.location.reload();
          return;
        }
        show(data);
        later(EVERY);
      })
      .catch(function () { later(AFTER_ERROR); });
  }

  function later(delay) { window.setTimeout(poll, delay); }

  later(EVERY);
})();
