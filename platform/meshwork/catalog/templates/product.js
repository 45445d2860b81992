// The page is static; recompute the freshness badge against the reader's clock when it is opened.
(function () {
  "use strict";
  var el = document.getElementById("freshness");
  if (!el || !el.dataset.published) { return; }
  var age = (Date.now() - Date.parse(el.dataset.published)) / 1000;
  var fresh = age <= Number(el.dataset.window);
  var badge = el.querySelector(".badge");
  badge.textContent = fresh ? "fresh" : "stale";
  badge.className = "badge " + (fresh ? "fresh" : "stale");
  var h = Math.floor(age / 3600), m = Math.floor((age % 3600) / 60);
  el.querySelector(".age").textContent = (h ? h + "h " : "") + m + "m ago (now)";
})();
