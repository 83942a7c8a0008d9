// Keeps the status page live: the server sends the table's rows, rendered
// by the same template as the page, whenever they change. No framework, no
// build step. The rows come from Go's html/template, which escapes every
// value, so they are inserted as HTML.
"use strict";

(function () {
  const tbody = document.getElementById("machines");
  const summary = document.getElementById("summary");
  const changes = document.getElementById("changes");
  const live = document.getElementById("live");
  const liveText = document.getElementById("live-text");

  function setLive(state, text) {
    live.dataset.state = state;
    liveText.textContent = text;
  }

  function progressByName() {
    const m = new Map();
    for (const tr of tbody.querySelectorAll("tr[data-name]")) {
      m.set(tr.dataset.name, tr.dataset.progress);
    }
    return m;
  }

  // announce tells screen readers what moved, not the whole table.
  function announce(before) {
    const said = [];
    for (const [name, progress] of progressByName()) {
      if (before.get(name) !== progress) {
        said.push(name + ": " + progress);
      }
    }
    if (said.length > 0) {
      changes.textContent = said.join("; ");
    }
  }

  const es = new EventSource("/events");
  es.addEventListener("open", function () {
    setLive("on", "Live: updates appear as machines boot.");
  });
  es.addEventListener("machines", function (e) {
    const d = JSON.parse(e.data);
    const before = progressByName();
    tbody.innerHTML = d.rows;
    if (summary.textContent !== d.summary) {
      summary.textContent = d.summary;
    }
    announce(before);
    setLive("on", "Live: last change at " + new Date().toLocaleTimeString() + ".");
  });
  es.addEventListener("error", function () {
    if (es.readyState === EventSource.CLOSED) {
      setLive("off", "Live updates stopped (logged out or the server restarted): reload the page.");
    } else {
      setLive("off", "Live updates lost; reconnecting…");
    }
  });
})();
