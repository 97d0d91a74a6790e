// The status page's behaviour: the filter, ticking ages, and a refresh every poll interval that swaps
// <main> for the newly fetched one (no full reload, so no flash), keeping the filter and unfolded traces.
// Served inline and allowed by its sha256 in the Content-Security-Policy; it never builds HTML from text.
(function () {
  "use strict";
  var refreshMs = Number(document.body.dataset.refreshMs) || 5000;
  var filter = document.getElementById("filter");
  var problem = document.getElementById("refresh-problem");
  var skewMs = 0; // server clock minus browser clock, from the Date header of each refresh

  function human(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    if (seconds < 60) return seconds + " s";
    var minutes = Math.floor(seconds / 60);
    seconds %= 60;
    if (minutes < 60) return minutes + " min" + (seconds ? " " + seconds + " s" : "");
    var hours = Math.floor(minutes / 60);
    minutes %= 60;
    if (hours < 24) return hours + " h" + (minutes ? " " + minutes + " min" : "");
    var days = Math.floor(hours / 24);
    hours %= 24;
    return days + " d" + (hours ? " " + hours + " h" : "");
  }

  function tick() {
    var now = Date.now() + skewMs;
    document.querySelectorAll("[data-since]").forEach(function (element) {
      var since = Date.parse(element.dataset.since);
      if (!isNaN(since)) {
        element.textContent =
          (element.dataset.prefix || "") + human((now - since) / 1000) + (element.dataset.suffix || "");
      }
    });
  }

  function applyFilter() {
    var words = filter.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    var rows = document.querySelectorAll("tbody.connector");
    var shown = 0;
    rows.forEach(function (row) {
      var text = row.textContent.toLowerCase(); // name, type, worker, states, causes: what the row says
      var match = words.every(function (word) {
        return text.indexOf(word) !== -1;
      });
      row.hidden = !match;
      if (match) shown += 1;
    });
    var count = document.getElementById("match-count");
    if (count) count.textContent = words.length ? "; " + shown + " match the filter" : "";
    var none = document.getElementById("no-match");
    if (none) none.hidden = !(words.length && rows.length && shown === 0);
  }

  function openTraces() {
    var keys = new Set();
    document.querySelectorAll("details[open]").forEach(function (details) {
      keys.add(details.dataset.key);
    });
    return keys;
  }

  function showProblem(text) {
    problem.textContent = text;
    problem.hidden = !text;
  }

  function swap(html, response) {
    var fresh = new DOMParser().parseFromString(html, "text/html");
    var main = fresh.getElementById("main");
    if (!main) throw new Error("the answer has no status in it");
    var open = openTraces();
    main.querySelectorAll("details").forEach(function (details) {
      if (open.has(details.dataset.key)) details.open = true;
    });
    document.getElementById("main").replaceWith(document.adoptNode(main));
    document.title = fresh.title;
    var date = Date.parse(response.headers.get("Date") || "");
    if (!isNaN(date)) {
      var skew = date - Date.now();
      skewMs = Math.abs(skew) > 2000 ? skew : 0; // the header has whole seconds: ignore less than that
    }
    applyFilter();
    tick();
  }

  function refresh() {
    fetch(window.location.pathname, { cache: "no-store", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text().then(function (html) {
          swap(html, response);
        });
      })
      .then(
        function () {
          showProblem("");
        },
        function (error) {
          var checked = document.getElementById("snapshot");
          var when = checked ? " from " + checked.dataset.checkedAt : "";
          showProblem("Could not refresh (" + error.message + "): this is the status" + when + ".");
        }
      )
      .then(function () {
        window.setTimeout(refresh, refreshMs);
      });
  }

  function filterFromAddress() {
    var fromLink = new URLSearchParams(window.location.hash.slice(1)).get("filter");
    if (fromLink !== null) {
      filter.value = fromLink;
      applyFilter();
    }
  }

  window.addEventListener("hashchange", filterFromAddress);
  filterFromAddress();
  filter.addEventListener("input", function () {
    applyFilter();
    // the filter rides in the address, so a link to the page can carry it
    var place = filter.value ? "#filter=" + encodeURIComponent(filter.value) : window.location.pathname;
    window.history.replaceState(null, "", place);
  });
  applyFilter();
  tick();
  window.setInterval(tick, 1000);
  window.setTimeout(refresh, refreshMs);
})();
