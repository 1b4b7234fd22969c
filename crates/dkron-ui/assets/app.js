// dkron-rs web UI: the theme toggle, the live schedule explanation, and the live output of
// running executions. Pages work without this script; it only adds to them. No inline handlers: the
// page's Content-Security-Policy allows scripts from this file only.
(function () {
  "use strict";
  var KEY = "dkron-theme";
  var root = document.documentElement;

  function stored() {
    try { return window.localStorage.getItem(KEY); } catch (e) { return null; }
  }
  function preferred() {
    var s = stored();
    if (s === "light" || s === "dark") { return s; }
    return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }
  function apply(theme) {
    root.setAttribute("data-theme", theme);
    var button = document.querySelector('[data-test="theme-toggle"]');
    if (button) {
      button.setAttribute("aria-pressed", theme === "dark" ? "true" : "false");
      button.textContent = theme === "dark" ? "Light theme" : "Dark theme";
    }
  }
  // Before the body is painted: no flash of the wrong theme.
  root.setAttribute("data-theme", preferred());

  function setupTheme() {
    apply(preferred());
    var button = document.querySelector('[data-test="theme-toggle"]');
    if (!button) { return; }
    button.addEventListener("click", function () {
      var next = root.getAttribute("data-theme") === "dark" ? "light" : "dark";
      try { window.localStorage.setItem(KEY, next); } catch (e) { /* private mode: not kept */ }
      apply(next);
    });
  }

  function setupSchedulePreview() {
    var preview = document.querySelector('[data-test="schedule-preview"]');
    var form = document.querySelector('[data-test="job-form"]');
    if (!preview || !form) { return; }
    var schedule = form.querySelector('[name="schedule"]');
    var zone = form.querySelector('[name="timezone"]');
    var url = preview.getAttribute("data-url");
    var timer = null;
    var asked = 0;
    function show(answer) {
      preview.textContent = "";
      var line = document.createElement("p");
      if (answer.error) {
        line.className = "preview-error";
        line.textContent = answer.error;
        preview.appendChild(line);
        return;
      }
      line.textContent = answer.description;
      preview.appendChild(line);
      if (answer.next && answer.next.length) {
        var list = document.createElement("ul");
        answer.next.forEach(function (fire) {
          var item = document.createElement("li");
          item.textContent = fire;
          list.appendChild(item);
        });
        preview.appendChild(list);
      }
    }
    function ask() {
      var query = new URLSearchParams({ schedule: schedule.value, timezone: zone ? zone.value : "" });
      var mine = ++asked;
      fetch(url + "?" + query.toString(), { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (answer) { if (mine === asked) { show(answer); } })
        .catch(function () { /* the server-rendered text stays */ });
    }
    function later() {
      if (timer) { window.clearTimeout(timer); }
      timer = window.setTimeout(ask, 250);
    }
    schedule.addEventListener("input", later);
    if (zone) { zone.addEventListener("input", later); }
  }

  // A running execution's output follows its event stream (server-sent events, same origin);
  // when every followed execution has ended, the executions section is fetched again (status,
  // duration, stored output) and any execution still running is followed. Right after "Run
  // now" the execution may not be recorded yet: the section is fetched a few times until it is.
  function setupLiveExecutions() {
    var section = document.querySelector("[data-live]");
    if (!section || !window.fetch || !window.DOMParser || !window.EventSource) { return; }
    var grace = /[?&]done=run\b/.test(window.location.search) ? 5 : 0;
    function refresh() {
      fetch(window.location.href, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (text) {
          var fresh = new DOMParser().parseFromString(text, "text/html").querySelector("[data-live]");
          if (fresh) {
            section.replaceChildren.apply(section, Array.prototype.slice.call(fresh.childNodes));
          }
          follow();
        })
        .catch(function () { window.setTimeout(refresh, 5000); });
    }
    // Each stream holds a connection, and a browser opens at most 6 to one server over
    // HTTP/1.1: follow a few; the others show what the node read last until a refresh.
    var MAX_FOLLOWED = 3;
    function follow() {
      var outputs = Array.prototype.slice.call(section.querySelectorAll("pre[data-stream]"), 0, MAX_FOLLOWED);
      if (outputs.length === 0) {
        if (grace > 0) { grace -= 1; window.setTimeout(refresh, 2000); }
        return;
      }
      var open = outputs.length;
      function ended(source) {
        if (source.dkronEnded) { return; }
        source.dkronEnded = true;
        source.close();
        open -= 1;
        if (open === 0) { window.setTimeout(refresh, 500); }
      }
      outputs.forEach(function (pre) {
        var source = new EventSource(pre.getAttribute("data-stream"));
        // The first output of each connection holds everything so far: it replaces the text.
        var replace = true;
        source.addEventListener("open", function () { replace = true; });
        source.addEventListener("output", function (event) {
          if (replace) { pre.textContent = ""; replace = false; }
          var atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
          pre.appendChild(document.createTextNode(event.data));
          if (atBottom) { pre.scrollTop = pre.scrollHeight; }
        });
        source.addEventListener("lagged", function () {
          pre.appendChild(document.createTextNode("\n[some output was skipped: the page read too slowly]\n"));
        });
        source.addEventListener("end", function () { ended(source); });
        source.addEventListener("interrupted", function () { ended(source); });
        // A refused or broken stream (404, 503, the server stopped): the browser gives up on it.
        source.addEventListener("error", function () {
          if (source.readyState === EventSource.CLOSED) { ended(source); }
        });
      });
    }
    follow();
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupTheme();
    setupSchedulePreview();
    setupLiveExecutions();
  });
})();
