/* Live preview of a template draft: posts the form, redraws the panes. */
(function () {
  "use strict";

  var CHANNEL_FIELDS = {
    email: ["subject", "html", "text"],
    sms: ["sms_text"],
    letter: ["letter_html", "letter_css"]
  };
  var ALL_FIELDS = ["subject", "html", "text", "sms_text", "letter_html", "letter_css"];
  // Shared with version_tabs.js, which shows a read-only content the same way.
  window.tplChannelFields = {byChannel: CHANNEL_FIELDS, all: ALL_FIELDS};

  var root = document.getElementById("tpl-preview");
  if (!root) { return; }
  var form = document.getElementById("templateversion_form");
  var label = function (name) { return root.dataset["label" + name] || name; };
  var pdfUrls = [];
  var timer = null;
  var sequence = 0;

  function csrfToken() {
    var input = form.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function element(tag, attributes, text) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (key) {
      node.setAttribute(key, attributes[key]);
    });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function showChannelFields(inline) {
    var select = inline.querySelector("select[name$='-channel']");
    if (!select) { return; }
    var wanted = CHANNEL_FIELDS[select.value] || ALL_FIELDS;
    ALL_FIELDS.forEach(function (name) {
      var row = inline.querySelector(".field-" + name);
      if (row) { row.style.display = wanted.indexOf(name) >= 0 ? "" : "none"; }
    });
  }

  function showAllChannelFields() {
    document.querySelectorAll(".inline-related").forEach(showChannelFields);
  }

  function pdfLink(pane) {
    var bytes = atob(pane.pdf);
    var buffer = new Uint8Array(bytes.length);
    for (var i = 0; i < bytes.length; i += 1) { buffer[i] = bytes.charCodeAt(i); }
    var url = URL.createObjectURL(new Blob([buffer], {type: "application/pdf"}));
    pdfUrls.push(url);
    var link = element("a", {href: url, target: "_blank", rel: "noopener", "class": "tpl-pdf-link"},
      label("Pdf") + " (" + pane.pages + " " + label("Pages") + ")");
    link.dataset.bytes = String(buffer.length);
    return link;
  }

  function drawPane(pane) {
    var id = "pane-" + pane.channel + "-" + pane.language;
    var box = element("section", {id: id, "class": "tpl-pane tpl-pane-" + pane.channel,
      "data-channel": pane.channel, "data-language": pane.language,
      dir: pane.language === "ar" ? "rtl" : "ltr"});
    box.appendChild(element("h3", {}, pane.label || (pane.channel.toUpperCase() + " · " + pane.language)));
    if (!pane.ok) {
      box.appendChild(element("p", {"class": "errornote tpl-pane-error"}, pane.error));
      return box;
    }
    if (pane.channel === "email") {
      box.appendChild(element("p", {"class": "tpl-subject"}, label("Subject") + ": " + pane.subject));
      var frame = element("iframe", {sandbox: "", "class": "tpl-frame", title: id, referrerpolicy: "no-referrer"});
      frame.srcdoc = pane.html;
      box.appendChild(frame);
      box.appendChild(element("h4", {}, label("Text")));
      box.appendChild(element("pre", {"class": "tpl-text"}, pane.text));
    } else if (pane.channel === "sms") {
      box.appendChild(element("pre", {"class": "tpl-sms"}, pane.text));
      var facts = label("Encoding") + ": " + pane.sms.encoding + " · " +
        label("Segments") + ": " + pane.sms.segments + " · " +
        label("Characters") + ": " + pane.sms.characters;
      box.appendChild(element("p", {"class": "tpl-sms-facts"}, facts));
      if (pane.sms.over_limit) {
        box.appendChild(element("p", {"class": "warning tpl-sms-warning"},
          label("Over") + " (" + pane.sms.max_segments + ")"));
      }
    } else if (pane.channel === "letter") {
      box.appendChild(pdfLink(pane));
      var letter = element("iframe", {sandbox: "", "class": "tpl-frame tpl-letter", title: id, referrerpolicy: "no-referrer"});
      letter.srcdoc = pane.html;
      box.appendChild(letter);
      if (pane.refused && pane.refused.length) {
        box.appendChild(element("p", {"class": "warning tpl-refused"},
          label("Refused") + ": " + pane.refused.join(", ")));
      }
    }
    return box;
  }

  function fillList(list, items) {
    list.replaceChildren();
    items.forEach(function (item) { list.appendChild(element("li", {}, item)); });
  }

  function draw(result) {
    pdfUrls.forEach(function (url) { URL.revokeObjectURL(url); });
    pdfUrls = [];
    var panes = document.getElementById("tpl-panes");
    panes.replaceChildren();
    result.panes.forEach(function (pane) { panes.appendChild(drawPane(pane)); });
    fillList(document.getElementById("tpl-preview-errors"), result.errors);
    fillList(document.getElementById("tpl-preview-warnings"), result.warnings);
  }

  function refresh() {
    var status = document.getElementById("tpl-preview-status");
    var mine = ++sequence;
    status.textContent = label("Updating");
    var editable = root.dataset.editable === "1";
    var request = editable
      ? fetch(root.dataset.previewUrl, {method: "POST", body: new FormData(form),
          credentials: "same-origin", headers: {"X-CSRFToken": csrfToken()}})
      : fetch(root.dataset.previewUrl, {credentials: "same-origin"});
    request.then(function (response) {
      if (!response.ok) { throw new Error(response.status + " " + response.statusText); }
      return response.json();
    }).then(function (result) {
      if (mine !== sequence) { return; }
      draw(result);
      status.textContent = label("Updated");
      root.dataset.sequence = String(mine);
    }).catch(function (error) {
      if (mine === sequence) { status.textContent = label("Failed") + ": " + error.message; }
    });
  }

  function schedule() {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 400);
  }

  function sendTest() {
    var result = document.getElementById("tpl-send-result");
    result.textContent = label("Updating");
    fetch(root.dataset.sendUrl, {method: "POST", body: new FormData(form),
      credentials: "same-origin", headers: {"X-CSRFToken": csrfToken()}})
      .then(function (response) { return response.json(); })
      .then(function (answer) {
        result.textContent = answer.ok ? answer.message : answer.error;
        result.className = answer.ok ? "tpl-sent" : "errornote";
      })
      .catch(function (error) { result.textContent = error.message; });
  }

  // Save is never dropped silently: the live preview stops redrawing (no
  // layout shift under the pointer), a second click cannot send twice, and
  // the buttons show that the save is on its way. They are disabled only
  // after the submit event, so the clicked button's name is still sent.
  var submitting = false;
  function saving(event) {
    if (submitting) { event.preventDefault(); return; }
    submitting = true;
    window.clearTimeout(timer);
    sequence += 1;
    var status = document.getElementById("tpl-preview-status");
    if (status) { status.textContent = label("Saving"); }
    window.setTimeout(function () {
      form.querySelectorAll("input[type=submit], button[type=submit]").forEach(function (button) {
        button.disabled = true;
        button.setAttribute("aria-busy", "true");
        button.classList.add("tpl-busy");
      });
    }, 0);
  }
  window.addEventListener("pageshow", function () {
    // Back to the page from the browser's cache: the buttons work again.
    submitting = false;
    if (!form) { return; }
    form.querySelectorAll(".tpl-busy").forEach(function (button) {
      button.disabled = false;
      button.removeAttribute("aria-busy");
      button.classList.remove("tpl-busy");
    });
  });

  if (form) {
    form.addEventListener("submit", saving);
    form.addEventListener("input", schedule);
    form.addEventListener("change", function (event) {
      if (event.target.name && /-channel$/.test(event.target.name)) { showAllChannelFields(); }
      schedule();
    });
    document.addEventListener("formset:added", function () { showAllChannelFields(); });
  }
  var sendButton = document.getElementById("tpl-send-test");
  if (sendButton) { sendButton.addEventListener("click", sendTest); }
  showAllChannelFields();
  refresh();
}());
