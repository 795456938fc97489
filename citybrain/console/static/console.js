// Citybrain console: the clocks count down between page loads. Without this script the
// page still shows each deadline and the time left when it was sent.
"use strict";
(function () {
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function span(ms) {
    var s = Math.floor(Math.abs(ms) / 1000), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    return (h > 0 ? h + ":" + pad(m) : m) + ":" + pad(s % 60);
  }
  function tick() {
    var now = Date.now(), offset = Number(document.body.dataset.clockOffset || 0);
    document.querySelectorAll("[data-deadline]").forEach(function (el) {
      if (el.dataset.stopped === "true") { return; }
      var left = Date.parse(el.dataset.deadline) - (now + offset);
      var value = el.querySelector(".clock");
      if (!value) { return; }
      value.textContent = (left < 0 ? el.dataset.overdue : el.dataset.left).replace("{time}", span(left));
      value.classList.toggle("overdue", left < 0);
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var server = document.body.dataset.serverNow;
    // The server's clock rules: the phone's may be wrong by minutes.
    if (server) { document.body.dataset.clockOffset = String(Date.parse(server) - Date.now()); }
    tick();
    window.setInterval(tick, 1000);
  });
})();
