/* A version's content by channel and language: one tab per content form, the
   preview of that channel and language beside it. Without JavaScript every
   form and every pane is shown, one under the other. */
(function () {
  "use strict";

  var group = document.getElementById("contents-group");
  if (!group) { return; }
  var preview = document.getElementById("tpl-preview");
  var labels = (document.getElementById("tpl-tab-labels") || {dataset: {}}).dataset;
  var codesNode = document.getElementById("tpl-tab-codes");
  var codes = codesNode ? JSON.parse(codesNode.textContent) : {};
  var storeKey = "tpl-tab:" + window.location.pathname;
  var bar = null;
  var showAll = null;
  var selected = null;

  // A read-only content shows only its channel's fields, as preview.js (loaded
  // first) does for the editable form's select.
  var CHANNEL_FIELDS = window.tplChannelFields.byChannel;
  var ALL_FIELDS = window.tplChannelFields.all;

  function readonlyFieldsShow(form) {
    if (form.querySelector("select[name$='-channel']")) { return; }
    var wanted = CHANNEL_FIELDS[keyOf(form).channel];
    if (!wanted) { return; }
    ALL_FIELDS.forEach(function (name) {
      var row = form.querySelector(".field-" + name);
      if (row) { row.style.display = wanted.indexOf(name) < 0 ? "none" : ""; }
    });
  }

  function forms() {
    return Array.prototype.filter.call(
      group.querySelectorAll(".inline-related"),
      function (form) { return !form.classList.contains("empty-form"); });
  }

  function fieldOf(form, name) {
    var select = form.querySelector("select[name$='-" + name + "']");
    if (select) {
      var option = select.options[select.selectedIndex];
      return {code: select.value, label: option ? option.textContent.trim() : select.value};
    }
    var readonly = form.querySelector(".field-" + name + " .readonly");
    var text = readonly ? readonly.textContent.trim() : "";
    return {code: codes[text] || "", label: text};
  }

  function keyOf(form) {
    var channel = fieldOf(form, "channel");
    var language = fieldOf(form, "language");
    return {
      key: form.id,
      channel: channel.code,
      language: language.code,
      label: (channel.label || "?") + " · " + (language.label || "?"),
      errors: form.querySelector(".errorlist li, .errors") !== null
    };
  }

  // A style rule, not attributes on the panes: the preview redraws them, and
  // a rule holds for every redraw from the moment it is drawn.
  var paneRule = document.createElement("style");
  document.head.appendChild(paneRule);

  function panesShow() {
    if (!preview) { return; }
    var current = selected ? keyOf(document.getElementById(selected)) : null;
    var all = (showAll && showAll.checked) || !current || !current.channel;
    paneRule.textContent = all ? "" :
      "#tpl-panes .tpl-pane:not([data-channel='" + CSS.escape(current.channel) +
      "'][data-language='" + CSS.escape(current.language) + "']) { display: none; }";
  }

  function select(key, focus) {
    selected = key;
    try { window.sessionStorage.setItem(storeKey, key); } catch (e) { /* private mode */ }
    forms().forEach(function (form) { form.hidden = form.id !== key; });
    bar.querySelectorAll("[role=tab]").forEach(function (tab) {
      var on = tab.dataset.key === key;
      tab.setAttribute("aria-selected", on ? "true" : "false");
      tab.tabIndex = on ? 0 : -1;
      if (on && focus) { tab.focus(); }
    });
    panesShow();
  }

  function build() {
    var items = forms().map(keyOf);
    if (!bar) {
      bar = document.createElement("div");
      bar.className = "tpl-tabs";
      bar.id = "tpl-tabs";
      bar.setAttribute("role", "tablist");
      bar.setAttribute("aria-label", labels.tabs || "");
      var heading = group.querySelector("fieldset > h2");
      (heading ? heading.parentNode : group).insertBefore(bar, heading ? heading.nextSibling : group.firstChild);
      bar.addEventListener("keydown", function (event) {
        var tabs = Array.prototype.slice.call(bar.querySelectorAll("[role=tab]"));
        var at = tabs.indexOf(document.activeElement);
        if (at < 0) { return; }
        var rtl = document.documentElement.dir === "rtl";
        var step = {ArrowRight: rtl ? -1 : 1, ArrowLeft: rtl ? 1 : -1, Home: -at, End: tabs.length - 1 - at}[event.key];
        if (step === undefined) { return; }
        event.preventDefault();
        var next = tabs[(at + step + tabs.length) % tabs.length];
        select(next.dataset.key, true);
      });
    }
    bar.replaceChildren();
    items.forEach(function (item) {
      var tab = document.createElement("button");
      tab.type = "button";
      tab.className = "tpl-tab" + (item.errors ? " tpl-tab-error" : "");
      tab.id = "tpl-tab-" + (item.channel || item.key) + "-" + (item.language || "");
      tab.setAttribute("role", "tab");
      tab.setAttribute("aria-controls", item.key);
      tab.dataset.key = item.key;
      tab.dataset.channel = item.channel;
      tab.dataset.language = item.language;
      tab.textContent = item.label;
      if (item.errors) {
        var mark = document.createElement("span");
        mark.className = "tpl-tab-mark";
        mark.textContent = " ⚠";
        mark.setAttribute("aria-label", labels.error || "!");
        tab.appendChild(mark);
      }
      tab.addEventListener("click", function () { select(item.key, false); });
      bar.appendChild(tab);
    });
    forms().forEach(function (form) {
      form.setAttribute("role", "tabpanel");
      readonlyFieldsShow(form);
    });
    var keys = items.map(function (item) { return item.key; });
    var stored = null;
    try { stored = window.sessionStorage.getItem(storeKey); } catch (e) { /* private mode */ }
    var withErrors = items.filter(function (item) { return item.errors; });
    var chosen = withErrors.length ? withErrors[0].key
      : (keys.indexOf(selected) >= 0 ? selected
        : (keys.indexOf(stored) >= 0 ? stored : keys[0]));
    if (chosen) { select(chosen, false); }
  }

  function workbench() {
    if (!preview) { return; }
    var bench = document.createElement("div");
    bench.className = "tpl-workbench";
    bench.id = "tpl-workbench";
    group.parentNode.insertBefore(bench, group);
    bench.appendChild(group);
    bench.appendChild(preview);
    var label = document.createElement("label");
    label.className = "tpl-show-all";
    showAll = document.createElement("input");
    showAll.type = "checkbox";
    showAll.id = "tpl-show-all";
    label.appendChild(showAll);
    label.appendChild(document.createTextNode(" " + (labels.all || "")));
    preview.insertBefore(label, preview.querySelector(".tpl-panes"));
    showAll.addEventListener("change", panesShow);
  }

  workbench();
  build();
  document.addEventListener("formset:added", function (event) {
    build();
    var form = event.target && event.target.closest ? event.target.closest(".inline-related") : null;
    if (form) { select(form.id, false); }
  });
  group.addEventListener("change", function (event) {
    if (event.target.name && /-(channel|language)$/.test(event.target.name)) { build(); panesShow(); }
  });
}());
