// switchyard key holders' page: asks /v1/usage and /stats/api/requests with the key in a
// header (never in the URL) and writes the answers as text (no HTML from the server's data).
"use strict";
(function () {
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    if (cls) { e.className = cls; }
    return e;
  }
  function row(tbody, cells) {
    var tr = document.createElement("tr");
    cells.forEach(function (c, i) { tr.appendChild(el("td", c, i > 0 && typeof c !== "string" ? "num" : "")); });
    tbody.appendChild(tr);
  }
  function money(v) { return v === null || v === undefined ? "no limit" : "$" + v; }
  function when(v) { return v ? new Date(v).toISOString().replace("T", " ").slice(0, 19) + " UTC" : ""; }
  function ask(path, key) {
    return fetch(path, { headers: { "x-api-key": key, accept: "application/json" }, cache: "no-store" })
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (body) {
          if (!r.ok) {
            var msg = (body && body.error && body.error.message) || ("status " + r.status);
            throw new Error(msg);
          }
          return body;
        });
      });
  }
  function show(u, recent) {
    document.getElementById("stats-name").textContent = "Key " + u.key.name + (u.key.expires_at ? " (expires " + u.key.expires_at + ")" : "");
    var cards = document.getElementById("stats-cards");
    cards.replaceChildren();
    [["requests in all", u.requests], ["input tokens", u.input_tokens], ["output tokens", u.output_tokens],
     ["cost in all", "$" + u.cost_usd], ["requests today", u.today.usage.requests], ["cost today", "$" + u.today.usage.cost_usd]]
      .forEach(function (c) {
        var card = el("div", null, "card");
        card.appendChild(el("div", c[1], "figure"));
        card.appendChild(el("div", c[0], "label"));
        cards.appendChild(card);
      });
    var limits = document.querySelector("#stats-limits tbody");
    limits.replaceChildren();
    [["daily cost", "daily_cost_usd", u.limits.daily_resets_at], ["weekly cost", "weekly_cost_usd", u.limits.weekly_resets_at],
     ["total cost", "total_cost_usd", ""]].forEach(function (l) {
      row(limits, [l[0], money(u.spent[l[1]]), money(u.limits[l[1]]), u.remaining[l[1]] === null ? "—" : "$" + u.remaining[l[1]], l[2]]);
    });
    if (u.window) {
      ["requests", "tokens"].forEach(function (f) {
        if (u.window.limits[f] !== null) {
          row(limits, ["per " + u.window.minutes + " min: " + f, u.window[f], u.window.limits[f], u.window.remaining[f], u.window.resets_at || ""]);
        }
      });
      if (u.window.limits.cost_usd !== null) {
        row(limits, ["per " + u.window.minutes + " min: cost", "$" + u.window.cost_usd, money(u.window.limits.cost_usd), "$" + u.window.remaining.cost_usd, u.window.resets_at || ""]);
      }
    }
    if (u.limits.concurrency) { row(limits, ["concurrent requests", "", u.limits.concurrency, "", ""]); }
    var models = document.querySelector("#stats-models tbody");
    models.replaceChildren();
    recent.models.forEach(function (m) { row(models, [m.model, m.requests, m.tokens, m.cost_usd]); });
    if (!recent.models.length) { row(models, ["no request yet", "", "", ""]); }
    var reqs = document.querySelector("#stats-recent tbody");
    reqs.replaceChildren();
    recent.requests.forEach(function (r) { row(reqs, [when(r.at), r.model, r.input_tokens, r.output_tokens, r.cost_usd]); });
    document.getElementById("stats-result").hidden = false;
  }
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("stats-form");
    var error = document.getElementById("stats-error");
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var key = document.getElementById("stats-key").value.trim();
      error.hidden = true;
      Promise.all([ask("/v1/usage", key), ask("/stats/api/requests", key)])
        .then(function (both) { show(both[0], both[1]); })
        .catch(function (e) {
          document.getElementById("stats-result").hidden = true;
          error.textContent = "Error: " + e.message;
          error.hidden = false;
        });
    });
  });
})();
