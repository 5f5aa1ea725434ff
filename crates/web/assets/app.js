// portent serve: optional enhancements. Every page works without this file.
// - live sections (data-refresh) re-fetch their page and swap the #live-table element;
// - the port grid opens the clicked cell's page and titles the cell under the pointer
//   (port, status, names, listening; data from /ports/grid.json);
// - the feedback form posts without a reload.
// Nothing here builds markup from strings: new content comes from our own server-rendered,
// escaped pages (parsed with DOMParser, which runs no scripts) or is set with textContent.
"use strict";
(function () {
  function langSuffix(sep) {
    var m = /[?&]lang=(en|de|he)\b/.exec(location.search);
    return m ? sep + "lang=" + m[1] : "";
  }

  var live = document.querySelector("[data-refresh]");
  if (live) {
    var secs = Math.max(2, parseInt(live.getAttribute("data-refresh"), 10) || 5);
    setInterval(function () {
      if (document.hidden) return;
      fetch(location.href, { headers: { "Accept": "text/html" } })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (text) {
          if (!text) return;
          var doc = new DOMParser().parseFromString(text, "text/html");
          var fresh = doc.getElementById("live-table");
          var old = document.getElementById("live-table");
          if (fresh && old) old.replaceWith(document.importNode(fresh, true));
        })
        .catch(function () {});
    }, secs * 1000);
  }

  var img = document.getElementById("grid-img");
  if (img) {
    var tip = document.getElementById("grid-tip");
    var portAt = function (ev) {
      // Content box only: the border is not part of the picture.
      var rect = img.getBoundingClientRect();
      var x = Math.floor((ev.clientX - rect.left - img.clientLeft) * 256 / img.clientWidth);
      var y = Math.floor((ev.clientY - rect.top - img.clientTop) * 256 / img.clientHeight);
      if (x < 0 || y < 0 || x > 255 || y > 255) return null;
      return y * 256 + x;
    };
    // A title for every cell (port, status, names, listening), from /ports/grid.json,
    // fetched the first time the pointer is over the picture.
    var box = img.closest(".gridbox");
    var portWord = (box && box.getAttribute("data-port")) || "Port";
    var words = ((box && box.getAttribute("data-words")) || "").split("|");
    var data = null, asked = false, listening = {};
    var titleOf = function (p) {
      var s = portWord + " " + p;
      if (!data) return s;
      var w = words[parseInt(data.cells.charAt(p), 10)];
      if (w) s += ": " + w;
      if (data.names[p]) s += ", " + data.names[p];
      if (listening[p] && words[4]) s += "; " + words[4];
      return s;
    };
    img.addEventListener("mousemove", function (ev) {
      if (!asked) {
        asked = true;
        fetch("/ports/grid.json", { headers: { "Accept": "application/json" } })
          .then(function (r) { return r.ok ? r.json() : null; })
          .then(function (j) {
            if (!j || typeof j.cells !== "string") return;
            data = j;
            (j.listening || []).forEach(function (p) { listening[p] = true; });
          })
          .catch(function () {});
      }
      var p = portAt(ev);
      var text = p === null ? "" : titleOf(p);
      img.title = text;
      if (tip) tip.textContent = text;
    });
    img.addEventListener("click", function (ev) {
      var p = portAt(ev);
      if (p === null) return;
      ev.preventDefault();
      location.href = "/ports/" + p + langSuffix("?");
    });
  }

  var form = document.getElementById("feedback-form");
  if (form && window.fetch && window.FormData) {
    form.addEventListener("submit", function (ev) {
      var button = ev.submitter;
      if (!button) return;
      ev.preventDefault();
      var data = new URLSearchParams(new FormData(form));
      data.set("answer", button.value);
      fetch(form.action, {
        method: "POST",
        headers: { "Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded" },
        body: data.toString()
      }).then(function (r) {
        return r.json().then(function (j) { return { ok: r.ok, body: j }; });
      }).then(function (res) {
        var thanks = document.getElementById("feedback-thanks");
        if (res.ok) {
          form.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
          thanks.classList.remove("hidden");
        } else {
          thanks.textContent = res.body && res.body.error ? res.body.error : "error";
          thanks.classList.remove("hidden");
        }
      }).catch(function () { form.submit(); });
    });
  }
})();
