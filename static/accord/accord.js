// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";

  // Ask before irreversible actions: <form data-confirm="…"> (withdraw) asks whichever button
  // sends it, <button data-confirm="…"> (reject) asks only when that button is the one.
  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    var question = (button && button.dataset.confirm) || event.target.dataset.confirm;
    if (question && !window.confirm(question)) event.preventDefault();
  });

  // Nominate form: hide the tier for a removal, and warn at once when a full tier is chosen
  // (the server repeats the same check on "Check" and refuses a full tier at approval).
  var form = document.getElementById("nomination-form");
  if (!form) return;
  var kind = form.querySelector("[name=kind]");
  var tier = form.querySelector("[name=tier]");
  var tierGroup = document.getElementById("tier-group");
  var liveWarning = document.getElementById("tier-full-live");
  function update() {
    var removing = kind && kind.value === "remove";
    if (tierGroup) tierGroup.hidden = removing;
    if (!liveWarning || !tier) return;
    var option = tier.options[tier.selectedIndex];
    var full = !removing && option && option.dataset.full === "1";
    liveWarning.hidden = !full;
    if (full) liveWarning.textContent = option.dataset.fullMessage;
  }
  if (kind) kind.addEventListener("change", update);
  if (tier) tier.addEventListener("change", update);
  update();
})();
