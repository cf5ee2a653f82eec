// Caseguard console: small progressive enhancements. Every page works without this file.
(function () {
  "use strict";

  // Live countdowns: <span data-deadline="ISO 8601 UTC"> shows "31 h 12 min left" / "overdue by ...".
  function hm(ms) {
    var minutes = Math.round(Math.abs(ms) / 60000);
    var m = minutes % 60;
    return Math.floor(minutes / 60) + " h " + (m < 10 ? "0" : "") + m + " min";
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-deadline]").forEach(function (el) {
      var left = Date.parse(el.getAttribute("data-deadline")) - now;
      if (isNaN(left)) { return; }
      el.textContent = left > 0 ? hm(left) + " left" : "overdue by " + hm(left);
      el.classList.toggle("overdue", left <= 0);
    });
  }
  tick();
  window.setInterval(tick, 30000);

  // Ask before a step that cannot be undone: <form data-confirm="Revoke LAPTOP-1?">.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });

  // A "Print" button on the printable ICO draft.
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });

  // Open the action whose form had an error, and move focus to its message.
  var failed = document.querySelector("[data-failed]");
  if (failed) {
    var details = failed.closest("details");
    if (details) { details.open = true; }
    failed.setAttribute("tabindex", "-1");
    failed.focus();
  }
})();
