// switchyard dashboard: the little script the server-rendered pages use. Live refresh of marked
// regions, copy buttons, confirmation before destructive forms, account-kind field hints.
"use strict";
(function () {
  // <section data-refresh="/dashboard/live" data-every="5">: replaced with the server's fresh
  // HTML every few seconds; a failed fetch keeps the last figures and says so.
  function refresh(region) {
    var every = Math.max(2, parseInt(region.getAttribute("data-every") || "5", 10)) * 1000;
    var status = document.getElementById(region.getAttribute("data-status") || "");
    function tick() {
      fetch(region.getAttribute("data-refresh"), { credentials: "same-origin", headers: { accept: "text/html" } })
        .then(function (r) {
          if (r.status === 401 || r.redirected) { window.location.assign("/dashboard/login"); return null; }
          if (!r.ok) { throw new Error("status " + r.status); }
          return r.text();
        })
        .then(function (html) {
          if (html === null) { return; }
          region.innerHTML = html;
          if (status) { status.textContent = "Updated " + new Date().toLocaleTimeString(); }
        })
        .catch(function (e) {
          if (status) { status.textContent = "Could not refresh (" + e.message + "); retrying"; }
        })
        .then(function () { window.setTimeout(tick, every); });
    }
    window.setTimeout(tick, every);
  }

  function copy(button) {
    var target = document.getElementById(button.getAttribute("data-copy"));
    if (!target) { return; }
    var text = target.textContent.trim();
    var done = function () { button.textContent = "Copied"; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { select(target); });
    } else {
      select(target);
    }
  }

  // Without the clipboard API (plain http from another host): select the text for Ctrl+C.
  function select(node) {
    var range = document.createRange();
    range.selectNodeContents(node);
    var sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
  }

  // <select data-kind-select> shows the fields whose data-kinds lists the chosen kind.
  function kinds(select) {
    var form = select.form;
    function apply() {
      var chosen = select.value;
      form.querySelectorAll("[data-kinds]").forEach(function (el) {
        var on = el.getAttribute("data-kinds").split(" ").indexOf(chosen) >= 0;
        el.hidden = !on;
        el.querySelectorAll("input,select,textarea").forEach(function (i) { i.disabled = !on; });
      });
    }
    select.addEventListener("change", apply);
    apply();
  }

  document.addEventListener("submit", function (ev) {
    var msg = ev.target.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) { ev.preventDefault(); }
  });
  document.addEventListener("click", function (ev) {
    var b = ev.target.closest("button[data-copy]");
    if (b) { ev.preventDefault(); copy(b); }
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-refresh]").forEach(refresh);
    document.querySelectorAll("select[data-kind-select]").forEach(kinds);
  });
})();
