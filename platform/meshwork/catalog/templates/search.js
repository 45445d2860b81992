// Client-side search over the embedded index: every word must appear in the product's text
// (name, domain, description, tags, owner, column names); products whose name matches come first.
(function () {
  "use strict";
  var docs = JSON.parse(document.getElementById("search-index").textContent);
  var input = document.getElementById("q");
  var count = document.getElementById("result-count");
  var none = document.getElementById("no-results");
  var body = document.getElementById("product-rows");
  var rows = {};
  Array.prototype.forEach.call(body.querySelectorAll("tr[data-key]"), function (tr) { rows[tr.dataset.key] = tr; });

  function apply(query) {
    var words = query.toLowerCase().split(/\s+/).filter(Boolean);
    var hits = [];
    docs.forEach(function (doc, i) {
      var ok = words.every(function (w) { return doc.text.indexOf(w) >= 0; });
      rows[doc.key].hidden = !ok;
      if (ok) {
        var score = words.filter(function (w) { return doc.name.indexOf(w) >= 0; }).length;
        hits.push({ key: doc.key, score: score, i: i });
      }
    });
    hits.sort(function (a, b) { return b.score - a.score || a.i - b.i; });
    hits.forEach(function (h) { body.appendChild(rows[h.key]); });
    count.textContent = words.length ? hits.length + " of " + docs.length + " products match" : docs.length + " products";
    none.style.display = hits.length ? "none" : "block";
    document.body.dataset.results = String(hits.length);
  }

  function fromLocation() {
    var params = new URLSearchParams(location.search);
    var hash = new URLSearchParams(location.hash.replace(/^#/, ""));
    return params.get("q") || hash.get("q") || "";
  }

  input.value = fromLocation();
  apply(input.value);
  input.addEventListener("input", function () {
    apply(input.value);
    try { history.replaceState(null, "", "#q=" + encodeURIComponent(input.value)); } catch (e) { /* file: URLs */ }
  });
  window.addEventListener("hashchange", function () { input.value = fromLocation(); apply(input.value); });
})();
