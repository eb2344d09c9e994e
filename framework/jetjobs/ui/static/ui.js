// jetjobs UI live updates: a Server-Sent Events stream says "something changed", the page
// fetches itself again and swaps <main id="live">. The stream is closed while the tab is
// hidden (Page Visibility API) or paused, so nothing is polled for nobody.
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (!live) return;
  var toggle = document.getElementById("live-toggle");
  var select = document.getElementById("live-interval");
  var dot = document.getElementById("live-dot");
  var source = null;
  var paused = localStorage.getItem("jetjobs.paused") === "1";
  var interval = localStorage.getItem("jetjobs.interval") || "1";
  var inFlight = false;
  var again = false;

  function markNav() {
    var page = live.getAttribute("data-page");
    var links = document.querySelectorAll("nav a[data-nav]");
    for (var i = 0; i < links.length; i++) {
      var name = links[i].getAttribute("data-nav");
      var on = page === name || (page === "job" && name === "jobs") || (page === "dead_one" && name === "dead") ||
        (page === "workflow_run" && name === "workflows");
      links[i].classList.toggle("current", on);
    }
  }

  function refresh() {
    if (inFlight) { again = true; return; }
    inFlight = true;
    fetch(window.location.href, { headers: { "Accept": "text/html" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html === null) return;
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("live");
        if (!fresh) return;
        live.innerHTML = fresh.innerHTML;
        live.setAttribute("data-updated", String(Date.now()));
        if (window.htmx) window.htmx.process(live);
      })
      .catch(function () {})
      .finally(function () {
        inFlight = false;
        if (again) { again = false; refresh(); }
      });
  }

  function connect() {
    disconnect();
    if (paused || document.hidden || !window.EventSource) return;
    var base = live.getAttribute("data-events");
    var url = base + (base.indexOf("?") < 0 ? "?" : "&") + "interval=" + encodeURIComponent(interval) +
      "&page=" + encodeURIComponent(live.getAttribute("data-page") || "");
    source = new EventSource(url);
    source.addEventListener("hello", function () { dot.classList.add("on"); });
    source.addEventListener("change", refresh);
    source.onerror = function () { dot.classList.remove("on"); };
  }

  function disconnect() {
    if (source) { source.close(); source = null; }
    dot.classList.remove("on");
  }

  function showState() {
    toggle.textContent = paused ? "Resume" : "Pause";
    toggle.setAttribute("aria-pressed", paused ? "true" : "false");
    document.body.classList.toggle("live-paused", paused);
  }

  // An action that keeps the operator on the page (e.g. cancelling a workflow run) answers
  // 204 with HX-Trigger {"jetjobs-flash": message}: show the message and refresh in place.
  document.body.addEventListener("jetjobs-flash", function (e) {
    var flash = document.getElementById("flash");
    if (!flash) {
      flash = document.createElement("p");
      flash.className = "flash";
      flash.id = "flash";
      live.parentNode.insertBefore(flash, live);
    }
    flash.textContent = (e.detail && e.detail.value) || "";
    refresh();
  });

  toggle.addEventListener("click", function () {
    paused = !paused;
    localStorage.setItem("jetjobs.paused", paused ? "1" : "0");
    showState();
    if (paused) { disconnect(); } else { refresh(); connect(); }
  });
  select.value = interval;
  select.addEventListener("change", function () {
    interval = select.value;
    localStorage.setItem("jetjobs.interval", interval);
    connect();
  });
  document.addEventListener("visibilitychange", function () {
    if (document.hidden) { disconnect(); } else if (!paused) { refresh(); connect(); }
  });
  window.addEventListener("pagehide", disconnect);
  markNav();
  showState();
  connect();
})();
