// Keyboard shortcuts of the labelling page (a static file: the CSP forbids inline script).
// 1-9 pick an option of the current question (the one holding the focus, else the first
// unanswered one), y/n answer the yes/no question, Enter submits, s skips, ? shows the keys.
(function () {
  "use strict";
  var form = document.getElementById("label-form");
  if (!form) return;
  var skip = document.getElementById("skip-form");
  var help = document.getElementById("help");
  var fields = Array.prototype.slice.call(form.querySelectorAll("fieldset.field"));

  function answered(fs) {
    return fs.querySelector("input[type=radio]:checked") !== null;
  }
  function choiceFields() {
    return fields.filter(function (fs) { return fs.querySelector("input[type=radio]") !== null; });
  }
  // current is the question keys answer: the one holding the focus, else the first
  // unanswered one; boolean questions only (y/n) or all others (digits).
  function current(boolean) {
    var active = document.activeElement && document.activeElement.closest ? document.activeElement.closest("fieldset.field") : null;
    var list = choiceFields().filter(function (fs) { return (fs.dataset.kind === "boolean") === boolean; });
    if (active && list.indexOf(active) >= 0) return active;
    for (var i = 0; i < list.length; i++) if (!answered(list[i])) return list[i];
    return list[0] || null;
  }
  // mark outlines the question in focus, else the first unanswered one.
  function mark() {
    var c = document.activeElement && document.activeElement.closest ? document.activeElement.closest("fieldset.field") : null;
    var open = choiceFields().filter(function (fs) { return !answered(fs); });
    if (!c) c = open[0] || null;
    fields.forEach(function (fs) { fs.classList.toggle("active", fs === c); });
  }
  function pick(fs, value, index) {
    var radios = fs.querySelectorAll("input[type=radio]");
    for (var i = 0; i < radios.length; i++) {
      if ((value !== null && radios[i].value === value) || (value === null && i === index)) {
        radios[i].checked = true;
        radios[i].focus();
        mark();
        return true;
      }
    }
    return false;
  }
  function submit(f) {
    if (f.requestSubmit) f.requestSubmit(); else f.submit();
  }
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    var t = e.target;
    var typing = t && (t.tagName === "TEXTAREA" || (t.tagName === "INPUT" && t.type !== "radio"));
    if (typing) return; // keys type text there; Enter in a number input submits by itself
    var k = e.key;
    if (k >= "1" && k <= "9") {
      var fs = current(false);
      if (fs && pick(fs, null, Number(k) - 1)) e.preventDefault();
    } else if (k === "y" || k === "n") {
      var b = current(true);
      if (b && pick(b, k === "y" ? "true" : "false", 0)) e.preventDefault();
    } else if (k === "Enter") {
      e.preventDefault();
      submit(form);
    } else if (k === "s") {
      e.preventDefault();
      if (skip) submit(skip);
    } else if (k === "?") {
      e.preventDefault();
      if (help) help.hidden = !help.hidden;
    }
  });
  form.addEventListener("change", mark);
  mark();
  document.body.dataset.keys = "on"; // the shortcuts are live (tests wait for this)
})();
